/**
 * Replay and redrive (issue 11), against DynamoDB Local and the local queue, with the real processor
 * handler (seeded through it, never by hand-written items): stored webhooks replayed through the work
 * queue rebuild damaged or deleted records, counting each conversation once; dead letters go back to
 * the queue durably, a crash in the middle of a redrive loses nothing.
 */
import { RECORD_ATTRIBUTES, recordAttributes, recordOfItem, stateOfItem } from '#adapters/record-item.js';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SQSEvent } from 'aws-lambda';
import { DeleteCommand, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDynamoDbStoredWebhooks } from '#adapters/dynamodb-queries.js';
import { createReplay, replaySelection } from '#functions/replay/replay.js';
import { createLocalQueue, type LocalQueue } from '#local/local-queue.js';
import { conversationScript } from '#test/helpers/envelopes.js';
import { body, createHarness, HARNESS_NOW, type Harness } from '#test/helpers/processor-harness.js';

const DAY_START = Date.UTC(2026, 10, 20, 9, 0);

function detailsOf(id: string, agent: string) {
  return {
    conversation_id: id,
    agent_id: agent,
    duration_seconds: 180,
    turn_count: 2,
    resolution_status: 'resolved',
    satisfaction_score: 4.5,
    topics: ['billing'],
    transcript: [
      { role: 'user', message: 'hi', time_in_call_secs: 1 },
      { role: 'agent', message: 'hello', time_in_call_secs: 3 },
    ],
  };
}

let h: Harness;
let dir: string;
const queues: LocalQueue[] = [];

beforeEach(async () => {
  h = await createHarness();
  dir = await mkdtemp(join(tmpdir(), 'replay-redrive-'));
});
afterEach(async () => {
  await Promise.all(queues.splice(0).map((q) => q.stop()));
  await h.close();
  await rm(dir, { recursive: true, force: true });
});

function queue(consumer: (e: SQSEvent) => Promise<unknown> = (e) => h.handler(e), opts: { maxReceiveCount?: number; start?: boolean } = {}): LocalQueue {
  const q = createLocalQueue({ dir, visibilityTimeoutMs: 20, pollIntervalMs: 5, maxReceiveCount: opts.maxReceiveCount ?? 5 });
  queues.push(q);
  if (opts.start !== false) q.start(async (e) => (await consumer(e)) as void);
  return q;
}

/** Seeds conversations through the real processor (and the enricher), counted in the aggregates. */
async function seed(ids: string[], agent = 'agent-r'): Promise<string[]> {
  const bodies: string[] = [];
  ids.forEach((id, i) => {
    h.api.details.set(id, detailsOf(id, agent));
    bodies.push(...conversationScript({ conversationId: id, agentId: agent, start: DAY_START + i * 600_000, family: 'both' }).map(body));
  });
  const { deadLettered } = await h.deliver(bodies);
  expect(deadLettered).toEqual([]);
  await h.settle();
  return bodies;
}

/** The record item as stored, with its record decoded. */
async function recordItem(id: string) {
  const { Item: item } = await h.table.doc.send(new GetCommand({ TableName: h.table.tableName, Key: { pk: `CONV#${id}`, sk: 'RECORD' }, ConsistentRead: true }));
  return item && { ...item, rev: Number(item.rev), record: recordOfItem(item)! };
}

async function damage(id: string): Promise<void> {
  const item = (await recordItem(id))!;
  const record = { ...recordOfItem(item)!, summary: 'damaged by a bug', turn_count: 999, duration_seconds: 1 };
  await h.table.doc.send(
    new UpdateCommand({
      TableName: h.table.tableName,
      Key: { pk: `CONV#${id}`, sk: 'RECORD' },
      UpdateExpression: 'SET #r = :r',
      ExpressionAttributeNames: { '#r': RECORD_ATTRIBUTES.record },
      ExpressionAttributeValues: { ':r': recordAttributes(record, stateOfItem(item)!)[RECORD_ATTRIBUTES.record] },
    }),
  );
}

function replayer(q: LocalQueue) {
  return createReplay({ webhooks: createDynamoDbStoredWebhooks(h.table.doc, h.table.tableName), queue: q });
}

