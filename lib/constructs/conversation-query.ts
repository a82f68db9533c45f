import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { type FunctionDefaults, NodeFunction } from './node-function.js';

export interface ConversationQueryProps {
  readonly defaults: FunctionDefaults;
  readonly entry: string;
  readonly table: ITable;
}

/** The read side behind the IAM-authorized query routes: read-only access to the table. */
export class ConversationQuery extends Construct {
  public readonly handler: NodeFunction;

  constructor(scope: Construct, id: string, props: ConversationQueryProps) {
    super(scope, id);
    this.handler = new NodeFunction(this, 'Query', {
      defaults: props.defaults,
      entry: props.entry,
      description: 'Answers the conversation and agent-metrics query routes (IAM-authorized)',
    }).bindTable(props.table, ['dynamodb:GetItem', 'dynamodb:Query']);
  }
}
