import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { type FunctionDefaults, NodeFunction } from './node-function.js';

export interface ConversationQueryProps {
  readonly defaults: FunctionDefaults;
  readonly entry: string;
  readonly table: ITable;
  /** Archived recordings: the function presigns GetObject URLs (so it needs s3:GetObject itself). */
  readonly audioBucket: IBucket;
}

/** The read side behind the IAM-authorized query routes: read-only access to the table and the recordings. */
export class ConversationQuery extends Construct {
  public readonly handler: NodeFunction;

  constructor(scope: Construct, id: string, props: ConversationQueryProps) {
    super(scope, id);
    this.handler = new NodeFunction(this, 'Query', {
      defaults: props.defaults,
      entry: props.entry,
      description: 'Answers the conversation and agent-metrics query routes (IAM-authorized)',
    })
      .bindTable(props.table, ['dynamodb:GetItem', 'dynamodb:Query'])
      .bindAudioBucket(props.audioBucket, ['s3:GetObject']);
  }
}
