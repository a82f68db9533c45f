import { describe, expect, it } from 'vitest';
import { createThreeToneHttpClient, parseRetryAfter, ThreeToneError } from '#adapters/threetone-http.js';
import type { ThreeToneClientConfig } from '#functions/config.js';

const API_KEY = 'tt_live_SECRET_key_0123456789';

const config: ThreeToneClientConfig = {
  baseUrl: 'https://api.threetone.test',
  timeoutMs: 1_000,
  maxRetries: 3,
  baseDelayMs: 100,
  maxDelayMs: 5_000,
};

type Reply = Response | Error | 'hang';

/** A fetch that plays `replies` in order (the last one repeats) and records each call. */
function scriptedFetch(...replies: Reply[]) {
  const calls: { url: string; headers: Headers }[] = [];
  const fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    calls.push({ url: String(input), headers: new Headers(init?.headers) });
    const reply = replies[Math.min(calls.length - 1, replies.length - 1)] as Reply;
    if (reply === 'hang') {
      return new Promise<Response>((_, reject) => {
        init?.signal?.addEventListener('abort', () => reject(init.signal?.reason), { once: true });
      });
    }
    if (reply instanceof Error) throw reply;
    return reply.clone();
  }) as typeof globalThis.fetch;
  return { fetch, calls };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

function clientWith(fetch: typeof globalThis.fetch, overrides: Partial<ThreeToneClientConfig> = {}) {
  const sleeps: number[] = [];
  let throttled = 0;
  const client = createThreeToneHttpClient(
    { ...config, ...overrides },
    {
      apiKey: async () => API_KEY,
      fetch,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      random: () => 0.5,
      now: () => Date.parse('2024-01-15T10:30:00Z'),
      onThrottled: () => {
        throttled += 1;
      },
    },
  );
  return { client, sleeps, throttled: () => throttled };
}

async function rejection(promise: Promise<unknown>): Promise<ThreeToneError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ThreeToneError);
  return err as ThreeToneError;
}

