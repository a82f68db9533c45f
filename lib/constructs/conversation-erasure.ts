import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { type ErasureSettings, erasureEnv } from '#functions/config.js';
import { type FunctionDefaults, NodeFunction, type TableAction } from './node-function.js';

export interface ConversationErasureProps {
  readonly defaults: FunctionDefaults;
  readonly entry: string;
  readonly table: ITable;
  /** The caller lookup key (the processor hashes phone numbers under it). */
  readonly callerKeySecret: ISecret;
  /** Archived recordings: an erased conversation's is deleted. */
  readonly audioBucket: IBucket;
  readonly settings: ErasureSettings;
}

/**
 * What erasure does on the table: read the record, tombstone and scopes (GetItem, Query), delete the
 * record conditioned on its `rev` or check its absence (DeleteItem, ConditionCheckItem), correct the
 * aggregates (UpdateItem), put tombstones, the conversation's carrying `Conversation Erased` for the change stream (PutItem).
 */
export const ERASURE_TABLE_ACTIONS: readonly TableAction[] = [
  'dynamodb:GetItem',
  'dynamodb:Query',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:ConditionCheckItem',
];

/**
 * The IAM-authorized erasure routes (`DELETE /conversations/{id}`, `POST /erasures`): a function of
 * their own, so that the query function keeps read-only access to the table.
 */
export class ConversationErasure extends Construct {
  public readonly handler: NodeFunction;

  constructor(scope: Construct, id: string, props: ConversationErasureProps) {
    super(scope, id);
    this.handler = new NodeFunction(this, 'Erasure', {
      defaults: props.defaults,
      entry: props.entry,
      description: 'Erases conversations by id or by caller phone number (IAM-authorized)',
      timeout: undefined,
    })
      .bindTable(props.table, ERASURE_TABLE_ACTIONS)
      .bindSecret('CALLER_KEY_SECRET_ARN', props.callerKeySecret)
      .bindAudioBucket(props.audioBucket, ['s3:DeleteObject'])
      .setSettings(erasureEnv(props.settings));
  }
}
