import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DetailType } from '#core/bus-events.js';
import { createOutboxPublisher } from '#functions/outbox-publisher/outbox-publisher.js';
import { type DynamoDBStreamsClient, GetShardIteratorCommand } from '@aws-sdk/client-dynamodb-streams';
import { streamsClientFor } from '#local/dynamodb-local.js';
import { createStreamPump } from '#local/stream-pump.js';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { conversationScript } from '#test/helpers/envelopes.js';
import { body, createHarness, type Harness, RecordingBus } from '#test/helpers/processor-harness.js';

describe('local stream pump (the outbox publisher as Lambda runs it)', () => {
  let h: Harness;
  let dir: string;
  beforeEach(async () => {
    h = await createHarness();
    dir = await mkdtemp(join(os.tmpdir(), 'pump-'));
  });
  afterEach(async () => {
    await h.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function pump(bus: RecordingBus, wrap: (s: DynamoDBStreamsClient) => DynamoDBStreamsClient = (s) => s) {
    return pumpWith(createOutboxPublisher({ publisher: bus }), wrap);
  }
  async function pumpWith(
    handler: (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse>,
    wrap: (s: DynamoDBStreamsClient) => DynamoDBStreamsClient = (s) => s,
  ) {
    const streams = wrap(await streamsClientFor(h.table.client, inject('dynamoEndpoint')));
    const p = await createStreamPump({
      client: h.table.client,
      streams,
      tableName: h.table.tableName,
      handler,
      checkpointFile: join(dir, 'stream-checkpoint.json'),
    });
    return { ...p, close: async () => (await p.stop(), streams.destroy()) }; // a client passed in stays the caller's
  }
  const started = (bus: RecordingBus) => bus.distinct(DetailType.ConversationStarted).map((e) => e.detail.conversation_id).sort();
  const deliver = (id: string) => h.deliver(conversationScript({ conversationId: id, start: '2026-11-20T10:00:00Z' }).map(body));

  it('publishes what was committed before it started, and after a restart only what came since', async () => {
    await deliver('conv_a');
    const first = new RecordingBus();
    const p1 = await pump(first);
    await p1.drain();
    expect(started(first)).toEqual(['conv_a']);
    expect(first.distinct(DetailType.ConversationEnded)).toHaveLength(1);
    await p1.close();

    // A restart: the position comes from the checkpoint file, nothing is handed over twice.
    const second = new RecordingBus();
    const p2 = await pump(second);
    await p2.drain();
    expect(second.events).toEqual([]);
    await deliver('conv_b');
    await p2.drain();
    expect(started(second)).toEqual(['conv_b']);
    await p2.close();
  });

  it('reads from the oldest change when the checkpointed position is no longer in the stream (stopped over 24 hours)', async () => {
    await deliver('conv_f');
    const first = await pump(new RecordingBus());
    await first.drain();
    await first.close();
    // As the stream answers for a position it trimmed.
    const trimmed = (real: DynamoDBStreamsClient) =>
      new Proxy(real, {
        get(target, prop, receiver) {
          if (prop !== 'send') return Reflect.get(target, prop, receiver);
          return (command: { input?: { ShardIteratorType?: string } }) => {
            if (command instanceof GetShardIteratorCommand && command.input.ShardIteratorType === 'AFTER_SEQUENCE_NUMBER') {
              return Promise.reject(Object.assign(new Error('trimmed'), { name: 'TrimmedDataAccessException' }));
            }
            return target.send(command as GetShardIteratorCommand);
          };
        },
      });
    const bus = new RecordingBus();
    const second = await pump(bus, trimmed);
    await second.drain();
    await deliver('conv_g');
    await second.drain();
    expect(started(bus)).toEqual(['conv_f', 'conv_g']);
    await second.close();
  });

  it('retries a change the bus refused until it is accepted, skipping nothing behind it', async () => {
    const bus = new RecordingBus();
    const p = await pump(bus);
    await p.drain();
    bus.failNextEntries = 3;
    await deliver('conv_c');
    await deliver('conv_d');
    await p.drain();
    expect(bus.failNextEntries).toBe(0);
    expect(started(bus)).toEqual(['conv_c', 'conv_d']);
    expect(bus.distinct(DetailType.ConversationEnded)).toHaveLength(2);
    await p.close();
  });

  it('drains asked for at once read one after another: each change is handed over once', async () => {
    // Arrange
    await deliver('conv_h');
    const bus = new RecordingBus();
    const p = await pump(bus);

    // Act
    await Promise.all([p.drain(), p.drain(), p.drain()]);

    // Assert: as many events as distinct ones (two passes from one position would repeat them)
    expect(bus.events.length).toBeGreaterThan(0);
    expect(new Set(bus.events.map((e) => e.detail.event_id)).size).toBe(bus.events.length);
    await p.close();
  });

  it('resumes from the earliest failure the handler reports, whatever their order', async () => {
    // Arrange: the first batch reports its last record and its second as failed, in that order
    await deliver('conv_i');
    const handed: string[][] = [];
    const p = await pumpWith(async (event) => {
      const seqs = event.Records.map((r) => r.dynamodb!.SequenceNumber!);
      handed.push(seqs);
      if (handed.length > 1) return { batchItemFailures: [] };
      return { batchItemFailures: [{ itemIdentifier: seqs[seqs.length - 1]! }, { itemIdentifier: seqs[1]! }] };
    });

    // Act
    await p.drain();

    // Assert: the retry starts at the second record, so nothing after it was skipped
    expect(handed[0]!.length).toBeGreaterThan(2);
    expect(handed[1]![0]).toBe(handed[0]![1]);
    await p.close();
  });

  it('reads from the oldest change, warning, when the checkpoint file is not valid (e.g. emptied by a power loss)', async () => {
    // Arrange
    await deliver('conv_j');
    await writeFile(join(dir, 'stream-checkpoint.json'), '');
    const bus = new RecordingBus();

    // Act
    const p = await pump(bus);
    await p.drain();

    // Assert
    expect(started(bus)).toEqual(['conv_j']);
    await p.close();
  });

  it('in the background, publishes a commit within moments', async () => {
    const bus = new RecordingBus();
    const p = await pump(bus);
    p.start();
    await deliver('conv_e');
    const deadline = Date.now() + 10_000;
    while (started(bus).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(started(bus)).toEqual(['conv_e']);
    await p.close();
  });
});