describe('createThreeToneHttpClient', () => {
  it('GETs the details path with the id URL-encoded and both key headers', async () => {
    const { fetch, calls } = scriptedFetch(json(200, { conversation_id: 'c/1 ä' }));
    const { client } = clientWith(fetch);

    const details = await client.getConversation('c/1 ä');

    expect(details).toEqual({ conversation_id: 'c/1 ä' });
    expect(calls).toHaveLength(1);
    expect(calls[0]?.url).toBe('https://api.threetone.test/v1/voiceai/conversations/c%2F1%20%C3%A4');
    expect(calls[0]?.headers.get('x-api-key')).toBe(API_KEY);
    expect(calls[0]?.headers.get('xi-api-key')).toBe(API_KEY);
    expect(calls[0]?.headers.get('accept')).toBe('application/json');
  });

  it('retries a 500 with full-jitter backoff, then returns the body', async () => {
    const { fetch, calls } = scriptedFetch(json(500, { detail: 'boom' }), json(502, {}), json(200, { conversation_id: 'c1' }));
    const { client, sleeps } = clientWith(fetch);

    const details = await client.getConversation('c1');

    expect(details).toEqual({ conversation_id: 'c1' });
    expect(calls).toHaveLength(3);
    // random() = 0.5 of min(max, base·2^(n-1)): 0.5·100, 0.5·200
    expect(sleeps).toEqual([50, 100]);
  });

  it('caps the exponential backoff at maxDelayMs', async () => {
    const { fetch } = scriptedFetch(json(503, {}), json(503, {}), json(503, {}), json(200, {}));
    const { client, sleeps } = clientWith(fetch, { baseDelayMs: 1_000, maxDelayMs: 1_500 });

    await client.getConversation('c1');

    expect(sleeps).toEqual([500, 750, 750]);
  });

  it('honours Retry-After seconds on 429 and reports each throttle', async () => {
    const { fetch, calls } = scriptedFetch(json(429, { detail: 'slow down' }, { 'retry-after': '2' }), json(200, { ok: 1 }));
    const { client, sleeps, throttled } = clientWith(fetch);

    await expect(client.getConversation('c1')).resolves.toEqual({ ok: 1 });

    expect(calls).toHaveLength(2);
    expect(sleeps).toEqual([2_000]);
    expect(throttled()).toBe(1);
  });

  it('honours Retry-After as an HTTP-date', async () => {
    // now() is 10:30:00 GMT; the date is 4 s later.
    const { fetch } = scriptedFetch(json(429, {}, { 'retry-after': 'Mon, 15 Jan 2024 10:30:04 GMT' }), json(200, {}));
    const { client, sleeps } = clientWith(fetch);

    await client.getConversation('c1');

    expect(sleeps).toEqual([4_000]);
  });

  it('caps Retry-After at maxDelayMs', async () => {
    const { fetch } = scriptedFetch(json(429, {}, { 'retry-after': '3600' }), json(200, {}));
    const { client, sleeps } = clientWith(fetch);

    await client.getConversation('c1');

    expect(sleeps).toEqual([5_000]);
  });

  it('falls back to backoff on a 429 without Retry-After', async () => {
    const { fetch } = scriptedFetch(json(429, {}), json(200, {}));
    const { client, sleeps, throttled } = clientWith(fetch);

    await client.getConversation('c1');

    expect(sleeps).toEqual([50]);
    expect(throttled()).toBe(1);
  });

  it('throws a retryable ThreeToneError once the retries are spent', async () => {
    const { fetch, calls } = scriptedFetch(json(500, { detail: 'Internal error' }));
    const { client, sleeps } = clientWith(fetch);

    const err = await rejection(client.getConversation('c1'));

    expect(calls).toHaveLength(config.maxRetries + 1);
    expect(sleeps).toHaveLength(config.maxRetries);
    expect(err.retryable).toBe(true);
    expect(err.status).toBe(500);
    expect(err.attempts).toBe(4);
    expect(err.message).toContain('HTTP 500');
    expect(err.message).toContain('Internal error');
  });

  it('counts every 429, including the last one', async () => {
    const { fetch } = scriptedFetch(json(429, {}, { 'retry-after': '1' }));
    const { client, throttled } = clientWith(fetch, { maxRetries: 2 });

    const err = await rejection(client.listConversations({}));

    expect(err.retryable).toBe(true);
    expect(err.status).toBe(429);
    expect(throttled()).toBe(3);
  });

  it.each([400, 401, 403, 409, 422])('treats %i as permanent without retrying', async (status) => {
    const { fetch, calls } = scriptedFetch(json(status, { detail: 'nope' }), json(200, {}));
    const { client, sleeps } = clientWith(fetch);

    const err = await rejection(client.getConversation('c1'));

    expect(calls).toHaveLength(1);
    expect(sleeps).toEqual([]);
    expect(err.retryable).toBe(false);
    expect(err.status).toBe(status);
  });

  it('summarizes a 422 detail list', async () => {
    const { fetch } = scriptedFetch(
      json(422, { detail: [{ loc: ['query', 'page_size'], msg: 'must be <= 100', type: 'value_error' }] }),
    );
    const { client } = clientWith(fetch);

    const err = await rejection(client.listConversations({ pageSize: 50 }));

    expect(err.message).toContain('query.page_size: must be <= 100');
  });

  it('retries a 408', async () => {
    const { fetch, calls } = scriptedFetch(json(408, {}), json(200, {}));
    const { client } = clientWith(fetch);

    await client.getConversation('c1');

    expect(calls).toHaveLength(2);
  });

  it('returns null on 404 for details and transcript', async () => {
    const { fetch, calls } = scriptedFetch(json(404, { detail: 'Conversation not found' }));
    const { client } = clientWith(fetch);

    await expect(client.getConversation('missing')).resolves.toBeNull();
    await expect(client.getTranscript('missing')).resolves.toBeNull();
    expect(calls.map((c) => new URL(c.url).pathname)).toEqual([
      '/v1/voiceai/conversations/missing',
      '/v1/voiceai/conversations/missing/transcript',
    ]);
  });

  it('retries when an attempt times out', async () => {
    const { fetch, calls } = scriptedFetch('hang', json(200, { conversation_id: 'c1' }));
    const { client, sleeps } = clientWith(fetch, { timeoutMs: 20 });

    await expect(client.getConversation('c1')).resolves.toEqual({ conversation_id: 'c1' });

    expect(calls).toHaveLength(2);
    expect(sleeps).toHaveLength(1);
  });

  it('reports a timeout when every attempt hangs', async () => {
    const { fetch } = scriptedFetch('hang');
    const { client } = clientWith(fetch, { timeoutMs: 10, maxRetries: 1 });

    const err = await rejection(client.getConversation('c1'));

    expect(err.retryable).toBe(true);
    expect(err.status).toBeUndefined();
    expect(err.message).toMatch(/timed out after 10 ms/);
  });

  it('retries network errors', async () => {
    const reset = Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNRESET' } });
    const { fetch, calls } = scriptedFetch(reset, json(200, {}));
    const { client } = clientWith(fetch);

    await client.getConversation('c1');

    expect(calls).toHaveLength(2);
  });

  it('treats a 2xx body that is not JSON as retryable', async () => {
    const { fetch, calls } = scriptedFetch(new Response('<html>gateway</html>', { status: 200 }));
    const { client } = clientWith(fetch, { maxRetries: 1 });

    const err = await rejection(client.getConversation('c1'));

    expect(calls).toHaveLength(2);
    expect(err.retryable).toBe(true);
    expect(err.message).not.toContain('gateway');
  });

  it('never puts the key or a raw body in error messages', async () => {
    const cases: Reply[] = [
      json(401, { detail: `Invalid API key ${API_KEY}` }),
      json(500, { detail: `upstream said ${API_KEY} ${'x'.repeat(500)}` }),
      new Response(`plain text error with ${API_KEY}`, { status: 403 }),
      Object.assign(new TypeError(`connect failed ${API_KEY}`), { cause: new Error(API_KEY) }),
    ];
    for (const reply of cases) {
      const { fetch } = scriptedFetch(reply);
      const { client } = clientWith(fetch, { maxRetries: 1 });

      const err = await rejection(client.getConversation('c1'));

      expect(err.message).not.toContain(API_KEY);
      expect(err.message).not.toContain('plain text error');
      expect(err.message.length).toBeLessThan(400);
    }
  });

  it('refuses ids that would address another resource', async () => {
    const { fetch, calls } = scriptedFetch(json(200, {}));
    const { client } = clientWith(fetch);

    for (const id of ['', '.', '..']) {
      const err = await rejection(client.getConversation(id));
      expect(err.retryable).toBe(false);
    }
    expect(calls).toHaveLength(0);
  });

  it('lists conversations with the documented parameters and maps the items', async () => {
    const { fetch, calls } = scriptedFetch(
      json(200, {
        conversations: [
          { conversation_id: 'c1', agent_id: 'a1', status: 'done', start_time_unix_secs: 1705314600, rating: 4 },
          { conversation_id: 'c2', status: 'in-progress', metadata: { start_time_unix_secs: 1705314700 } },
          { agent_id: 'no-id' },
        ],
        has_more: true,
        next_cursor: 'next-1',
      }),
    );
    const { client } = clientWith(fetch);

    const page = await client.listConversations({ pageSize: 500, cursor: 'cur 0', startAfterUnix: 1705314000.9 });

    const url = new URL(calls[0]?.url ?? '');
    expect(url.pathname).toBe('/v1/voiceai/conversations');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      page_size: '100',
      cursor: 'cur 0',
      call_start_after_unix: '1705314000',
    });
    expect(page.nextCursor).toBe('next-1');
    expect(page.conversations).toEqual([
      {
        conversation_id: 'c1',
        agent_id: 'a1',
        status: 'done',
        start_time_unix_secs: 1705314600,
        raw: { conversation_id: 'c1', agent_id: 'a1', status: 'done', start_time_unix_secs: 1705314600, rating: 4 },
      },
      {
        conversation_id: 'c2',
        agent_id: null,
        status: 'in-progress',
        start_time_unix_secs: 1705314700,
        raw: { conversation_id: 'c2', status: 'in-progress', metadata: { start_time_unix_secs: 1705314700 } },
      },
    ]);
  });

  it('ends the listing when has_more is false or the cursor does not move', async () => {
    const { fetch } = scriptedFetch(
      json(200, { conversations: [], has_more: false, next_cursor: 'stale' }),
      json(200, { conversations: [], has_more: true, next_cursor: 'same' }),
    );
    const { client } = clientWith(fetch);

    expect((await client.listConversations({})).nextCursor).toBeNull();
    expect((await client.listConversations({ cursor: 'same' })).nextCursor).toBeNull();
  });

  it('treats a 404 on the list endpoint as permanent', async () => {
    const { fetch } = scriptedFetch(json(404, { detail: 'Not Found' }));
    const { client } = clientWith(fetch);

    const err = await rejection(client.listConversations({}));

    expect(err.retryable).toBe(false);
    expect(err.status).toBe(404);
  });

  it('does not follow redirects (they would carry the key elsewhere)', async () => {
    let redirectMode: RequestInit['redirect'];
    const fetch = (async (_input: string | URL | Request, init?: RequestInit) => {
      redirectMode = init?.redirect;
      return new Response(null, { status: 302, headers: { location: 'https://elsewhere.test/' } });
    }) as typeof globalThis.fetch;
    const { client } = clientWith(fetch);

    const err = await rejection(client.getConversation('c1'));

    expect(redirectMode).toBe('manual');
    expect(err.retryable).toBe(false);
    expect(err.status).toBe(302);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2024-01-15T10:30:00Z');

  it.each([
    ['0', 0],
    ['5', 5_000],
    ['1.5', 1_500],
    ['Mon, 15 Jan 2024 10:30:30 GMT', 30_000],
    ['Mon, 15 Jan 2024 10:00:00 GMT', 0],
  ])('%s → %i ms', (value, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });

  it.each([null, '', 'soon', '-3'])('ignores %s', (value) => {
    expect(parseRetryAfter(value, now)).toBeUndefined();
  });
});