describe('replay: stored webhooks through the work queue and the processor', () => {
  it('rebuilds a damaged record of one conversation exactly, aggregates unchanged, and a second replay changes nothing', async () => {
    await seed(['conv-a', 'conv-b']);
    const before = (await recordItem('conv-a'))!.record;
    const days = await h.agentDays('agent-r');
    expect(days[0]!.counters.conversations).toBe(2);
    await damage('conv-a');
    expect((await recordItem('conv-a'))!.record.turn_count).toBe(999);

    const q = queue();
    const first = await replayer(q)(replaySelection({ conversationId: 'conv-a' }));
    await q.drained();
    // started, ended, call_started, call_ended (the call's events included)
    expect(first).toEqual({ selected: 4, enqueued: 4, expired: 0 });
    expect((await recordItem('conv-a'))!.record).toEqual(before);
    expect(await h.agentDays('agent-r')).toEqual(days);

    const rev = (await recordItem('conv-a'))!.rev;
    const completed = h.bus.distinct('Conversation Completed').length;
    expect(await replayer(q)({ kind: 'conversation', conversationId: 'conv-a' })).toEqual(first);
    await q.drained();
    expect((await recordItem('conv-a'))!.rev).toBe(rev);
    expect(await h.agentDays('agent-r')).toEqual(days);
    expect(h.bus.distinct('Conversation Completed')).toHaveLength(completed);
  });

  it('rebuilds a deleted record from its stored webhooks, then counts it once when enriched', async () => {
    // Ended an hour ago (well within ENRICHMENT_GIVE_UP_HOURS) and ThreeTone has no details yet:
    // the conversation waits for them, not counted.
    const bodies = conversationScript({ conversationId: 'conv-d', agentId: 'agent-d', start: HARNESS_NOW - 3_600_000 }).map(body);
    await h.deliver(bodies);

    expect((await recordItem('conv-d'))!.record).toMatchObject({ status: 'ended', details_stored: false });
    expect((await h.agentDays('agent-d')).map((d) => d.counters.conversations).filter((n) => n > 0)).toEqual([]);
    await h.table.doc.send(new DeleteCommand({ TableName: h.table.tableName, Key: { pk: 'CONV#conv-d', sk: 'RECORD' } }));

    const q = queue();
    expect(await replayer(q)({ kind: 'conversation', conversationId: 'conv-d' })).toMatchObject({ enqueued: bodies.length });
    await q.drained();
    expect((await recordItem('conv-d'))!.record).toMatchObject({ status: 'ended', details_stored: false });
    h.api.details.set('conv-d', detailsOf('conv-d', 'agent-d'));
    h.advance(600_000); // past the enricher's backoff
    await h.settle();

    const record = (await recordItem('conv-d'))!.record;
    expect(record).toMatchObject({ status: 'ended', details_stored: true, enrichment: 'done', turn_count: 2 });
    expect((await h.agentDays('agent-d')).map((d) => d.counters.conversations)).toEqual([1]);
    expect(h.bus.distinct('Conversation Completed').filter((e) => e.detail.conversation_id === 'conv-d')).toHaveLength(1);
  });

  it('replays a time range of acceptance (every conversation in it, none outside), idempotently', async () => {
    await seed(['conv-1', 'conv-2', 'conv-3']);
    const days = await h.agentDays('agent-r');
    for (const id of ['conv-1', 'conv-2', 'conv-3']) await damage(id);
    const rightAfter = new Date(Date.now() + 1000).toISOString();

    const q = queue();
    const none = await replayer(q)(replaySelection({ from: rightAfter, to: new Date(Date.now() + 3_600_000).toISOString() }));
    expect(none).toEqual({ selected: 0, enqueued: 0, expired: 0 });
    expect((await recordItem('conv-2'))!.record.turn_count).toBe(999);

    const range = replaySelection({ from: new Date(Date.now() - 3_600_000).toISOString(), to: rightAfter });
    const r = await replayer(q)(range);
    await q.drained();
    expect(r).toEqual({ selected: 12, enqueued: 12, expired: 0 });
    for (const id of ['conv-1', 'conv-2', 'conv-3']) expect((await recordItem(id))!.record).toMatchObject({ turn_count: 2, duration_seconds: 180 });
    expect(await h.agentDays('agent-r')).toEqual(days);

    await replayer(q)(range);
    await q.drained();
    expect(await h.agentDays('agent-r')).toEqual(days);
  });

  it('sends each body exactly as signed, and counts bodies past their retention as expired', async () => {
    const text = '{ "event":"conversation_started", "timestamp":"2026-11-20T09:00:00Z", "data":{"conversation_id":"conv-x","agent_id":"a-x","n":12345678901234567890} }';
    await h.deliver([text]);
    await h.deliver([body(conversationScript({ conversationId: 'conv-x', agentId: 'a-x', start: DAY_START, ongoing: true })[0]!)]);
    const sent: string[] = [];
    const r = await createReplay({ webhooks: createDynamoDbStoredWebhooks(h.table.doc, h.table.tableName), queue: { send: async (m) => void sent.push(m.body) } })({
      kind: 'conversation',
      conversationId: 'conv-x',
    });
    expect(r).toEqual({ selected: 2, enqueued: 2, expired: 0 });
    expect(sent).toContain(text);

    // a clock past RAW_EVENT_RETENTION_DAYS (30): the bodies' TTL has passed, the facts remain
    const later = createDynamoDbStoredWebhooks(h.table.doc, h.table.tableName, { now: () => new Date(Date.now() + 31 * 86_400_000) });
    expect(await createReplay({ webhooks: later, queue: { send: async () => undefined } })({ kind: 'conversation', conversationId: 'conv-x' })).toEqual({
      selected: 2,
      enqueued: 0,
      expired: 2,
    });
  });

  it('refuses an unclear selection with a message naming the problem', () => {
    expect(() => replaySelection({})).toThrow(/conversation id, or both from and to/);
    expect(() => replaySelection({ conversationId: 'c', from: '2026-01-01' })).toThrow(/not both/);
    expect(() => replaySelection({ from: 'yesterday', to: '2026-01-01' })).toThrow(/ISO-8601/);
    expect(() => replaySelection({ from: '2026-01-02', to: '2026-01-01' })).toThrow(/not be after/);
    expect(replaySelection({ from: '2026-01-01', to: '2026-01-01T10:00:00+01:00' })).toEqual({ kind: 'range', from: '2026-01-01T00:00:00.000Z', to: '2026-01-01T09:00:00.000Z' });
  });
});

