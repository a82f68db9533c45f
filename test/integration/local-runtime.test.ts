/**
 * The whole local runtime (`npm start`) over real HTTP: DynamoDB Local under a temp DATA_DIR, the
 * durable queue, the local bus and the ThreeTone simulator, driven the way ThreeTone would.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signBody } from '#core/signature.js';
import { readEvents } from '#local/local-bus.js';
import { schemaErrors } from '#test/helpers/event-schemas.js';
import type { BusEvent } from '#core/bus-events.js';
import { startLocalRuntime, type LocalRuntime } from '#local/runtime.js';
import { conversationEvents, createRng, deliveryPlan, serializeEnvelope, signedRequest } from '#local/traffic.js';

const SECRET = 'test-secret';
const API_KEY = 'k';
const AGENT = 'agent_local_runtime_it';
const CONVERSATION = 'conv_local_runtime_it_1';

let dataDir: string;
let env: Record<string, string | undefined>;
let rt: LocalRuntime;

async function post(body: string | Buffer, headers: Record<string, string>) {
  const res = await fetch(`${rt.url}/webhooks/threetone`, { method: 'POST', headers, body });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const signed = (body: string | Buffer, secret = SECRET) => ({
  'content-type': 'application/json',
  'x-threetone-signature': signBody(body, secret),
});

async function get(path: string, apiKey: string | null = API_KEY) {
  const res = await fetch(`${rt.url}${path}`, { headers: apiKey === null ? {} : { 'x-api-key': apiKey } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const fileSize = (file: string) => stat(file).then((s) => s.size, () => 0);

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'threetone-local-runtime-'));
  env = { ...process.env, PORT: '0', DATA_DIR: dataDir, RECONCILE_INTERVAL_SECONDS: '0', THREETONE_WEBHOOK_SECRET: SECRET, QUERY_API_KEY: API_KEY };
  rt = await startLocalRuntime(env);
}, 90_000);

afterAll(async () => {
  await rt?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}, 60_000);

describe('local runtime over HTTP', () => {
  it('answers GET /health with 200', async () => {
    const res = await fetch(`${rt.url}/health`);
    expect(res.status).toBe(200);
  });

  it('counts a conversation delivered twice, out of order, exactly once', async () => {
    // Arrange: every webhook twice, shuffled
    const rng = createRng(11);
    const envelopes = conversationEvents({
      conversationId: CONVERSATION,
      agentId: AGENT,
      start: new Date(Math.floor(Date.now() / 1000 - 300) * 1000),
      durationSeconds: 240,
      escalate: true,
      withCall: true,
      rng,
    });
    const once = deliveryPlan(envelopes, { duplicateRate: 0, shuffleWindow: 0, rng }).map((d) => d.body);
    const bodies = deliveryPlan(envelopes, { duplicateRate: 1, shuffleWindow: envelopes.length, rng }).map((d) => d.body);
    expect(bodies).toHaveLength(2 * envelopes.length);
    expect(new Set(bodies)).toEqual(new Set(once));
    expect([...new Set(bodies)]).not.toEqual(once); // first deliveries out of chronological order

    // Act
    for (const body of bodies) {
      const res = await post(body, signedRequest(body, SECRET));
      expect([200, 202]).toContain(res.status);
    }
    await rt.queue.drained();

    // Assert: one record (its facts at once; ThreeTone's details soon after, by the enricher, then its
    // recording, archived under DATA_DIR/audio and served by the query API), one Completed event,
    // counted once in the agent's metrics
    await expect.poll(async () => (await get(`/conversations/${CONVERSATION}`)).body.enrichment, { timeout: 20_000 }).toBe('done');
    await expect.poll(async () => ((await get(`/conversations/${CONVERSATION}`)).body.audio as { status?: string } | undefined)?.status, { timeout: 20_000 }).toBe('stored');
    const record = await get(`/conversations/${CONVERSATION}`);
    const audio = await fetch(`${rt.url}/conversations/${CONVERSATION}/audio`, { headers: { 'x-api-key': API_KEY, range: 'bytes=0-3' } });
    expect(audio.status).toBe(206);
    expect(audio.headers.get('content-type')).toBe('audio/wav');
    expect(audio.headers.get('content-range')).toBe(`bytes 0-3/${(record.body.audio as { size_bytes: number }).size_bytes}`);
    expect(await audio.text()).toBe('RIFF');
    expect(record.status).toBe(200);
    expect(record.body).toMatchObject({ conversation_id: CONVERSATION, agent_id: AGENT, status: 'ended', details_stored: true, duration_seconds: 240, escalated: true });
    const completed = (await readEvents(rt.eventsFile)).filter(
      (e) => e['detail-type'] === 'Conversation Completed' && e.detail.conversation_id === CONVERSATION,
    );
    expect(new Set(completed.map((e) => e.detail.event_id)).size).toBe(1);
    expect(completed).toHaveLength(1); // and not re-published under the same event_id
    const day = String(record.body.ended_at).slice(0, 10);
    const metrics = await get(`/agents/${AGENT}/metrics?from=${day}&to=${day}`);
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatchObject({ agent_id: AGENT, conversations: 1, escalations: 1, avg_duration_seconds: 240 });
  }, 45_000);

  describe('rejects bad input with its code, a JSON error, and no trace', () => {
    const now = () => new Date().toISOString();
    const valid = () => JSON.stringify({ event: 'agent_busy', timestamp: now(), data: { agent_id: AGENT } });
    const oversized = () => {
      const base = { event: 'agent_busy', timestamp: now(), data: { agent_id: AGENT, padding: '' } };
      const body = JSON.stringify({ ...base, data: { ...base.data, padding: 'x'.repeat(256 * 1024 + 1 - JSON.stringify(base).length) } });
      expect(Buffer.byteLength(body)).toBe(256 * 1024 + 1);
      return body;
    };
    const cases: [string, number, string, () => { body: string; headers: Record<string, string> }][] = [
      ['no signature', 401, 'missing_signature', () => ({ body: valid(), headers: { 'content-type': 'application/json' } })],
      ['a wrong signature', 401, 'invalid_signature', () => {
        const body = valid();
        return { body, headers: signed(body, 'not-the-secret') };
      }],
      ['a stale timestamp', 401, 'stale_timestamp', () => {
        const body = JSON.stringify({ event: 'agent_busy', timestamp: new Date(Date.now() - 25 * 3600_000).toISOString(), data: {} });
        return { body, headers: signed(body) };
      }],
      ['a body that is not JSON', 400, 'invalid_json', () => ({ body: 'event=agent_busy', headers: signed('event=agent_busy') })],
      ['no event', 400, 'invalid_envelope', () => {
        const body = JSON.stringify({ timestamp: now(), data: {} });
        return { body, headers: signed(body) };
      }],
      ['data that is not an object', 400, 'invalid_envelope', () => {
        const body = JSON.stringify({ event: 'agent_busy', timestamp: now(), data: ['x'] });
        return { body, headers: signed(body) };
      }],
      ['a body of 256 KiB + 1 byte', 413, 'payload_too_large', () => {
        const body = oversized();
        return { body, headers: signed(body) };
      }],
    ];

    it.each(cases)('%s → %i', async (_name, status, code, build) => {
      // Arrange
      await rt.queue.drained();
      const { body, headers } = build();
      const eventsBefore = await fileSize(rt.eventsFile);
      const queueBefore = rt.queue.stats();

      // Act
      const res = await post(body, headers);

      // Assert
      expect(res.status).toBe(status);
      expect(res.body).toEqual({ error: { code, message: expect.any(String) } });
      await rt.queue.drained();
      expect(rt.queue.stats()).toEqual(queueBefore);
      expect(await fileSize(rt.eventsFile)).toBe(eventsBefore);
    });
  });

  it('wants x-api-key on the query API', async () => {
    const res = await get(`/conversations/${CONVERSATION}`, null);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: { code: expect.any(String), message: expect.any(String) } });
    expect((await get(`/conversations/${CONVERSATION}`, 'wrong')).status).toBe(401);
  });

  it('erases over HTTP: 401 without the key, DELETE and POST /erasures with it, late webhooks dropped', async () => {
    // Arrange: a second conversation of the same agent, from one caller
    const id = 'conv_local_runtime_erase';
    const phone = '+15550123456';
    const t0 = Date.now() - 120_000;
    const iso = (ms: number) => new Date(ms).toISOString();
    const bodies = [
      { event: 'conversation_started', timestamp: iso(t0), data: { conversation_id: id, agent_id: AGENT, phone_number: phone } },
      { event: 'conversation_ended', timestamp: iso(t0 + 60_000), data: { conversation_id: id, agent_id: AGENT, duration_seconds: 60 } },
    ].map((e) => JSON.stringify(e));
    for (const b of bodies) expect((await post(b, signed(b))).status).toBe(202);
    await rt.queue.drained();
    // Counted in the agent's metrics once the enricher has stored its details.
    await expect.poll(async () => (await get(`/conversations/${id}`)).body.enrichment, { timeout: 20_000 }).toBe('done');
    const record = await get(`/conversations/${id}`);
    expect(record.status).toBe(200);
    const day = String(record.body.ended_at).slice(0, 10);
    const metricsBefore = await get(`/agents/${AGENT}/metrics?from=${day}&to=${day}`);
    const del = (path: string, key: string | null = API_KEY) =>
      fetch(`${rt.url}${path}`, { method: 'DELETE', headers: key === null ? {} : { 'x-api-key': key } }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }));

    // Act / Assert: unauthenticated
    expect((await del(`/conversations/${id}`, null)).status).toBe(401);
    expect((await del(`/conversations/${id}`, 'wrong')).status).toBe(401);
    const noKey = await fetch(`${rt.url}/erasures`, { method: 'POST', body: JSON.stringify({ phone_number: phone }) });
    expect(noKey.status).toBe(401);
    expect((await get(`/conversations/${id}`)).status).toBe(200);

    // Act / Assert: erased, then the same answer again
    const first = await del(`/conversations/${id}`);
    expect(first).toEqual({ status: 200, body: { conversation_id: id, status: 'erased', erased_at: expect.any(String), already_erased: false } });
    expect((await get(`/conversations/${id}`)).status).toBe(404);
    const metricsAfter = await get(`/agents/${AGENT}/metrics?from=${day}&to=${day}`);
    expect(metricsAfter.body.conversations).toBe(Number(metricsBefore.body.conversations) - 1);
    const second = await del(`/conversations/${id}`);
    expect(second).toEqual({ status: 200, body: { ...first.body, already_erased: true } });
    expect((await del('/conversations/never-seen-here')).status).toBe(404);
    const erased = (await readEvents(rt.eventsFile)).filter((e) => e['detail-type'] === 'Conversation Erased');
    expect(erased.map((e) => e.detail.conversation_id)).toEqual([id]);
    expect(schemaErrors({ detailType: 'Conversation Erased', time: erased[0]!.time, detail: erased[0]!.detail } as unknown as BusEvent)).toBeNull();

    // A late webhook: accepted (202), processed, nothing recreated
    const late = JSON.stringify({ event: 'conversation_ended', timestamp: iso(t0 + 61_000), data: { conversation_id: id, agent_id: AGENT, phone_number: phone } });
    expect((await post(late, signed(late))).status).toBe(202);
    await rt.queue.drained();
    expect((await get(`/conversations/${id}`)).status).toBe(404);
    expect(rt.queue.stats()).toMatchObject({ deadLettered: 0 });

    // By phone number: nothing left of that caller; a value that is no phone number is a 400
    const post2 = (b: string) => fetch(`${rt.url}/erasures`, { method: 'POST', headers: { 'x-api-key': API_KEY }, body: b }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }));
    expect(await post2(JSON.stringify({ phone_number: phone }))).toEqual({ status: 200, body: { conversations: [], unlinked_calls_erased: 0 } });
    const bad = await post2(JSON.stringify({ phone_number: 'abc' }));
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).not.toContain('abc');
    expect((await post2('not json')).status).toBe(400);
  }, 60_000);

  it('keeps the record across a restart on the same DATA_DIR', async () => {
    // Arrange
    const before = await get(`/conversations/${CONVERSATION}`);
    expect(before.status).toBe(200);

    // Act
    await rt.stop();
    rt = await startLocalRuntime(env);

    // Assert
    const after = await get(`/conversations/${CONVERSATION}`);
    expect(after.status).toBe(200);
    expect(after.body).toEqual(before.body);
  }, 90_000);
});