describe('getAudio (README "Audio")', () => {
  const audio = (status: number, bytes: Uint8Array | null, headers: Record<string, string> = {}) => new Response(bytes, { status, headers });
  const read = async (download: { body: NodeJS.ReadableStream }) => {
    const chunks: Buffer[] = [];
    for await (const c of download.body as AsyncIterable<Buffer>) chunks.push(Buffer.from(c));
    return Buffer.concat(chunks);
  };

  it('streams the recording with its type and length, in one attempt with both key headers', async () => {
    const bytes = new Uint8Array(1000).fill(7);
    const { fetch, calls } = scriptedFetch(audio(200, bytes, { 'content-type': 'audio/mpeg', 'content-length': '1000' }));
    const { client } = clientWith(fetch);
    const download = await client.getAudio('conv/1');
    expect(calls.map((c) => c.url)).toEqual(['https://api.threetone.test/v1/voiceai/conversations/conv%2F1/audio']);
    expect(calls[0]!.headers.get('x-api-key')).toBe(API_KEY);
    expect(download).toMatchObject({ contentType: 'audio/mpeg', contentLength: 1000 });
    expect(await read(download!)).toEqual(Buffer.from(bytes));
  });

  it('answers null on 404 (not ready), without retrying', async () => {
    const { fetch, calls } = scriptedFetch(json(404, { detail: 'not ready' }));
    expect(await clientWith(fetch).client.getAudio('c')).toBeNull();
    expect(calls).toHaveLength(1);
  });

  it('throws a retryable error with Retry-After on 429, and a permanent one on 403, never retrying itself', async () => {
    const { fetch, calls } = scriptedFetch(json(429, { detail: 'slow down' }, { 'retry-after': '7' }));
    const { client, throttled } = clientWith(fetch);
    const err = await rejection(client.getAudio('c'));
    expect(err).toMatchObject({ retryable: true, status: 429, retryAfterMs: 7000 });
    expect(calls).toHaveLength(1);
    expect(throttled()).toBe(1);
    const forbidden = await rejection(clientWith(scriptedFetch(json(403, { detail: `bad key ${API_KEY}` })).fetch).client.getAudio('c'));
    expect(forbidden).toMatchObject({ retryable: false, status: 403 });
    expect(forbidden.message).not.toContain(API_KEY);
  });

  it('follows a redirect to a download URL without the key headers', async () => {
    const { fetch, calls } = scriptedFetch(audio(302, null, { location: 'https://cdn.example.test/rec.mp3?sig=1' }), audio(200, new Uint8Array([1, 2, 3]), { 'content-type': 'audio/mpeg' }));
    const download = await clientWith(fetch).client.getAudio('c');
    expect(calls.map((c) => c.url)).toEqual(['https://api.threetone.test/v1/voiceai/conversations/c/audio', 'https://cdn.example.test/rec.mp3?sig=1']);
    expect(calls[1]!.headers.get('x-api-key')).toBeNull();
    expect(calls[1]!.headers.get('xi-api-key')).toBeNull();
    expect(await read(download!)).toEqual(Buffer.from([1, 2, 3]));
  });

  it('fails the body when it stalls longer than the timeout (the whole download may take longer)', async () => {
    let enqueue: ((b: Uint8Array) => void) | undefined;
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        enqueue = (b) => controller.enqueue(b);
      },
    });
    const fetch = (async () => new Response(stream, { status: 200, headers: { 'content-type': 'audio/wav' } })) as typeof globalThis.fetch;
    const { client } = clientWith(fetch, { timeoutMs: 100 });
    const download = await client.getAudio('c');
    enqueue!(new Uint8Array([1]));
    await expect(read(download!)).rejects.toThrow(/stalled|timeout|abort/i);
  });
});
