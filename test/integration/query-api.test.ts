/**
 * Query API end to end on DynamoDB Local: the real adapter and the real handler. Records are seeded
 * through the store's own commit, so the reader is tested against the writer; transcript chunks and
 * agent days are written as docs/data-model.md lays them out, including layouts the writer avoids
 * (a stale chunk, an empty one), so the reader's tolerance is tested too.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoDbConversationStore } from '#adapters/dynamodb-conversation-store.js';
import { createDynamoDbQueries } from '#adapters/dynamodb-queries.js';
import { keys } from '#adapters/table-schema.js';
import { compressJson } from '#adapters/compressed-json.js';
import type { ConversationRecord, TranscriptTurn } from '#core/types.js';
import { createQueryHandler, type QueryHandler } from '#functions/query/query.js';
import { createTestTable, type TestTable } from '#test/helpers/dynamodb.js';
import { apiGatewayEvent } from '#test/helpers/api-gateway.js';
import { conversationRecord } from '#test/helpers/records.js';

// ---------------------------------------------------------------- seeding (docs/data-model.md)

const PAST = Math.floor(Date.now() / 1000) - 3600;

const record = (id: string, agentId: string, startedAt: string, overrides: Partial<ConversationRecord> = {}): ConversationRecord =>
  conversationRecord({
    conversation_id: id,
    agent_id: agentId,
    call_id: `call-${id}`,
    started_at: startedAt,
    ended_at: new Date(Date.parse(startedAt) + 120_000).toISOString(),
    duration_seconds: 120,
    turn_count: 6,
    satisfaction_score: null,
    transcript_turns: 0,
    ...overrides,
  });

/**
 * A record as the processor commits it (the store's own writer, so reader and writer meet), kept
 * `retentionDays` from `at` (0: no expiry).
 */
async function putRecord(t: TestTable, r: ConversationRecord, opts: { retentionDays?: number; at?: number } = {}) {
  const store = createDynamoDbConversationStore(t.doc, t.tableName, {
    retention: { rawEventDays: 0, transcriptDays: 0, recordDays: opts.retentionDays ?? 0 },
    now: () => opts.at ?? Date.now(),
  });
  await store.commit({
    conversationId: r.conversation_id,
    expectedRev: null,
    record: r,
    state: { details: null, transcript: null, contribution: null, published: { started: true, completed: true, escalations: [], alerts: [] } },
    sortTime: r.started_at ?? r.ended_at!,
    aggregateDeltas: [],
    outbox: [],
  });
}

async function putTranscriptChunk(t: TestTable, id: string, chunk: number, chunks: number, turns: TranscriptTurn[], expiresAt?: number) {
  await t.doc.send(
    new PutCommand({
      TableName: t.tableName,
      Item: {
        pk: `CONV#${id}`,
        sk: `TRANSCRIPT#${String(chunk).padStart(4, '0')}`,
        turns_gz: compressJson(turns),
        chunk,
        chunks,
        ...(expiresAt !== undefined && { expires_at: expiresAt }),
      },
    }),
  );
}

async function putAgentDay(t: TestTable, agentId: string, date: string, counters: Record<string, number>, topics: Record<string, number> = {}) {
  await t.doc.send(
    new PutCommand({
      TableName: t.tableName,
      Item: {
        pk: keys.agent(agentId),
        sk: keys.dayShard(date, 0),
        agent_id: agentId,
        date,
        ...counters,
        ...Object.fromEntries(Object.entries(topics).map(([name, n]) => [`topic:${name}`, n])),
      },
    }),
  );
}

// ---------------------------------------------------------------- request helpers

const get = (path: string, query?: Record<string, string>) => apiGatewayEvent('GET', path, query ? { query } : {});

async function call(handler: QueryHandler, path: string, query?: Record<string, string>) {
  const res = await handler(get(path, query));
  return { status: res.statusCode, body: JSON.parse(res.body ?? 'null') };
}

const ids = (body: { items: ConversationRecord[] }) => body.items.map((r) => r.conversation_id);

// ---------------------------------------------------------------- tests

