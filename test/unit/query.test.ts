import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { emptyCounters, type AgentDay } from '#core/aggregates.js';
import type { ConversationRecord, TranscriptTurn } from '#core/types.js';
import { type ConversationPage, type ConversationQueries, InvalidCursorError } from '#functions/ports.js';
import { createQueryHandler } from '#functions/query/query.js';
import { apiGatewayEvent } from '#test/helpers/api-gateway.js';
import { conversationRecord } from '#test/helpers/records.js';

// ---------------------------------------------------------------- arrange helpers

const apiEvent = (method: string, path: string, opts: { query?: Record<string, string>; headers?: Record<string, string>; stage?: string } = {}) =>
  apiGatewayEvent(method, path, opts);

const record = (id: string, overrides: Partial<ConversationRecord> = {}): ConversationRecord =>
  conversationRecord({ conversation_id: id, agent_id: 'agent-1', ...overrides });

/** In-memory port: records the calls it received, so tests can assert on what the handler asked for. */
function fakeQueries(
  data: { records?: ConversationRecord[]; transcripts?: Record<string, TranscriptTurn[]>; days?: AgentDay[]; webhooks?: Record<string, string> } = {},
) {
  const calls: { listConversations: Parameters<ConversationQueries['listConversations']>[0][]; getAgentDays: [string, string, string][] } = {
    listConversations: [],
    getAgentDays: [],
  };
  const queries: ConversationQueries = {
    async getRecord(id) {
      return data.records?.find((r) => r.conversation_id === id) ?? null;
    },
    async getTranscript(id) {
      return data.transcripts?.[id] ?? null;
    },
    async getWebhook(key) {
      return data.webhooks?.[key] ?? null;
    },
    async listConversations(params): Promise<ConversationPage> {
      calls.listConversations.push(params);
      if (params.cursor === 'bad') throw new InvalidCursorError();
      const items = (data.records ?? []).slice(0, params.limit);
      return { items, nextCursor: (data.records ?? []).length > params.limit ? 'next' : null };
    },
    async getAgentDays(agentId, from, to) {
      calls.getAgentDays.push([agentId, from, to]);
      return (data.days ?? []).filter((d) => d.date >= from && d.date <= to);
    },
  };
  return { queries, calls };
}

const NOW = new Date('2024-03-10T15:30:00.000Z');

function handlerWith(data: Parameters<typeof fakeQueries>[0] = {}, apiKey?: string) {
  const fake = fakeQueries(data);
  const handler = createQueryHandler({ queries: fake.queries, config: { tableName: 'unused', apiKey }, now: () => NOW });
  return { handler, calls: fake.calls };
}

const body = (res: { body?: string }) => JSON.parse(res.body ?? 'null');

// ---------------------------------------------------------------- tests

