import type { Duration } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { type ProcessorSettings, processorEnv } from '#functions/config.js';
import { type FunctionDefaults, NodeFunction } from './node-function.js';

export interface ConversationProcessorProps {
  readonly defaults: FunctionDefaults;
  readonly entry: string;
  readonly table: ITable;
  readonly bus: IEventBus;
  /** The caller lookup key: phone numbers are stored only as HMAC-SHA256 under it. */
  readonly callerKeySecret: ISecret;
  /** The work queue (stateful stack). Its visibility timeout is 6 times `timeout` (same schedule). */
  readonly queue: IQueue;
  /** From the ThreeTone client's retry budget (functions/processor/schedule.ts). */
  readonly timeout: Duration;
  readonly batchSize: number;
  /**
   * Most concurrent invocations (the event source's maximum concurrency; 2 is the lowest allowed).
   * Bounds the load on ThreeTone's API (100 requests/minute): at most this many batches in flight.
   */
  readonly maxConcurrency: number;
  readonly settings: ProcessorSettings;
}

/**
 * The processor that drains the work queue with partial-batch responses: a failed record goes back to
 * the queue alone and, after `maxReceiveCount` deliveries, to the DLQ (which raises an alarm). It
 * records webhook facts and never calls ThreeTone (the scheduled enricher fetches details), so it
 * holds no ThreeTone key and draws on no request budget.
 */
export class ConversationProcessor extends Construct {
  public readonly processor: NodeFunction;

  constructor(scope: Construct, id: string, props: ConversationProcessorProps) {
    super(scope, id);

    this.processor = new NodeFunction(this, 'Processor', {
      defaults: props.defaults,
      entry: props.entry,
      description: 'Processes ThreeTone webhooks from the queue into conversation records and events',
      timeout: props.timeout,
    })
      // Records, events, outbox, aggregates and enrichment-queue membership; never ThreeTone.
      // ConditionCheckItem: every write of a conversation's data checks it was not erased (tombstone).
      .bindTable(props.table, ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:ConditionCheckItem', 'dynamodb:Query'])
      .bindEventBus(props.bus)
      .bindSecret('CALLER_KEY_SECRET_ARN', props.callerKeySecret)
      .setSettings(processorEnv(props.settings));

    // Grants exactly what polling needs (Receive, Delete, ChangeMessageVisibility, GetQueueAttributes,
    // GetQueueUrl) on this queue.
    this.processor.function.addEventSource(
      new SqsEventSource(props.queue, {
        batchSize: props.batchSize,
        reportBatchItemFailures: true,
        maxConcurrency: props.maxConcurrency,
      }),
    );
  }
}
