/**
 * The real ThreeTone client against the real simulator over loopback: what the local run relies on.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createThreeToneHttpClient, ThreeToneError } from '#adapters/threetone-http.js';
import type { ThreeToneClientConfig } from '#functions/config.js';
import type { ThreeToneApi } from '#functions/ports.js';
import {
  LARGE_AUDIO_BYTES,
  LARGE_AUDIO_SUFFIX,
  SMALL_AUDIO_BYTES,
  startThreeToneSimulator,
  type FaultKind,
  type SimulatorEnvelope,
  type ThreeToneSimulator,
} from '#local/threetone-simulator.js';

const API_KEY = 'sim-test-key-42';

function clientFor(sim: ThreeToneSimulator, overrides: Partial<ThreeToneClientConfig> = {}, key = API_KEY) {
  let throttled = 0;
  const client = createThreeToneHttpClient(
    { baseUrl: sim.url, timeoutMs: 250, maxRetries: 3, baseDelayMs: 5, maxDelayMs: 100, ...overrides },
    { apiKey: async () => key, onThrottled: () => void (throttled += 1) },
  );
  return { client, throttled: () => throttled };
}

const envelope = (event: string, timestamp: string | number, data: Record<string, unknown>): SimulatorEnvelope => ({
  event,
  timestamp,
  data,
});

/** A finished conversation, as the webhooks would tell it. */
function observeCall(sim: ThreeToneSimulator, id: string, endData: Record<string, unknown> = {}) {
  sim.observe(envelope('conversation_started', '2024-01-15T10:30:00Z', { conversation_id: id, agent_id: 'agent-1' }));
  sim.observe(envelope('conversation_ended', 1705314780, { conversation_id: id, agent_id: 'agent-1', ...endData }));
}

const isShapeB = (details: Record<string, unknown>) => typeof details.metadata === 'object' && details.metadata !== null;

/** The transcript as a client gets it: from the details, else from `/transcript` (array or `{transcript}`). */
async function transcriptOf(client: ThreeToneApi, id: string, details: Record<string, unknown>): Promise<unknown[]> {
  if (Array.isArray(details.transcript)) return details.transcript;
  const body = await client.getTranscript(id);
  if (Array.isArray(body)) return body;
  const turns = (body as { transcript?: unknown } | null)?.transcript;
  if (!Array.isArray(turns)) throw new Error(`no transcript for ${id}`);
  return turns;
}

const statusesOf = (sim: ThreeToneSimulator, path: string) =>
  sim.requests.filter((r) => r.path === path).map((r) => r.status);

