import { Duration } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { type IEventBus, Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { type ProcessorSettings, processorEnv, requestBudgetEnv, type ThreeToneClientConfig, threeToneClientEnv } from '#functions/config.js';
import { type FunctionDefaults, NodeFunction } from './node-function.js';

export interface ConversationEnricherProps {
  readonly defaults: FunctionDefaults;
  readonly entry: string;
  readonly table: ITable;
  readonly bus: IEventBus;
  readonly apiKeySecret: ISecret;
  /** Archived recordings (AUDIO_ARCHIVE): uploaded (multipart, aborted on failure), deleted when an erasure won the race. */
  readonly audioBucket: IBucket;
  readonly threeTone: ThreeToneClientConfig;
  /** The processor's settings: the enricher rebuilds records exactly as the processor does. */
  readonly settings: ProcessorSettings;
}

/**
 * What the enricher does on the table: records, events, outbox, the enrichment queue (leases,
 * deferrals) and the request budget (a transaction with a condition check).
 */
export const ENRICHING_TABLE_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:ConditionCheckItem',
  'dynamodb:Query',
] as const;

/** What the enricher does to recordings: upload (PutObject covers every multipart step but the abort), abort, delete. */
export const ENRICHER_AUDIO_ACTIONS = ['s3:PutObject', 's3:AbortMultipartUpload', 's3:DeleteObject'] as const;

/** How long one run drains; the schedule starts the next one a minute after the last started. */
export const ENRICHER_RUN = Duration.seconds(50);

/**
 * Every minute, drains the enrichment queue (ended conversations waiting for ThreeTone's details,
 * oldest first) within ThreeTone's request budget, and gives up waiting on the overdue ones. The
 * budget and the queue live in the table, so runs that overlap, and the processor's own short drains,
 * share them safely (leases, conditional counters).
 */
export class ConversationEnricher extends Construct {
  public readonly handler: NodeFunction;
  public readonly schedule: Rule;

  constructor(scope: Construct, id: string, props: ConversationEnricherProps) {
    super(scope, id);

    this.handler = new NodeFunction(this, 'Enricher', {
      defaults: props.defaults,
      entry: props.entry,
      description: "Fetches ThreeTone's details of ended conversations within its request quota",
      // A run, plus one request in flight when it ends, plus the record's commit.
      timeout: ENRICHER_RUN.plus(Duration.seconds(25)),
      // The next scheduled run does the same work.
      retryAttempts: 0,
    })
      .bindTable(props.table, ENRICHING_TABLE_ACTIONS)
      .bindEventBus(props.bus)
      .bindSecret('THREETONE_API_KEY_SECRET_ARN', props.apiKeySecret)
      .bindAudioBucket(props.audioBucket, ENRICHER_AUDIO_ACTIONS)
      .setSettings(threeToneClientEnv(props.threeTone))
      .setSettings(requestBudgetEnv(props.settings.enrichment.budget))
      .setSettings(processorEnv(props.settings))
      .setSettings({ ENRICHER_RUN_SECONDS: String(ENRICHER_RUN.toSeconds()) });

    this.schedule = new Rule(this, 'Schedule', {
      description: 'Runs the ThreeTone enricher',
      schedule: Schedule.rate(Duration.minutes(1)),
      targets: [new LambdaFunction(this.handler.function, { retryAttempts: 0 })],
    });
  }
}
