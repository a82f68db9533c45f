import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { busEvent, DetailType, EVENT_SOURCE, type BusEvent } from '#core/bus-events.js';
import { createLocalBus, readEvents } from '#local/local-bus.js';

let dir: string;
let file: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'local-bus-'));
  file = join(dir, 'nested', 'events.jsonl');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const TIME = '2025-03-04T05:06:07.000Z';
const started = (n: number): BusEvent =>
  busEvent(DetailType.ConversationStarted, `conv-${n}`, TIME, { conversation_id: `conv-${n}`, agent_id: 'agent-1' });

describe('local bus', () => {
  it('appends each event as the envelope an EventBridge target receives', async () => {
    const bus = createLocalBus({ file });
    const event = started(1);

    const result = await bus.publish([event]);

    expect(result).toEqual({ failed: [] });
    const [envelope, ...rest] = await readEvents(file);
    expect(rest).toEqual([]);
    expect(envelope).toEqual({
      version: '0',
      id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
      'detail-type': 'Conversation Started',
      source: EVENT_SOURCE,
      account: '000000000000',
      time: TIME,
      region: 'local',
      resources: [],
      detail: event.detail,
    });
  });

  it('uses the configured account and region', async () => {
    const bus = createLocalBus({ file, account: '123456789012', region: 'eu-west-1' });

    await bus.publish([started(1)]);

    expect((await readEvents(file))[0]).toMatchObject({ account: '123456789012', region: 'eu-west-1' });
  });

  it('writes one line per event, and concurrent publishes never interleave', async () => {
    const bus = createLocalBus({ file });
    const big = (n: number) =>
      busEvent(DetailType.ThreeToneEvent, `e-${n}`, TIME, { event: 'x', data: { pad: 'é'.repeat(20_000 + n) } });

    await Promise.all(Array.from({ length: 40 }, (_, n) => bus.publish([big(n), started(n)])));

    const lines = (await readFile(file, 'utf8')).split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(80);
    const envelopes = lines.map((l) => JSON.parse(l) as { detail: { event_id: string } });
    expect(new Set(envelopes.map((e) => e.detail.event_id)).size).toBe(80);
  });

  it('publishes more than 10 entries in chunks, all written', async () => {
    const bus = createLocalBus({ file });
    const events = Array.from({ length: 23 }, (_, n) => started(n));

    const result = await bus.publish(events);

    expect(result.failed).toEqual([]);
    expect((await readEvents(file)).map((e) => e.detail.event_id)).toEqual(events.map((e) => e.detail.event_id));
  });

  it('failNext(n) returns the next n entries as failed and writes nothing for them', async () => {
    const bus = createLocalBus({ file });
    const events = [started(1), started(2), started(3)];
    bus.failNext(2);

    const first = await bus.publish(events);
    const retry = await bus.publish(first.failed);

    expect(first.failed).toEqual([events[0], events[1]]);
    expect(retry.failed).toEqual([]);
    expect((await readEvents(file)).map((e) => e.detail.conversation_id)).toEqual(['conv-3', 'conv-1', 'conv-2']);
  });

  it('fails entries from the failNext option first', async () => {
    const bus = createLocalBus({ file, failNext: 1 });

    const result = await bus.publish([started(1)]);

    expect(result.failed).toHaveLength(1);
    expect(await readEvents(file)).toEqual([]);
  });

  it('returns an entry over 256 KiB in failed instead of throwing', async () => {
    const bus = createLocalBus({ file });
    const oversized = busEvent(DetailType.ThreeToneEvent, 'big', TIME, { data: 'x'.repeat(256 * 1024) });
    const fine = started(1);

    const result = await bus.publish([oversized, fine]);

    expect(result.failed).toEqual([oversized]);
    expect((await readEvents(file)).map((e) => e.detail.event_id)).toEqual([fine.detail.event_id]);
  });

  it('reads no events from a missing file', async () => {
    expect(await readEvents(join(dir, 'none.jsonl'))).toEqual([]);
  });
});