describe('ThreeTone client × simulator', () => {
  let sim: ThreeToneSimulator;
  let api: ThreeToneApi;

  beforeAll(async () => {
    sim = await startThreeToneSimulator({ apiKey: API_KEY, seed: 7, rateLimitPerMinute: 10_000 });
    api = clientFor(sim).client;
  });
  afterAll(async () => {
    await sim.close();
  });
  beforeEach(() => {
    sim.faults.clear();
  });

  it('serves the details of an observed conversation', async () => {
    observeCall(sim, 'conv-basic');

    const details = await api.getConversation('conv-basic');

    expect(details).not.toBeNull();
    const d = details as Record<string, unknown>;
    expect(d.conversation_id).toBe('conv-basic');
    expect(d.agent_id).toBe('agent-1');
    expect(['completed', 'done']).toContain(d.status);
    const duration = isShapeB(d) ? (d.metadata as Record<string, unknown>).call_duration_secs : d.duration_seconds;
    expect(duration).toBe(180);
    const turns = await transcriptOf(api, 'conv-basic', d);
    expect(turns.length).toBeGreaterThan(0);
    const times = turns.map((t) => (t as { time_in_call_secs: number }).time_in_call_secs);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(Math.max(...times)).toBeLessThanOrEqual(180);
    expect(turns.map((t) => (t as { role: string }).role).slice(0, 2)).toEqual(['agent', 'user']);
  });

  it('reports an ongoing conversation as in progress', async () => {
    sim.observe(envelope('call_started', new Date().toISOString(), { conversation_id: 'conv-live', call_id: 'call-live' }));

    const d = (await api.getConversation('conv-live')) as Record<string, unknown>;

    expect(d.status).toBe('in-progress');
  });

  it('links call events that arrive before their conversation', async () => {
    sim.observe(envelope('call_ended', '2024-01-15T11:05:00Z', { call_id: 'call-early', satisfaction_score: 3.3 }));
    sim.observe(envelope('conversation_started', '2024-01-15T11:00:00Z', { conversation_id: 'conv-late', call_id: 'call-early' }));

    const d = (await api.getConversation('conv-late')) as Record<string, unknown>;

    expect(['completed', 'done']).toContain(d.status);
    expect(isShapeB(d) ? d.rating : d.satisfaction_score).toBe(3.3);
    expect(isShapeB(d) ? (d.metadata as Record<string, unknown>).call_duration_secs : d.duration_seconds).toBe(300);
  });

  it('answers null for a conversation it never saw', async () => {
    await expect(api.getConversation('conv-unknown')).resolves.toBeNull();
    await expect(api.getTranscript('conv-unknown')).resolves.toBeNull();
    expect(statusesOf(sim, '/v1/voiceai/conversations/conv-unknown')).toEqual([404]);
  });

  it.each<FaultKind>(['500', '429', 'timeout', 'reset'])('retries through two %s faults', async (kind) => {
    const id = `conv-fault-${kind}`;
    observeCall(sim, id);
    sim.faults.failNext(2, kind, { conversationId: id });

    const details = await api.getConversation(id);

    expect(details?.conversation_id).toBe(id);
    const failed = kind === '500' || kind === '429' ? Number(kind) : 0;
    expect(statusesOf(sim, `/v1/voiceai/conversations/${id}`)).toEqual([failed, failed, 200]);
  });

  it('fails requests at random at the configured rate, reproducibly', async () => {
    const flaky = await startThreeToneSimulator({ seed: 3 });
    try {
      observeCall(flaky, 'conv-flaky');
      flaky.faults.setRandomFailureRate(0.3, '500');
      const { client } = clientFor(flaky, { maxRetries: 10, maxDelayMs: 5 });

      for (let i = 0; i < 20; i++) await client.getConversation('conv-flaky');

      const failures = statusesOf(flaky, '/v1/voiceai/conversations/conv-flaky').filter((s) => s === 500).length;
      expect(failures).toBeGreaterThan(0);
      flaky.faults.clear();
      await client.getConversation('conv-flaky');
      expect(flaky.requests.at(-1)?.status).toBe(200);
    } finally {
      await flaky.close();
    }
  });

  it('scopes a fault to its conversation', async () => {
    observeCall(sim, 'conv-scoped');
    observeCall(sim, 'conv-bystander');
    sim.faults.failNext(1, '500', { conversationId: 'conv-scoped' });

    await api.getConversation('conv-bystander');
    await api.getConversation('conv-scoped');

    expect(statusesOf(sim, '/v1/voiceai/conversations/conv-bystander')).toEqual([200]);
    expect(statusesOf(sim, '/v1/voiceai/conversations/conv-scoped')).toEqual([500, 200]);
  });

  it('gives up with a retryable error when the faults outlast the retries', async () => {
    observeCall(sim, 'conv-down');
    sim.faults.failNext(10, '500', { conversationId: 'conv-down' });

    const err = await api.getConversation('conv-down').catch((e: unknown) => e);

    expect(err).toBeInstanceOf(ThreeToneError);
    expect((err as ThreeToneError).retryable).toBe(true);
    expect((err as ThreeToneError).status).toBe(500);
    expect(statusesOf(sim, '/v1/voiceai/conversations/conv-down')).toEqual([500, 500, 500, 500]);
  });

  it('accepts faults from another process through the admin route', async () => {
    observeCall(sim, 'conv-admin');
    const health = await fetch(`${sim.url}/_simulator/health`);
    expect(health.status).toBe(200);

    const res = await fetch(`${sim.url}/_simulator/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ count: 1, kind: '500', conversationId: 'conv-admin' }),
    });
    expect(res.status).toBe(200);
    await api.getConversation('conv-admin');

    expect(statusesOf(sim, '/v1/voiceai/conversations/conv-admin')).toEqual([500, 200]);
  });

  it('rejects a wrong key with a permanent 401, without retrying', async () => {
    observeCall(sim, 'conv-auth');
    const wrong = clientFor(sim, {}, 'not-the-key').client;

    const err = await wrong.getConversation('conv-auth').catch((e: unknown) => e);

    expect(err).toBeInstanceOf(ThreeToneError);
    expect((err as ThreeToneError).retryable).toBe(false);
    expect((err as ThreeToneError).status).toBe(401);
    expect((err as Error).message).not.toContain('not-the-key');
    expect(statusesOf(sim, '/v1/voiceai/conversations/conv-auth')).toEqual([401]);
  });

  it('answers in both documented shapes, with the transcript reachable either way', async () => {
    const ids = Array.from({ length: 16 }, (_, i) => `conv-shape-${i}`);
    ids.forEach((id) => observeCall(sim, id));

    const shapes = new Set<string>();
    let viaEndpoint = 0;
    for (const id of ids) {
      const d = (await api.getConversation(id)) as Record<string, unknown>;
      shapes.add(isShapeB(d) ? 'B' : 'A');
      if (!Array.isArray(d.transcript)) viaEndpoint += 1;
      expect((await transcriptOf(api, id, d)).length).toBeGreaterThan(0);
    }

    expect(shapes).toEqual(new Set(['A', 'B']));
    expect(viaEndpoint).toBeGreaterThan(0);
  });

  it('echoes the metric values the webhooks carried, exactly, in either shape', async () => {
    const guideFields = {
      duration_seconds: 183,
      turn_count: 12,
      satisfaction_score: 4.2,
      resolution_status: 'resolved',
      topics: ['billing', 'refund_request'],
      escalated: true,
    };
    const shapes = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const id = `conv-metrics-${i}`;
      observeCall(sim, id, guideFields);

      const d = (await api.getConversation(id)) as Record<string, unknown>;

      if (isShapeB(d)) {
        shapes.add('B');
        expect((d.metadata as Record<string, unknown>).call_duration_secs).toBe(183);
        expect(d.message_count).toBe(12);
        expect(d.rating).toBe(4.2);
        expect((d.analysis as Record<string, unknown>).call_successful).toBe('success');
      } else {
        shapes.add('A');
        expect(d.duration_seconds).toBe(183);
        expect(d.turn_count).toBe(12);
        expect(d.satisfaction_score).toBe(4.2);
        expect(d.resolution_status).toBe('resolved');
      }
      expect(d.topics).toEqual(['billing', 'refund_request']);
      expect(d.escalated).toBe(true);
      expect(await transcriptOf(api, id, d)).toHaveLength(12);
    }
    expect(shapes.size).toBe(2);
  });

  it('echoes reference-style webhook values too', async () => {
    for (let i = 0; i < 6; i++) {
      const id = `conv-ref-${i}`;
      observeCall(sim, id, { call_duration_secs: 95, message_count: 7, rating: 2, call_successful: 'failure' });

      const d = (await api.getConversation(id)) as Record<string, unknown>;

      if (isShapeB(d)) {
        expect((d.metadata as Record<string, unknown>).call_duration_secs).toBe(95);
        expect(d.rating).toBe(2);
        expect((d.analysis as Record<string, unknown>).call_successful).toBe('failure');
      } else {
        expect(d.duration_seconds).toBe(95);
        expect(d.satisfaction_score).toBe(2);
        expect(d.resolution_status).toBe('unresolved');
      }
    }
  });

  it('lists observed conversations page by page, newest first, with the start filter', async () => {
    const list = await startThreeToneSimulator({ seed: 1 });
    try {
      for (let i = 0; i < 5; i++) {
        list.observe(envelope('conversation_started', 1705314600 + i * 60, { conversation_id: `l${i}`, agent_id: 'a' }));
      }
      const { client } = clientFor(list);

      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await client.listConversations({ pageSize: 2, ...(cursor !== undefined && { cursor }) });
        expect(page.conversations.length).toBeLessThanOrEqual(2);
        seen.push(...page.conversations.map((c) => c.conversation_id));
        cursor = page.nextCursor ?? undefined;
      } while (cursor !== undefined);
      const recent = await client.listConversations({ startAfterUnix: 1705314600 + 180 });

      expect(seen).toEqual(['l4', 'l3', 'l2', 'l1', 'l0']);
      expect(recent.conversations.map((c) => [c.conversation_id, c.start_time_unix_secs])).toEqual([
        ['l4', 1705314840],
        ['l3', 1705314780],
      ]);
    } finally {
      await list.close();
    }
  });

  it('generates the same values for the same id and seed after a restart', async () => {
    const first = await startThreeToneSimulator({ seed: 99 });
    const second = await startThreeToneSimulator({ seed: 99 });
    try {
      observeCall(first, 'conv-stable');
      observeCall(second, 'conv-stable');

      const a = await clientFor(first).client.getConversation('conv-stable');
      const b = await clientFor(second).client.getConversation('conv-stable');

      expect(a).toEqual(b);
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });
});

describe('simulator rate limit', () => {
  it('answers 429 with Retry-After over the limit, and the client recovers after waiting', async () => {
    const sim = await startThreeToneSimulator({ apiKey: API_KEY, rateLimitPerMinute: 3, rateLimitWindowMs: 1_000 });
    try {
      observeCall(sim, 'conv-rl');
      const { client, throttled } = clientFor(sim, { maxDelayMs: 2_000 });
      const started = Date.now();

      for (let i = 0; i < 4; i++) await client.getConversation('conv-rl');

      expect(statusesOf(sim, '/v1/voiceai/conversations/conv-rl')).toEqual([200, 200, 200, 429, 200]);
      expect(throttled()).toBe(1);
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    } finally {
      await sim.close();
    }
  });
});

describe('simulator close', () => {
  it('drops held connections instead of waiting for them', async () => {
    const sim = await startThreeToneSimulator({});
    sim.faults.failNext(1, 'timeout');
    const pending = fetch(`${sim.url}/v1/voiceai/conversations`).then(
      (res) => res.status,
      () => 'dropped',
    );
    await new Promise((resolve) => setTimeout(resolve, 50));

    const started = Date.now();
    await sim.close();

    await expect(pending).resolves.toBe('dropped');
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});

describe('simulator audio (README "Audio")', () => {
  let sim: ThreeToneSimulator;
  beforeAll(async () => {
    sim = await startThreeToneSimulator({ apiKey: API_KEY, seed: 7, rateLimitPerMinute: 10_000 });
  });
  afterAll(async () => {
    await sim.close();
  });
  const bytesOf = async (download: { body: AsyncIterable<Buffer> | NodeJS.ReadableStream } | null) => {
    const chunks: Buffer[] = [];
    for await (const c of download!.body as AsyncIterable<Buffer>) chunks.push(Buffer.from(c));
    return Buffer.concat(chunks);
  };

  it('answers 404 until the conversation ended, then a small WAV tone, the same for the same id', async () => {
    const { client } = clientFor(sim);
    sim.observe(envelope('conversation_started', '2024-01-15T10:30:00Z', { conversation_id: 'aud-1', agent_id: 'agent-1' }));
    expect(await client.getAudio('aud-1')).toBeNull();
    sim.observe(envelope('conversation_ended', 1705314780, { conversation_id: 'aud-1', agent_id: 'agent-1' }));
    const download = await client.getAudio('aud-1');
    expect(download).toMatchObject({ contentType: 'audio/wav', contentLength: SMALL_AUDIO_BYTES });
    const bytes = await bytesOf(download);
    expect(bytes.length).toBe(SMALL_AUDIO_BYTES);
    expect(bytes.subarray(0, 4).toString()).toBe('RIFF');
    expect(bytes.subarray(8, 12).toString()).toBe('WAVE');
    expect(bytes.readUInt32LE(40)).toBe(SMALL_AUDIO_BYTES - 44);
    expect(await bytesOf(await client.getAudio('aud-1'))).toEqual(bytes);
    expect(await client.getAudio('unknown-conversation')).toBeNull();
  });

  it('plans a conversation\'s audio: not ready for n requests, and its size (in code or over HTTP)', async () => {
    const { client } = clientFor(sim);
    observeCall(sim, 'aud-2');
    const res = await fetch(`${sim.url}/_simulator/audio`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ conversationId: 'aud-2', notReadyRequests: 2, sizeBytes: 1_000_044 }),
    });
    expect(res.status).toBe(200);
    expect(await client.getAudio('aud-2')).toBeNull();
    expect(await client.getAudio('aud-2')).toBeNull();
    const download = await client.getAudio('aud-2');
    expect((await bytesOf(download)).length).toBe(1_000_044);
    expect(statusesOf(sim, '/v1/voiceai/conversations/aud-2/audio')).toEqual([404, 404, 200]);
    expect(() => sim.audio.plan('aud-2', { notReadyRequests: -1 })).toThrow(RangeError);
  });

  it('serves a large recording for ids ending in -large-audio', async () => {
    const { client } = clientFor(sim, { timeoutMs: 5_000 });
    observeCall(sim, `big${LARGE_AUDIO_SUFFIX}`);
    const download = await client.getAudio(`big${LARGE_AUDIO_SUFFIX}`);
    expect(download?.contentLength).toBe(LARGE_AUDIO_BYTES);
    let size = 0;
    for await (const c of download!.body as AsyncIterable<Buffer>) size += c.length;
    expect(size).toBe(LARGE_AUDIO_BYTES);
  });
});