describe('redrive: dead letters back to the work queue', () => {
  /** A processor that fails every batch while `broken` (a bad deploy), the real one otherwise. */
  function breakable() {
    const state = { broken: true };
    const consumer = async (e: SQSEvent) => {
      if (state.broken) throw new Error('processor broken');
      return h.handler(e);
    };
    return { state, consumer };
  }
  const dlqLines = async () => (await readFile(join(dir, 'dlq.jsonl'), 'utf8').catch(() => '')).split('\n').filter((l) => l.trim() !== '');

  it('moves dead letters back with their receive count reset; once processed, each conversation counts once', async () => {
    h.api.details.set('conv-r', detailsOf('conv-r', 'agent-x'));
    const bodies = conversationScript({ conversationId: 'conv-r', agentId: 'agent-x', start: DAY_START }).map(body);
    const p = breakable();
    const q = queue(p.consumer, { maxReceiveCount: 2 });
    for (const b of bodies) await q.send({ body: b, receivedAt: new Date().toISOString() });
    await q.drained();
    expect(await dlqLines()).toHaveLength(bodies.length);
    expect(q.stats().deadLettered).toBe(bodies.length);
    expect(await recordItem('conv-r')).toBeUndefined();

    p.state.broken = false;
    const counts: string[] = [];
    const spy = (e: SQSEvent) => (counts.push(...e.Records.map((r) => r.attributes.ApproximateReceiveCount)), h.handler(e));
    await q.stop();
    const q2 = queue(spy, { maxReceiveCount: 2, start: false });
    const moved = await q2.redrive();
    expect(moved.moved).toBe(bodies.length);
    expect(await dlqLines()).toEqual([]);
    q2.start(async (e) => void (await spy(e)));
    await q2.drained();
    await h.settle();

    expect(counts.every((c) => c === '1')).toBe(true);
    expect((await recordItem('conv-r'))!.record).toMatchObject({ status: 'ended', details_stored: true });
    expect((await h.agentDays('agent-x')).map((d) => d.counters.conversations)).toEqual([1]);
    expect(q2.stats().deadLettered).toBe(0);
  });

  it('redrives while the queue runs, and a dead letter written meanwhile is not lost', async () => {
    const p = breakable();
    const q = queue(p.consumer, { maxReceiveCount: 1 });
    const [first, second] = conversationScript({ conversationId: 'conv-m', agentId: 'agent-m', start: DAY_START, ongoing: true }).map(body);
    await q.send({ body: first!, receivedAt: new Date().toISOString() });
    await q.drained();
    expect(await dlqLines()).toHaveLength(1);

    // a redrive and a new dead letter at the same time: both end up somewhere, nothing vanishes
    const [r] = await Promise.all([q.redrive(), q.send({ body: second ?? first!, receivedAt: new Date().toISOString() })]);
    await q.drained();
    expect(r.moved).toBeGreaterThanOrEqual(1);
    const letters = (await dlqLines()).map((l) => JSON.parse(l) as { body: string });
    expect(letters.length).toBeGreaterThanOrEqual(1); // still failing while broken: back in the DLQ

    p.state.broken = false;
    const again = await q.redrive();
    expect(again.moved).toBe(letters.length);
    await q.drained();
    expect(await dlqLines()).toEqual([]);
    expect((await recordItem('conv-m'))!.record).toMatchObject({ status: 'active' });
  });

  it('a crash between queueing and clearing the DLQ loses nothing: the next redrive queues a duplicate, counted once', async () => {
    h.api.details.set('conv-c', detailsOf('conv-c', 'agent-c'));
    const bodies = conversationScript({ conversationId: 'conv-c', agentId: 'agent-c', start: DAY_START }).map(body);
    const p = breakable();
    const q = queue(p.consumer, { maxReceiveCount: 1 });
    for (const b of bodies) await q.send({ body: b, receivedAt: new Date().toISOString() });
    await q.drained();
    await q.stop();
    const letters = await dlqLines();
    expect(letters).toHaveLength(bodies.length);

    // The process dies after the messages are journaled, before dlq.jsonl is rewritten.
    const crashing = createLocalQueue({ dir });
    await expect(crashing.redrive({ afterEnqueue: () => Promise.reject(new Error('crash')) })).rejects.toThrow('crash');
    // (no stop: the on-disk state is what a crash leaves) — the letters are still in the DLQ
    expect(await dlqLines()).toEqual(letters);

    const restarted = queue((e) => h.handler(e), { start: false });
    expect(restarted.stats().visible).toBe(bodies.length); // journaled by the crashed redrive
    expect((await restarted.redrive()).moved).toBe(bodies.length);
    expect(restarted.stats().visible).toBe(2 * bodies.length); // duplicates, never a loss
    expect(await dlqLines()).toEqual([]);
    restarted.start(async (e) => void (await h.handler(e)));
    await restarted.drained();
    await h.settle();
    expect((await h.agentDays('agent-c')).map((d) => d.counters.conversations)).toEqual([1]);
    expect(h.bus.distinct('Conversation Completed').filter((e) => e.detail.conversation_id === 'conv-c')).toHaveLength(1);
  });

  it('keeps an unreadable DLQ line and moves nothing when the DLQ is empty; refuses a queue folder held by a live process', async () => {
    await writeFile(join(dir, 'dlq.jsonl'), '{"messageId":"m-1","body":"x","receivedAt":"2026-11-20T09:00:00.000Z"}\n{"torn\n');
    const q = queue(undefined, { start: false });
    expect((await q.redrive()).messageIds).toEqual(['m-1']);
    expect(await dlqLines()).toEqual(['{"torn']);
    expect((await q.redrive()).moved).toBe(0);
    await q.stop();

    await writeFile(join(dir, 'queue.lock'), String(process.ppid));
    expect(() => createLocalQueue({ dir })).toThrow(/in use by process/);
    await writeFile(join(dir, 'queue.lock'), '999999999'); // a process that is gone: taken over
    queue(undefined, { start: false });
  });
});
