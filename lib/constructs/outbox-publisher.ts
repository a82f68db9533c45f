import { Duration, Validations } from 'aws-cdk-lib';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import { FilterCriteria, FilterRule, StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { TABLE } from '#adapters/table-schema.js';
import type { StreamingTable } from './conversation-table.js';
import { type FunctionDefaults, NodeFunction } from './node-function.js';

/** Stream records per invocation: a batch's events go out in PutEvents calls of 10. */
export const OUTBOX_BATCH_SIZE = 100;

/** How long a change's events are retried before its batch is given up (the stream keeps 24 hours). */
export const OUTBOX_MAX_RECORD_AGE = Duration.hours(23);

export interface OutboxPublisherProps {
  readonly defaults: FunctionDefaults;
  /** `functions/outbox-publisher/handler.ts`. */
  readonly entry: string;
  /** The table, with its change stream (stateful stack). The function never reads or writes its items. */
  readonly table: StreamingTable;
  readonly bus: IEventBus;
  /**
   * The on-failure destination (stateful stack): the description of a batch whose events could not
   * be published within OUTBOX_MAX_RECORD_AGE.
   */
  readonly deadLetterQueue: IQueue;
}

/**
 * Publishes the bus events each committed change carries (`outbox_gz` in the item it wrote: a
 * conversation's record, an erasure's tombstone), read from the table's change stream
 * (docs/decisions.md D30). Its role may read that stream and put events on the bus, nothing else:
 * no item of the table.
 *
 * A change is never skipped: the function reports the first record it could not publish and the
 * event source retries from there (splitting a failing batch in two), in order, for
 * OUTBOX_MAX_RECORD_AGE; only then does the batch's description go to the dead-letter queue.
 */
export class OutboxPublisher extends Construct {
  public readonly handler: NodeFunction;
  public readonly eventSource: DynamoEventSource;

  constructor(scope: Construct, id: string, props: OutboxPublisherProps) {
    super(scope, id);

    this.handler = new NodeFunction(this, 'Publisher', {
      defaults: props.defaults,
      entry: props.entry,
      description: 'Publishes the bus events of each committed table change, from the change stream',
      // A batch is 100 changes at most, their events in PutEvents calls of 10, each resent twice
      // on a partial failure: seconds at worst. A timeout only retries the batch.
      timeout: Duration.seconds(30),
    }).bindEventBus(props.bus);

    this.eventSource = new DynamoEventSource(props.table, {
      // Every change still in the stream (24 hours) when the mapping is first created, not only later ones.
      startingPosition: StartingPosition.TRIM_HORIZON,
      batchSize: OUTBOX_BATCH_SIZE,
      // The function returns the sequence number of the first change it could not publish; the
      // stream retries from it, and a batch that keeps failing is split to isolate the change.
      reportBatchItemFailures: true,
      bisectBatchOnError: true,
      // One batch per shard at a time: a conversation's changes (one partition key, one shard) are
      // sent in the order they were committed (a refused one is sent again after those accepted).
      parallelizationFactor: 1,
      // No retry limit (Lambda's default for a stream source, -1): a change is retried until it is
      // OUTBOX_MAX_RECORD_AGE old, then its batch's description goes to the dead-letter queue. Below
      // the stream's 24-hour retention on purpose: a record the stream trims before Lambda gives up on
      // it is skipped with no dead-letter message, so the loss would go unseen.
      maxRecordAge: OUTBOX_MAX_RECORD_AGE,
      onFailure: new SqsDlq(props.deadLetterQueue),
      // Only changes that carry events invoke the function (and are billed): an INSERT or MODIFY
      // whose new image has the outbox attribute. An optimisation only: the code checks the same.
      filters: [
        FilterCriteria.filter({
          eventName: FilterRule.or('INSERT', 'MODIFY'),
          dynamodb: { NewImage: { [TABLE.outboxAttribute]: { B: FilterRule.exists() } } },
        }),
      ],
    });
    // Grants, on the function's role: DescribeStream, GetRecords and GetShardIterator on this
    // table's stream ARN; ListStreams on `*` (below); SendMessage, GetQueueAttributes and
    // GetQueueUrl on the dead-letter queue (Lambda sends the failure record with this role).
    this.handler.function.addEventSource(this.eventSource);

    Validations.of(this.handler).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        "dynamodb:ListStreams alone, added by CDK's grantStreamRead for the stream event source: it is an account-level " +
        'listing that IAM cannot scope to a table or stream (no resource type), and it returns stream ARNs, no data. The ' +
        "stream's data actions (DescribeStream, GetRecords, GetShardIterator) name this table's stream ARN alone.",
    });
  }
}
