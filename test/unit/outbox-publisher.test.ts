import { gzipSync } from 'node:zlib';
import type { DynamoDBRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { compressJson } from '#adapters/compressed-json.js';
import { TABLE } from '#adapters/table-schema.js';
import { type BusEvent, busEvent, DetailType } from '#core/bus-events.js';
import { createOutboxPublisher, outboxOf } from '#functions/outbox-publisher/outbox-publisher.js';
import type { EventPublisher } from '#functions/ports.js';

const ev = (name: string) => busEvent(DetailType.ConversationStarted, name, '2026-11-20T10:00:00.000Z', { conversation_id: name });

/** A stream record as Lambda hands it over: binary attributes as base64 text. */
function change(seq: string, next: { rev: number; events?: BusEvent[] } | null, prev?: { rev: number; events?: BusEvent[] }, eventName?: DynamoDBRecord['eventName']): DynamoDBRecord {
  const image = (i: { rev: number; events?: BusEvent[] }) => ({
    pk: { S: 'CONV#c' },
    sk: { S: 'RECORD' },
    rev: { N: String(i.rev) },
    ...(i.events && { [TABLE.outboxAttribute]: { B: Buffer.from(compressJson(i.events)).toString('base64') } }),
  });
  return {
    eventName: eventName ?? (next === null ? 'REMOVE' : prev ? 'MODIFY' : 'INSERT'),
    dynamodb: { SequenceNumber: seq, ...(next && { NewImage: image(next) }), ...(prev && { OldImage: image(prev) }) },
  } as DynamoDBRecord;
}

class Bus implements EventPublisher {
  readonly published: string[] = [];
  refuse = new Set<string>();
  throws = false;
  async publish(events: readonly BusEvent[]) {
    if (this.throws) throw new Error('network down');
    const failed = events.filter((e) => this.refuse.has(e.detail.event_id));
    this.published.push(...events.filter((e) => !failed.includes(e)).map((e) => e.detail.event_id));
    return { failed };
  }
}

describe('outbox publisher (the table change stream)', () => {
  it('refuses an unreadable outbox with its own message, never the parser\'s (which would quote the text)', () => {
    // Arrange: gzip of text that is not JSON, holding a phone number
    const broken = change('9', { rev: 1 });
    broken.dynamodb!.NewImage![TABLE.outboxAttribute] = { B: gzipSync(Buffer.from('[{"phone":"+15550100777"')).toString('base64') };

    // Act
    let message = '';
    try {
      outboxOf(broken);
    } catch (err) {
      message = (err as Error).message;
    }

    // Assert
    expect(message).toMatch(/unreadable/);
    expect(message).not.toContain('5550100777');
  });

  it("publishes a change's events: the item's first image, and each new revision", () => {
    const [a, b] = [ev('a'), ev('b')];
    expect(outboxOf(change('1', { rev: 1, events: [a] }))).toEqual([a]);
    expect(outboxOf(change('2', { rev: 2, events: [b] }, { rev: 1, events: [a] }))).toEqual([b]);
    // the same events at another revision are that revision's (a rebuild that re-planned them)
    expect(outboxOf(change('3', { rev: 3, events: [b] }, { rev: 2, events: [b] }))).toEqual([b]);
  });

  it('publishes nothing for a write that left the events as they were, a change without events, or a removal', () => {
    const a = ev('a');
    expect(outboxOf(change('1', { rev: 2, events: [a] }, { rev: 2, events: [a] }))).toEqual([]);
    expect(outboxOf(change('2', { rev: 2 }, { rev: 1, events: [a] }))).toEqual([]);
    expect(outboxOf(change('3', null, { rev: 2, events: [a] }))).toEqual([]);
  });

  it('reads binary images from the SDK (bytes) as from Lambda (base64)', () => {
    const a = ev('a');
    const record = { eventName: 'INSERT', dynamodb: { SequenceNumber: '1', NewImage: { rev: { N: '1' }, [TABLE.outboxAttribute]: { B: compressJson([a]) } } } } as unknown as DynamoDBRecord;
    expect(outboxOf(record)).toEqual([a]);
  });

  it('publishes a batch in one go and reports no failure when the bus took everything', async () => {
    const bus = new Bus();
    const out = await createOutboxPublisher({ publisher: bus })({ Records: [change('1', { rev: 1, events: [ev('a')] }), change('2', { rev: 1 }), change('3', { rev: 1, events: [ev('b'), ev('c')] })] });
    expect(out.batchItemFailures).toEqual([]);
    expect(bus.published).toEqual([ev('a'), ev('b'), ev('c')].map((e) => e.detail.event_id));
  });

  it('reports the first change holding a refused event, so the stream retries from there and skips nothing', async () => {
    const bus = new Bus();
    bus.refuse.add(ev('c').detail.event_id);
    const records = [change('1', { rev: 1, events: [ev('a')] }), change('2', { rev: 1, events: [ev('b'), ev('c')] }), change('3', { rev: 1, events: [ev('d')] })];
    const out = await createOutboxPublisher({ publisher: bus })({ Records: records });
    expect(out.batchItemFailures).toEqual([{ itemIdentifier: '2' }]);
  });

  it('reports the first change with events when the bus call fails whole', async () => {
    const bus = new Bus();
    bus.throws = true;
    const out = await createOutboxPublisher({ publisher: bus })({ Records: [change('7', { rev: 1 }), change('8', { rev: 1, events: [ev('a')] })] });
    expect(out.batchItemFailures).toEqual([{ itemIdentifier: '8' }]);
  });
});
