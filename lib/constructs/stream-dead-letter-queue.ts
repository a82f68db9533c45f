import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/**
 * Where the outbox publisher's event source sends a batch of table changes it could not publish
 * within 23 hours (OUTBOX_MAX_RECORD_AGE, below the stream's 24-hour retention; docs/decisions.md D30). Lambda puts there only the
 * description of the batch (stream ARN, shard id, first and last sequence numbers, arrival times),
 * never item data: the changes themselves are in the table, and a message here is the only record
 * that their bus events were never published. So it lives in the stateful stack and is retained
 * (a redeploy or a deleted stateless stack must not lose it), and keeps messages the longest SQS
 * allows.
 */
export class StreamDeadLetterQueue extends Construct {
  public readonly queue: Queue;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.queue = new Queue(this, 'Queue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.queue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        "This queue is itself a dead-letter queue: the on-failure destination of the outbox publisher's DynamoDB stream " +
        'event source (in the stateless stack, which cdk-nag does not see from here). Nothing consumes it; an alarm fires on ' +
        'its first message and an operator reads it (docs/aws-deployment.md, "Alarms and what to do").',
    });
  }
}