describe('query API on DynamoDB Local', () => {
  let table: TestTable;
  let handler: QueryHandler;

  // Newest first overall: c6 (b), c5 & c4 share an instant (a, b), c3 (a), c2 (b), c1 (a); cx expired.
  const records = [
    record('c1', 'agent-a', '2024-03-01T08:00:00.000Z', { satisfaction_score: 4.2, topics: ['billing', 'refund'] }),
    record('c2', 'agent-b', '2024-03-01T09:00:00.000Z'),
    record('c3', 'agent-a', '2024-03-02T10:00:00.000Z'),
    record('c4', 'agent-a', '2024-03-02T12:00:00.000Z', { status: 'active', ended_at: null, duration_seconds: null }),
    record('c5', 'agent-b', '2024-03-02T12:00:00.000Z'),
    record('c6', 'agent-b', '2024-03-03T00:00:00.000Z'),
  ];

  beforeAll(async () => {
    table = await createTestTable();
    handler = createQueryHandler({
      queries: createDynamoDbQueries(table.doc, table.tableName),
      config: { tableName: table.tableName, apiKey: undefined },
      now: () => new Date('2024-03-10T12:00:00.000Z'),
    });
    // c6 expires tomorrow (still served); cx expired yesterday, waiting for DynamoDB's TTL to delete it.
    for (const r of records) await putRecord(table, r, r.conversation_id === 'c6' ? { retentionDays: 1 } : {});
    await putRecord(table, record('cx', 'agent-a', '2024-03-02T11:00:00.000Z'), { retentionDays: 1, at: Date.now() - 2 * 86_400_000 });
  });
  afterAll(() => table.drop());

  describe('GET /conversations/{id}', () => {
    it('round-trips the stored record exactly', async () => {
      const res = await call(handler, '/conversations/c1');

      expect(res.status).toBe(200);
      expect(res.body).toEqual(records[0]);
    });

    it('answers 404 for an unknown conversation', async () => {
      const res = await call(handler, '/conversations/nope');

      expect(res).toEqual({ status: 404, body: { error: { code: 'not_found', message: expect.any(String) } } });
    });

    it('hides a record past its TTL (DynamoDB deletes it only eventually) but keeps one not yet expired', async () => {
      expect((await call(handler, '/conversations/cx')).status).toBe(404);
      expect((await call(handler, '/conversations/c6')).status).toBe(200);
    });
  });

  describe('GET /conversations/{id}/transcript', () => {
    const turn = (i: number): TranscriptTurn => ({ role: i % 2 ? 'user' : 'agent', message: `turn ${i}`, time_in_call_secs: i * 5, interrupted: false });

    beforeAll(async () => {
      // Written out of order: the answer follows the chunk numbers.
      await putTranscriptChunk(table, 't1', 2, 3, [turn(4)]);
      await putTranscriptChunk(table, 't1', 0, 3, [turn(0), turn(1)]);
      await putTranscriptChunk(table, 't1', 1, 3, [turn(2), turn(3)]);
      await putTranscriptChunk(table, 't-expired', 0, 1, [turn(0)], PAST);
      await putTranscriptChunk(table, 't-empty', 0, 1, []);
      // A leftover chunk of an older, longer version (chunk 0 now says 1 chunk).
      await putTranscriptChunk(table, 't-shrunk', 0, 1, [turn(0)]);
      await putTranscriptChunk(table, 't-shrunk', 1, 2, [turn(9)]);
    });

    it('concatenates the chunks in order', async () => {
      const res = await call(handler, '/conversations/t1/transcript');

      expect(res.status).toBe(200);
      expect(res.body).toEqual({ conversation_id: 't1', turns: [0, 1, 2, 3, 4].map(turn) });
    });

    it('answers 404 when no chunk exists or all have expired', async () => {
      expect((await call(handler, '/conversations/c1/transcript')).status).toBe(404);
      expect((await call(handler, '/conversations/t-expired/transcript')).status).toBe(404);
    });

    it('answers an empty transcript as 200 with no turns', async () => {
      expect(await call(handler, '/conversations/t-empty/transcript')).toEqual({ status: 200, body: { conversation_id: 't-empty', turns: [] } });
    });

    it('ignores chunks beyond the count chunk 0 declares', async () => {
      expect((await call(handler, '/conversations/t-shrunk/transcript')).body.turns).toEqual([turn(0)]);
    });
  });

  describe('GET /conversations', () => {
    it('lists every live record newest first (ties by id, descending), without the expired one', async () => {
      const res = await call(handler, '/conversations');

      expect(res.status).toBe(200);
      expect(ids(res.body)).toEqual(['c6', 'c5', 'c4', 'c3', 'c2', 'c1']);
      expect(res.body.next_cursor).toBeNull();
      expect(res.body.items[5]).toEqual(records[0]);
    });

    it('filters by agent', async () => {
      expect(ids((await call(handler, '/conversations', { agent_id: 'agent-a' })).body)).toEqual(['c4', 'c3', 'c1']);
      expect(ids((await call(handler, '/conversations', { agent_id: 'agent-b' })).body)).toEqual(['c6', 'c5', 'c2']);
      expect(ids((await call(handler, '/conversations', { agent_id: 'nobody' })).body)).toEqual([]);
    });

    it('includes both bounds, including every conversation at the exact `to` instant', async () => {
      const exact = await call(handler, '/conversations', { from: '2024-03-01T09:00:00.000Z', to: '2024-03-02T12:00:00Z' });
      const sameInstant = await call(handler, '/conversations', { from: '2024-03-02T12:00:00Z', to: '2024-03-02T12:00:00Z' });
      const byAgent = await call(handler, '/conversations', { agent_id: 'agent-b', from: '2024-03-02T12:00:00Z', to: '2024-03-02T12:00:00Z' });

      expect(ids(exact.body)).toEqual(['c5', 'c4', 'c3', 'c2']);
      expect(ids(sameInstant.body)).toEqual(['c5', 'c4']);
      expect(ids(byAgent.body)).toEqual(['c5']);
    });

    it('reads dates as whole UTC days, and one-sided bounds', async () => {
      const day = await call(handler, '/conversations', { from: '2024-03-02', to: '2024-03-02' });
      const onlyFrom = await call(handler, '/conversations', { from: '2024-03-02T12:00:00Z' });
      const onlyTo = await call(handler, '/conversations', { to: '2024-03-01' });

      expect(ids(day.body)).toEqual(['c5', 'c4', 'c3']);
      expect(ids(onlyFrom.body)).toEqual(['c6', 'c5', 'c4']);
      expect(ids(onlyTo.body)).toEqual(['c2', 'c1']);
    });

    it.each([
      [{}, ['c6', 'c5', 'c4', 'c3', 'c2', 'c1']],
      [{ agent_id: 'agent-a' }, ['c4', 'c3', 'c1']],
      [{ from: '2024-03-01T09:00:00Z', to: '2024-03-02T12:00:00Z' }, ['c5', 'c4', 'c3', 'c2']],
    ])('pages with limit=2 through %o, every item exactly once, ending with a null cursor', async (filters, expected) => {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res = await call(handler, '/conversations', { ...filters, limit: '2', ...(cursor && { cursor }) });
        expect(res.status).toBe(200);
        expect(res.body.items.length).toBeLessThanOrEqual(2);
        seen.push(...ids(res.body));
        cursor = res.body.next_cursor;
        pages++;
      } while (cursor && pages < 10);

      expect(seen).toEqual(expected);
      expect(pages).toBe(Math.ceil(expected.length / 2));
    });

    it('skips an expired record inside a page and still fills the page', async () => {
      // cx (expired) sorts between c4 and c3 for agent-a.
      const first = await call(handler, '/conversations', { agent_id: 'agent-a', limit: '1' });
      const second = await call(handler, '/conversations', { agent_id: 'agent-a', limit: '1', cursor: first.body.next_cursor });

      expect(ids(first.body)).toEqual(['c4']);
      expect(ids(second.body)).toEqual(['c3']);
      expect(second.body.next_cursor).not.toBeNull();
    });

    it('answers 400 invalid_cursor for a malformed cursor or one from another listing or range', async () => {
      const allFirstPage = await call(handler, '/conversations', { limit: '1' });
      const allCursor: string = allFirstPage.body.next_cursor;
      const forged = Buffer.from(JSON.stringify({ pk: 'CONV#c1', sk: 'RECORD', gsi2pk: 'OUTBOX', gsi2sk: 'x' })).toString('base64url');

      const cases: Record<string, string>[] = [
        { cursor: 'not-base64-json' },
        { cursor: Buffer.from('[1,2]').toString('base64url') },
        { cursor: forged },
        { cursor: allCursor, agent_id: 'agent-a' },
        { cursor: allCursor, to: '2024-03-01' },
      ];
      for (const query of cases) {
        const res = await call(handler, '/conversations', query);
        expect(res, JSON.stringify(query)).toEqual({ status: 400, body: { error: { code: 'invalid_cursor', message: expect.any(String) } } });
      }
    });
  });

  describe('GET /agents/{agent_id}/metrics', () => {
    beforeAll(async () => {
      await putAgentDay(
        table,
        'agent-m',
        '2024-03-05',
        {
          conversations: 2,
          resolved: 1,
          duration_ms_sum: 300_000,
          duration_n: 2,
          turns_sum: 10,
          turns_n: 2,
          satisfaction_milli_sum: 4500,
          satisfaction_n: 1,
          escalations: 1,
        },
        { billing: 2, refund: 1 },
      );
      // Written before the earlier day, and missing counters (count as 0).
      await putAgentDay(table, 'agent-m', '2024-03-07', { conversations: 1, resolved: 1, duration_ms_sum: 60_000, duration_n: 1 }, { billing: 1, shipping: 1 });
      await putAgentDay(table, 'agent-m', '2024-03-03', { conversations: 1, resolved: 0, satisfaction_milli_sum: 2000, satisfaction_n: 1 }, { billing: 1 });
      // A day whose only conversation moved away (a correction): counters back to 0.
      await putAgentDay(table, 'agent-m', '2024-03-06', { conversations: 0, resolved: 0, duration_ms_sum: 0, duration_n: 0 }, { billing: 0 });
      // Outside the range asked for, and another agent.
      await putAgentDay(table, 'agent-m', '2024-03-09', { conversations: 5, resolved: 5 });
      await putAgentDay(table, 'agent-n', '2024-03-05', { conversations: 7, resolved: 7 });
    });

    it('sums the days, with averages over the conversations that have a value', async () => {
      const res = await call(handler, '/agents/agent-m/metrics', { from: '2024-03-03', to: '2024-03-08' });

      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        agent_id: 'agent-m',
        from: '2024-03-03',
        to: '2024-03-08',
        conversations: 4,
        resolved: 2,
        resolution_rate: 0.5,
        avg_duration_seconds: 120,
        avg_turn_count: 5,
        avg_satisfaction: 3.25,
        escalations: 1,
        topics: { billing: 4, refund: 1, shipping: 1 },
        days: [
          {
            date: '2024-03-03',
            conversations: 1,
            resolved: 0,
            resolution_rate: 0,
            avg_duration_seconds: null,
            avg_turn_count: null,
            avg_satisfaction: 2,
            escalations: 0,
            topics: { billing: 1 },
          },
          {
            date: '2024-03-05',
            conversations: 2,
            resolved: 1,
            resolution_rate: 0.5,
            avg_duration_seconds: 150,
            avg_turn_count: 5,
            avg_satisfaction: 4.5,
            escalations: 1,
            topics: { billing: 2, refund: 1 },
          },
          {
            date: '2024-03-07',
            conversations: 1,
            resolved: 1,
            resolution_rate: 1,
            avg_duration_seconds: 60,
            avg_turn_count: null,
            avg_satisfaction: null,
            escalations: 0,
            topics: { billing: 1, shipping: 1 },
          },
        ],
      });
    });

    it('answers zeros and nulls for a range without conversations', async () => {
      const res = await call(handler, '/agents/agent-m/metrics', { from: '2024-01-01', to: '2024-01-31' });

      expect(res.body).toEqual({
        agent_id: 'agent-m',
        from: '2024-01-01',
        to: '2024-01-31',
        conversations: 0,
        resolved: 0,
        resolution_rate: null,
        avg_duration_seconds: null,
        avg_turn_count: null,
        avg_satisfaction: null,
        escalations: 0,
        topics: {},
        days: [],
      });
    });

    it('defaults to the last 7 UTC days, today included', async () => {
      const res = await call(handler, '/agents/agent-m/metrics');

      expect(res.body).toMatchObject({ from: '2024-03-04', to: '2024-03-10', conversations: 8 });
      expect(res.body.days.map((d: { date: string }) => d.date)).toEqual(['2024-03-05', '2024-03-07', '2024-03-09']);
    });
  });
});