describe('query API: routing', () => {
  it('GET /conversations/{id} answers the record', async () => {
    const { handler } = handlerWith({ records: [record('c1')] });

    const res = await handler(apiEvent('GET', '/conversations/c1'));

    expect(res.statusCode).toBe(200);
    expect(res.headers?.['content-type']).toMatch(/^application\/json/);
    expect(body(res)).toEqual(record('c1'));
  });

  it('GET /conversations/{id} answers 404 in the error shape for an unknown id', async () => {
    const { handler } = handlerWith();

    const res = await handler(apiEvent('GET', '/conversations/nope'));

    expect(res.statusCode).toBe(404);
    expect(body(res)).toEqual({ error: { code: 'not_found', message: expect.any(String) } });
  });

  it('decodes percent-encoded path parameters (an encoded slash stays in the id)', async () => {
    const { handler } = handlerWith({ records: [record('a/b c')] });

    const res = await handler(apiEvent('GET', '/conversations/a%2Fb%20c'));

    expect(res.statusCode).toBe(200);
    expect(body(res).conversation_id).toBe('a/b c');
  });

  it('answers 400 for a malformed percent-encoding', async () => {
    const { handler } = handlerWith();

    const res = await handler(apiEvent('GET', '/conversations/%E0%A4%A'));

    expect(res.statusCode).toBe(400);
    expect(body(res).error.code).toBe('invalid_parameter');
  });

  it('GET /conversations/{id}/transcript answers {conversation_id, turns}, or 404', async () => {
    const turns: TranscriptTurn[] = [{ role: 'agent', message: 'Hello', time_in_call_secs: 0 }];
    const { handler } = handlerWith({ transcripts: { c1: turns } });

    const found = await handler(apiEvent('GET', '/conversations/c1/transcript'));
    const missing = await handler(apiEvent('GET', '/conversations/c2/transcript'));

    expect(found.statusCode).toBe(200);
    expect(body(found)).toEqual({ conversation_id: 'c1', turns });
    expect(missing.statusCode).toBe(404);
    expect(body(missing).error.code).toBe('not_found');
  });

  it('GET /conversations answers {items, next_cursor} with null at the end', async () => {
    const { handler } = handlerWith({ records: [record('c1'), record('c2')] });

    const res = await handler(apiEvent('GET', '/conversations'));

    expect(res.statusCode).toBe(200);
    expect(body(res)).toEqual({ items: [record('c1'), record('c2')], next_cursor: null });
  });

  it('tolerates a trailing slash and strips a named stage from rawPath', async () => {
    const { handler } = handlerWith({ records: [record('c1')] });

    const slash = await handler(apiEvent('GET', '/conversations/c1/'));
    const staged = await handler(apiEvent('GET', '/prod/conversations/c1', { stage: 'prod' }));

    expect(slash.statusCode).toBe(200);
    expect(staged.statusCode).toBe(200);
  });

  it.each(['/', '/conversation', '/conversations/c1/transcript/x', '/agents/a1', '/agents//metrics', '/conversations//transcript'])(
    'answers 404 for an unknown path %s',
    async (path) => {
      const { handler } = handlerWith();

      const res = await handler(apiEvent('GET', path));

      expect(res.statusCode).toBe(404);
      expect(body(res).error.code).toBe('not_found');
    },
  );

  it.each([
    ['POST', '/conversations'],
    ['DELETE', '/conversations/c1'],
    ['PUT', '/conversations/c1/transcript'],
    ['POST', '/agents/a1/metrics'],
  ])('answers 405 with Allow: GET for %s %s', async (method, path) => {
    const { handler } = handlerWith({ records: [record('c1')] });

    const res = await handler(apiEvent(method, path));

    expect(res.statusCode).toBe(405);
    expect(res.headers?.allow).toBe('GET');
    expect(body(res).error.code).toBe('method_not_allowed');
  });

  it('answers a generic 500 when the storage fails, without internals', async () => {
    const { queries } = fakeQueries();
    queries.getRecord = async () => {
      throw new Error('ProvisionedThroughputExceededException: table xyz');
    };
    const handler = createQueryHandler({ queries, config: { tableName: 't', apiKey: undefined } });

    const res = await handler(apiEvent('GET', '/conversations/c1'));

    expect(res.statusCode).toBe(500);
    expect(body(res).error.code).toBe('internal_error');
    expect(res.body).not.toContain('xyz');
  });
});

describe('query API: local API key', () => {
  it('answers 401 without or with a wrong x-api-key, before routing', async () => {
    const { handler } = handlerWith({ records: [record('c1')] }, 'secret-key');

    const missing = await handler(apiEvent('GET', '/conversations/c1'));
    const wrong = await handler(apiEvent('GET', '/conversations/c1', { headers: { 'x-api-key': 'secret-kez' } }));
    const shorter = await handler(apiEvent('GET', '/conversations/c1', { headers: { 'x-api-key': 'secret' } }));
    const unknownPath = await handler(apiEvent('GET', '/admin'));

    for (const res of [missing, wrong, shorter, unknownPath]) {
      expect(res.statusCode).toBe(401);
      expect(body(res)).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
    }
  });

  it('accepts the right key, whatever the header name case', async () => {
    const { handler } = handlerWith({ records: [record('c1')] }, 'secret-key');

    const lower = await handler(apiEvent('GET', '/conversations/c1', { headers: { 'x-api-key': 'secret-key' } }));
    const mixed = await handler(apiEvent('GET', '/conversations/c1', { headers: { 'X-Api-Key': 'secret-key' } }));

    expect(lower.statusCode).toBe(200);
    expect(mixed.statusCode).toBe(200);
  });

  it('needs no key when none is configured (AWS: IAM authorizes at API Gateway)', async () => {
    const { handler } = handlerWith({ records: [record('c1')] });

    const res = await handler(apiEvent('GET', '/conversations/c1', { headers: { 'x-api-key': 'anything' } }));

    expect(res.statusCode).toBe(200);
  });
});

