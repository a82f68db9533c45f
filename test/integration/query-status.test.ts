/**
 * `GET /conversations?status=` end to end: conversations written by the real processor into
 * DynamoDB Local, listed by the real query handler over the real adapter.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoDbQueries } from '#adapters/dynamodb-queries.js';
import type { ConversationRecord } from '#core/types.js';
import { createQueryHandler, type QueryHandler } from '#functions/query/query.js';
import { apiGatewayEvent } from '#test/helpers/api-gateway.js';
import { conversationScript } from '#test/helpers/envelopes.js';
import { body, createHarness, type Harness } from '#test/helpers/processor-harness.js';

let h: Harness;
let query: QueryHandler;

const START = Date.UTC(2024, 2, 1, 9, 0);
const minutes = (n: number) => START + n * 60_000;

/** Seven conversations over two agents: three still active, four ended, at distinct start times. */
const CONVERSATIONS = [
  { conversationId: 's-1', agentId: 'agent-a', start: minutes(0), ongoing: false },
  { conversationId: 's-2', agentId: 'agent-a', start: minutes(10), ongoing: true },
  { conversationId: 's-3', agentId: 'agent-b', start: minutes(20), ongoing: false },
  { conversationId: 's-4', agentId: 'agent-b', start: minutes(30), ongoing: true },
  { conversationId: 's-5', agentId: 'agent-a', start: minutes(40), ongoing: false },
  { conversationId: 's-6', agentId: 'agent-a', start: minutes(50), ongoing: true },
  { conversationId: 's-7', agentId: 'agent-b', start: 'day2', ongoing: false },
] as const;

beforeAll(async () => {
  h = await createHarness();
  const bodies: string[] = [];
  for (const c of CONVERSATIONS) {
    const start = c.start === 'day2' ? Date.UTC(2024, 2, 2, 9, 0) : c.start;
    h.api.details.set(c.conversationId, { conversation_id: c.conversationId, agent_id: c.agentId, duration_seconds: 120, transcript: [] });
    bodies.push(...conversationScript({ ...c, start, durationSeconds: 120 }).map(body));
  }
  const { deadLettered } = await h.deliver(bodies);
  expect(deadLettered).toEqual([]);
  query = createQueryHandler({ queries: createDynamoDbQueries(h.table.doc, h.table.tableName), config: { tableName: h.table.tableName, apiKey: undefined } });
});

afterAll(() => h?.close());

async function list(params: Record<string, string>): Promise<{ status: number; items: ConversationRecord[]; next_cursor: string | null }> {
  const res = await query(apiGatewayEvent('GET', '/conversations', { query: params }));
  const parsed = JSON.parse(res.body ?? 'null');
  return { status: res.statusCode ?? 0, items: parsed.items ?? [], next_cursor: parsed.next_cursor ?? null };
}

const ids = (items: ConversationRecord[]) => items.map((r) => r.conversation_id);

describe('GET /conversations?status=', () => {
  it('lists only active conversations, newest first, in one request', async () => {
    const page = await list({ status: 'active' });

    expect(page.status).toBe(200);
    expect(ids(page.items)).toEqual(['s-6', 's-4', 's-2']);
    expect(page.items.every((r) => r.status === 'active' && r.ended_at === null)).toBe(true);
    expect(page.next_cursor).toBeNull();
  });

  it('lists only ended conversations', async () => {
    const page = await list({ status: 'ended' });

    expect(ids(page.items)).toEqual(['s-7', 's-5', 's-3', 's-1']);
    expect(page.items.every((r) => r.status === 'ended')).toBe(true);
  });

  it('combines with agent_id, from and to', async () => {
    expect(ids((await list({ status: 'active', agent_id: 'agent-a' })).items)).toEqual(['s-6', 's-2']);
    expect(ids((await list({ status: 'ended', agent_id: 'agent-b' })).items)).toEqual(['s-7', 's-3']);
    expect(ids((await list({ status: 'ended', from: '2024-03-01T09:20:00Z', to: '2024-03-01' })).items)).toEqual(['s-5', 's-3']);
    expect(ids((await list({ status: 'active', agent_id: 'agent-b', to: '2024-03-01T09:29:59Z' })).items)).toEqual([]);
  });

  it('pages through the filtered listing with the cursor, without repeats or gaps', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await list({ status: 'ended', limit: '1', ...(cursor ? { cursor } : {}) });
      expect(page.status).toBe(200);
      seen.push(...ids(page.items));
      cursor = page.next_cursor;
      pages++;
    } while (cursor && pages < 10);

    expect(seen).toEqual(['s-7', 's-5', 's-3', 's-1']);
  });

  it('answers 400 for any other status value', async () => {
    const res = await query(apiGatewayEvent('GET', '/conversations', { query: { status: 'completed' } }));

    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body ?? '{}').error.code).toBe('invalid_parameter');
  });
});
