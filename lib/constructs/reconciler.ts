import { Duration } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { type ReconcilerSettings, reconcilerEnv, requestBudgetEnv, type ThreeToneClientConfig, threeToneClientEnv } from '#functions/config.js';
import { type FunctionDefaults, NodeFunction } from './node-function.js';

export interface ReconcilerProps {
  readonly defaults: FunctionDefaults;
  readonly entry: string;
  readonly table: ITable;
  /** Repairs are queued here, for the processor (one code path for every change). */
  readonly queue: IQueue;
  readonly apiKeySecret: ISecret;
  /** @default Duration.minutes(15) */
  readonly every?: Duration;
  readonly threeTone: ThreeToneClientConfig;
  readonly settings: ReconcilerSettings;
}

/**
 * On a schedule: lists recent conversations from ThreeTone and queues a repair for any the table
 * missed (a webhook never arrived, or its processing was dead-lettered). It publishes nothing and
 * deletes nothing: every committed change's events are published from the table's change stream
 * (OutboxPublisher, docs/decisions.md D30), so there is no outbox left to sweep.
 */
export class Reconciler extends Construct {
  public readonly handler: NodeFunction;
  public readonly schedule: Rule;

  constructor(scope: Construct, id: string, props: ReconcilerProps) {
    super(scope, id);
    const every = props.every ?? Duration.minutes(15);

    this.handler = new NodeFunction(this, 'Reconciler', {
      defaults: props.defaults,
      entry: props.entry,
      description: 'Repairs conversations missed by the webhooks (queues a synthetic end for the processor)',
      // Finishes well before the next run starts.
      timeout: Duration.seconds(Math.min(300, every.toSeconds())),
      // The next scheduled run does the same work; a retry would only add calls against ThreeTone's quota.
      retryAttempts: 0,
    })
      // GetItem: a conversation's record, and the budget's block; UpdateItem/ConditionCheckItem (in
      // one TransactWriteItems) and PutItem: the shared ThreeTone request budget. No Query, no
      // DeleteItem, no bus: the outbox sweep is gone.
      .bindTable(props.table, ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:PutItem', 'dynamodb:ConditionCheckItem'])
      .bindQueue(props.queue, ['sqs:SendMessage'])
      .bindSecret('THREETONE_API_KEY_SECRET_ARN', props.apiKeySecret)
      .setSettings(threeToneClientEnv(props.threeTone))
      .setSettings(requestBudgetEnv(props.settings.budget))
      .setSettings(reconcilerEnv(props.settings));

    this.schedule = new Rule(this, 'Schedule', {
      description: 'Runs the ThreeTone reconciler',
      schedule: Schedule.rate(every),
      targets: [new LambdaFunction(this.handler.function, { retryAttempts: 0 })],
    });
  }
}