describe('query API: GET /conversations parameters', () => {
  it('passes the default limit 50 and no filters', async () => {
    const { handler, calls } = handlerWith();

    await handler(apiEvent('GET', '/conversations'));

    expect(calls.listConversations).toEqual([{ limit: 50 }]);
  });

  it('normalizes dates to the first and last millisecond of the day, and instants to UTC ISO', async () => {
    const { handler, calls } = handlerWith();

    await handler(apiEvent('GET', '/conversations', { query: { agent_id: 'a1', from: '2024-03-01', to: '2024-03-02', limit: '10', cursor: 'abc_-9' } }));
    await handler(apiEvent('GET', '/conversations', { query: { from: '2024-03-01T12:00:00+02:00', to: '2024-03-01T12:00Z' } }));

    expect(calls.listConversations).toEqual([
      { agentId: 'a1', from: '2024-03-01T00:00:00.000Z', to: '2024-03-02T23:59:59.999Z', limit: 10, cursor: 'abc_-9' },
      { from: '2024-03-01T10:00:00.000Z', to: '2024-03-01T12:00:00.000Z', limit: 50 },
    ]);
  });

  it('reads a "+" offset that arrived as a space, and rounds sub-millisecond digits inwards', async () => {
    const { handler, calls } = handlerWith();

    await handler(apiEvent('GET', '/conversations', { query: { from: '2024-03-01T12:00:00.0001 02:00', to: '2024-03-01T12:00:00.9999Z' } }));

    expect(calls.listConversations[0]).toMatchObject({ from: '2024-03-01T10:00:00.001Z', to: '2024-03-01T12:00:00.999Z' });
  });

  it('treats empty parameters as absent', async () => {
    const { handler, calls } = handlerWith();

    const res = await handler(apiEvent('GET', '/conversations', { query: { agent_id: '', from: '', to: '', limit: '', cursor: '' } }));

    expect(res.statusCode).toBe(200);
    expect(calls.listConversations).toEqual([{ limit: 50 }]);
  });

  it('reads rawQueryString when queryStringParameters is absent', async () => {
    const { handler, calls } = handlerWith();
    const event = apiEvent('GET', '/conversations');
    event.rawQueryString = 'limit=3&agent_id=a%201';

    await handler(event);

    expect(calls.listConversations).toEqual([{ agentId: 'a 1', limit: 3 }]);
  });

  it('passes status=active|ended through, combined with the other filters', async () => {
    const { handler, calls } = handlerWith();

    await handler(apiEvent('GET', '/conversations', { query: { status: 'active', agent_id: 'a1', from: '2024-03-01', limit: '5' } }));
    await handler(apiEvent('GET', '/conversations', { query: { status: 'ended', cursor: 'abc' } }));

    expect(calls.listConversations).toEqual([
      { agentId: 'a1', status: 'active', from: '2024-03-01T00:00:00.000Z', limit: 5 },
      { status: 'ended', cursor: 'abc', limit: 50 },
    ]);
  });

  it('passes the next cursor through as next_cursor', async () => {
    const { handler } = handlerWith({ records: [record('c1'), record('c2'), record('c3')] });

    const res = await handler(apiEvent('GET', '/conversations', { query: { limit: '2' } }));

    expect(body(res)).toMatchObject({ next_cursor: 'next' });
    expect(body(res).items).toHaveLength(2);
  });

  it.each([
    ['limit', '0'],
    ['limit', '101'],
    ['limit', '1.5'],
    ['limit', '-1'],
    ['limit', 'ten'],
    ['from', '2024-02-30'],
    ['from', '2023-02-29T00:00:00Z'],
    ['from', '2024-03-01T24:00:00Z'],
    ['from', '2024-03-01T10:00:00'],
    ['to', 'yesterday'],
    ['to', '1709251200'],
    ['to', '2024-13-01'],
    ['status', 'open'],
    ['status', 'ACTIVE'],
    ['status', 'active,ended'],
  ])('answers 400 invalid_parameter for %s=%s', async (name, value) => {
    const { handler, calls } = handlerWith();

    const res = await handler(apiEvent('GET', '/conversations', { query: { [name]: value } }));

    expect(res.statusCode).toBe(400);
    expect(body(res).error.code).toBe('invalid_parameter');
    expect(calls.listConversations).toEqual([]);
  });

  it('answers 400 when from is after to', async () => {
    const { handler } = handlerWith();

    const res = await handler(apiEvent('GET', '/conversations', { query: { from: '2024-03-02', to: '2024-03-01T23:59:59Z' } }));

    expect(res.statusCode).toBe(400);
    expect(body(res).error.code).toBe('invalid_parameter');
  });

  it('accepts from equal to to (inclusive bounds)', async () => {
    const { handler } = handlerWith();

    const res = await handler(apiEvent('GET', '/conversations', { query: { from: '2024-03-01T10:00:00Z', to: '2024-03-01T10:00:00Z' } }));

    expect(res.statusCode).toBe(200);
  });

  it('answers 400 invalid_cursor for a cursor that is not base64url, or that storage rejects', async () => {
    const { handler } = handlerWith();

    const malformed = await handler(apiEvent('GET', '/conversations', { query: { cursor: 'not a cursor!' } }));
    const rejected = await handler(apiEvent('GET', '/conversations', { query: { cursor: 'bad' } }));

    for (const res of [malformed, rejected]) {
      expect(res.statusCode).toBe(400);
      expect(body(res).error.code).toBe('invalid_cursor');
    }
  });
});

