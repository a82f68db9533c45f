import { Duration } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { type FunctionDefaults, NodeFunction } from './node-function.js';

/** SQS's largest message (1 MiB): room for a 256 KiB webhook, its base64 fallback and attributes. */
const MAX_MESSAGE_BYTES = 1_048_576;

export interface ConversationProcessorProps {
  readonly defaults: FunctionDefaults;
  readonly entry: string;
  readonly table: ITable;
  readonly bus: IEventBus;
  readonly apiKeySecret: ISecret;
  /** @default Duration.seconds(120) */
  readonly timeout?: Duration;
  /** @default 10 */
  readonly batchSize?: number;
  /**
   * Most concurrent invocations (the event source's maximum concurrency; 2 is the lowest allowed).
   * Bounds the load on ThreeTone's API (100 requests/minute): at most this many batches in flight.
   * @default 2
   */
  readonly maxConcurrency?: number;
  /** Deliveries before a message goes to the DLQ; the processor gets the same value. @default 5 */
  readonly maxReceiveCount?: number;
  /** Settings passed as environment variables, named as the code reads them. */
  readonly settings: {
    readonly threeToneApiUrl: string;
    readonly threeToneTimeoutMs: number;
    readonly threeToneMaxRetries: number;
    readonly alertLongDurationSeconds: number;
    readonly alertLowSatisfaction: number;
    readonly rawEventRetentionDays: number;
    readonly transcriptRetentionDays: number;
    readonly recordRetentionDays: number;
    readonly redactPersonalData: boolean;
  };
}

/**
 * The durable work queue between ingest and processing, its dead-letter queue, and the processor
 * that drains it with partial-batch responses: a failed record goes back to the queue alone and, after
 * `maxReceiveCount` deliveries, to the DLQ (which raises an alarm). Nothing is swallowed.
 */
export class ConversationProcessor extends Construct {
  public readonly queue: Queue;
  public readonly deadLetterQueue: Queue;
  public readonly processor: NodeFunction;
  public readonly maxReceiveCount: number;

  constructor(scope: Construct, id: string, props: ConversationProcessorProps) {
    super(scope, id);
    const timeout = props.timeout ?? Duration.seconds(120);
    this.maxReceiveCount = props.maxReceiveCount ?? 5;

    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // The longest SQS allows: a message keeps its first enqueue time when it moves here.
      retentionPeriod: Duration.days(14),
      maxMessageSizeBytes: MAX_MESSAGE_BYTES,
    });
    this.queue = new Queue(this, 'Queue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      // A 256 KiB webhook plus its attributes exceeds SQS's old 256 KiB default: allow SQS's 1 MiB.
      maxMessageSizeBytes: MAX_MESSAGE_BYTES,
      // AWS's guidance for Lambda consumers: at least 6 times the function timeout, so a message is
      // not redelivered while a throttled or retried invocation still holds it.
      visibilityTimeout: Duration.seconds(timeout.toSeconds() * 6),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: this.maxReceiveCount },
    });

    const s = props.settings;
    this.processor = new NodeFunction(this, 'Processor', {
      defaults: props.defaults,
      entry: props.entry,
      description: 'Processes ThreeTone webhooks from the queue into conversation records and events',
      timeout,
    })
      .bindTable(props.table, [
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'dynamodb:DeleteItem',
        'dynamodb:Query',
      ])
      .bindEventBus(props.bus)
      .bindSecret('THREETONE_API_KEY_SECRET_ARN', props.apiKeySecret)
      .setEnv('THREETONE_API_URL', s.threeToneApiUrl)
      .setEnv('THREETONE_TIMEOUT_MS', String(s.threeToneTimeoutMs))
      .setEnv('THREETONE_MAX_RETRIES', String(s.threeToneMaxRetries))
      .setEnv('ALERT_LONG_DURATION_SECONDS', String(s.alertLongDurationSeconds))
      .setEnv('ALERT_LOW_SATISFACTION', String(s.alertLowSatisfaction))
      .setEnv('MAX_RECEIVE_COUNT', String(this.maxReceiveCount))
      .setEnv('RAW_EVENT_RETENTION_DAYS', String(s.rawEventRetentionDays))
      .setEnv('TRANSCRIPT_RETENTION_DAYS', String(s.transcriptRetentionDays))
      .setEnv('RECORD_RETENTION_DAYS', String(s.recordRetentionDays))
      .setEnv('REDACT_PERSONAL_DATA', String(s.redactPersonalData));

    // Grants exactly what polling needs (Receive, Delete, ChangeMessageVisibility, GetQueueAttributes,
    // GetQueueUrl) on this queue.
    this.processor.function.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: props.batchSize ?? 10,
        reportBatchItemFailures: true,
        maxConcurrency: props.maxConcurrency ?? 2,
      }),
    );
  }
}
