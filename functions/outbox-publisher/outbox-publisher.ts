/**
 * The outbox publisher: the table's change stream in, bus events out (docs/decisions.md D30).
 *
 * A write that produces bus events (a record commit, an erasure's tombstone) carries them in the
 * item itself (`outbox_gz`, gzip JSON), in the same write: the stream then holds every committed
 * change exactly once, and this function publishes the events of each change whose events are new
 * (an item's first image, another revision, or other events than its previous image had). Nothing
 * is written after publishing: no outbox items, no deletes (issue 10).
 *
 * Records are handled in stream order. The first change the bus refuses (in whole or in part) is
 * reported as the batch's failure: the stream retries from it (events already accepted are
 * published again with the same `event_id`, which consumers dedupe), so a change is never skipped.
 * On AWS the event source retries for 23 hours (below the stream's 24) and then sends the batch's
 * description to a dead-letter queue; locally the pump retries forever (local/stream-pump.ts).
 */
import type { AttributeValue, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import type { BusEvent } from '#core/bus-events.js';
import { decompressJson } from '#adapters/compressed-json.js';
import { TABLE } from '#adapters/table-schema.js';
import type { EventPublisher } from '#functions/ports.js';
import { logger as defaultLogger, errorFields, type Logger } from '#functions/shared/logger.js';

export interface OutboxPublisherDeps {
  publisher: EventPublisher;
  logger?: Logger;
}

/** A binary attribute as the stream carries it: base64 text in a Lambda event, bytes from the SDK. */
function bytesOf(value: AttributeValue | undefined): Buffer | null {
  const b = value?.B as unknown;
  if (typeof b === 'string') return Buffer.from(b, 'base64');
  if (b instanceof Uint8Array) return Buffer.from(b);
  return null;
}

/**
 * The events a stream record asks to publish: those of its new image, unless its previous image
 * already carried the same events at the same revision (a write that left them as they were).
 */
export function outboxOf(record: DynamoDBRecord): BusEvent[] {
  if (record.eventName !== 'INSERT' && record.eventName !== 'MODIFY') return [];
  const next = record.dynamodb?.NewImage;
  const bytes = bytesOf(next?.[TABLE.outboxAttribute]);
  if (!bytes) return [];
  const prev = record.dynamodb?.OldImage;
  if (prev) {
    const before = bytesOf(prev[TABLE.outboxAttribute]);
    if (before?.equals(bytes) && prev.rev?.N === next?.rev?.N) return [];
  }
  try {
    return decompressJson(bytes) as BusEvent[];
  } catch {
    // Never the parser's own message: it quotes the text, which may hold personal data.
    throw new Error(`change ${record.dynamodb?.SequenceNumber ?? '?'} carries an unreadable ${TABLE.outboxAttribute} (not gzip JSON)`);
  }
}

export function createOutboxPublisher(deps: OutboxPublisherDeps) {
  const log = deps.logger ?? defaultLogger;
  return async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
    const changes = event.Records.map((record) => ({ record, events: outboxOf(record) })).filter((c) => c.events.length > 0);
    if (changes.length === 0) return { batchItemFailures: [] };
    let failedIds: Set<string>;
    try {
      const { failed } = await deps.publisher.publish(changes.flatMap((c) => c.events));
      failedIds = new Set(failed.map((e) => e.detail.event_id));
    } catch (err) {
      // Nothing is known to be published: the whole batch is retried.
      log.warn('the bus refused the batch; the stream retries it', errorFields(err));
      failedIds = new Set(changes.flatMap((c) => c.events.map((e) => e.detail.event_id)));
    }
    const first = changes.find((c) => c.events.some((e) => failedIds.has(e.detail.event_id)));
    if (!first) {
      log.debug('outbox published', { changes: changes.length, events: changes.reduce((n, c) => n + c.events.length, 0) });
      return { batchItemFailures: [] };
    }
    log.warn('events not accepted by the bus; the stream retries from the first change that holds one', { failed: failedIds.size });
    return { batchItemFailures: [{ itemIdentifier: first.record.dynamodb?.SequenceNumber ?? '' }] };
  };
}