describe('query API: GET /agents/{agent_id}/metrics', () => {
  const day = (date: string, conversations: number, resolved: number): AgentDay => ({
    date,
    counters: { ...emptyCounters(), conversations, resolved, duration_ms_sum: conversations * 60_000, duration_n: conversations },
    topics: { billing: conversations },
  });

  it('defaults to the last 7 UTC days, today included', async () => {
    const { handler, calls } = handlerWith();

    const res = await handler(apiEvent('GET', '/agents/a1/metrics'));

    expect(res.statusCode).toBe(200);
    expect(calls.getAgentDays).toEqual([['a1', '2024-03-04', '2024-03-10']]);
    expect(body(res)).toMatchObject({ agent_id: 'a1', from: '2024-03-04', to: '2024-03-10', conversations: 0, resolution_rate: null, days: [] });
  });

  it('defaults from to six days before a given to, and to to today for a given from', async () => {
    const { handler, calls } = handlerWith();

    await handler(apiEvent('GET', '/agents/a1/metrics', { query: { to: '2024-03-01' } }));
    await handler(apiEvent('GET', '/agents/a1/metrics', { query: { from: '2024-03-09' } }));

    expect(calls.getAgentDays).toEqual([
      ['a1', '2024-02-24', '2024-03-01'],
      ['a1', '2024-03-09', '2024-03-10'],
    ]);
  });

  it('answers the metrics built from the stored days', async () => {
    const { handler } = handlerWith({ days: [day('2024-03-02', 3, 2), day('2024-03-01', 1, 1)] });

    const res = await handler(apiEvent('GET', '/agents/agent%201/metrics', { query: { from: '2024-03-01', to: '2024-03-02' } }));

    expect(res.statusCode).toBe(200);
    expect(body(res)).toMatchObject({
      agent_id: 'agent 1',
      from: '2024-03-01',
      to: '2024-03-02',
      conversations: 4,
      resolved: 3,
      resolution_rate: 0.75,
      avg_duration_seconds: 60,
      topics: { billing: 4 },
      days: [{ date: '2024-03-01', conversations: 1 }, { date: '2024-03-02', conversations: 3 }],
    });
  });

  it('accepts a 366-day range (a leap year) and rejects 367 days', async () => {
    const { handler } = handlerWith();

    const leapYear = await handler(apiEvent('GET', '/agents/a1/metrics', { query: { from: '2024-01-01', to: '2024-12-31' } }));
    const tooLong = await handler(apiEvent('GET', '/agents/a1/metrics', { query: { from: '2024-01-01', to: '2025-01-01' } }));

    expect(leapYear.statusCode).toBe(200);
    expect(tooLong.statusCode).toBe(400);
    expect(body(tooLong).error.code).toBe('invalid_parameter');
  });

  it.each<Record<string, string>>([
    { from: '2024-02-30', to: '2024-03-01' },
    { from: '2023-02-29', to: '2023-03-01' },
    { from: '2024-03-01T00:00:00Z', to: '2024-03-02' },
    { from: '2024-3-1', to: '2024-03-02' },
    { from: '2024-03-03', to: '2024-03-02' },
    { to: '2024-00-10' },
  ])('answers 400 invalid_parameter for %o', async (query) => {
    const { handler, calls } = handlerWith();

    const res = await handler(apiEvent('GET', '/agents/a1/metrics', { query }));

    expect(res.statusCode).toBe(400);
    expect(body(res).error.code).toBe('invalid_parameter');
    expect(calls.getAgentDays).toEqual([]);
  });

  it('answers 400 for a from after today when to defaults to today', async () => {
    const { handler } = handlerWith();

    const res = await handler(apiEvent('GET', '/agents/a1/metrics', { query: { from: '2024-03-11' } }));

    expect(res.statusCode).toBe(400);
  });
});
