import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/** SQS's largest message (1 MiB): room for a 256 KiB webhook, its base64 fallback and attributes. */
const MAX_MESSAGE_BYTES = 1_048_576;
/** The longest SQS allows. A message keeps its first enqueue time when it moves to the DLQ. */
const RETENTION = Duration.days(14);

export interface WorkQueueProps {
  /**
   * How long a received message stays invisible: at least 6 times the processor's timeout (AWS's
   * guidance for Lambda consumers), so a message is not redelivered while an invocation still holds it.
   */
  readonly visibilityTimeout: Duration;
  /** Deliveries before a message moves to the dead-letter queue. */
  readonly maxReceiveCount: number;
}

/**
 * The durable hand-off between ingest and processing, and its dead-letter queue. A 202 to ThreeTone
 * means the webhook is in this queue, so both queues are retained: a deleted or replaced stack never
 * deletes accepted webhooks (docs/decisions.md, "Queues live in the stateful stack").
 */
export class WorkQueue extends Construct {
  public readonly queue: Queue;
  public readonly deadLetterQueue: Queue;

  constructor(scope: Construct, id: string, props: WorkQueueProps) {
    super(scope, id);
    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: RETENTION,
      maxMessageSizeBytes: MAX_MESSAGE_BYTES,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.queue = new Queue(this, 'Queue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: RETENTION,
      // A 256 KiB webhook plus its attributes exceeds SQS's old 256 KiB default: allow SQS's 1 MiB.
      maxMessageSizeBytes: MAX_MESSAGE_BYTES,
      visibilityTimeout: props.visibilityTimeout,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount },
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }
}
