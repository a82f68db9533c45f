/**
 * An in-process stand-in for ThreeTone's REST API, for the local run and the tests.
 *
 * It learns conversations by *mirroring the webhooks*: the local server calls `observe(envelope)` for
 * each accepted webhook. Details then echo what the webhooks said (exactly, in whichever shape) and
 * fill the rest with values derived from hash(seed, conversation_id), so the same id gets the same
 * answer across restarts. Like the real platform's two generations of docs, it answers in one of two
 * shapes per conversation: A (the guide: `duration_seconds`, `satisfaction_score`, ISO times) or
 * B (the reference, ElevenLabs-like: `metadata.call_duration_secs`, `rating`, Unix seconds), and in
 * shape B sometimes leaves the transcript to the `/transcript` endpoint.
 *
 * Behaviour a client must survive: API-key auth (401), a per-key rate limit (429 + `Retry-After`),
 * and injected faults (500, 429, a held response that never answers, a reset socket), from code via
 * `faults` or from another process via `POST /_simulator/faults`.
 *
 * Audio (`GET …/conversations/{id}/audio`, README "Audio"): 404 until the conversation has ended; then
 * a generated WAV tone, `audio/wav`: 2 s (32 KB) for most, 40 MiB for conversations whose id ends in
 * `-large-audio` (generated while it is sent, never held in memory). `audio.plan(id, …)` or
 * `POST /_simulator/audio {conversationId, notReadyRequests?, sizeBytes?}` makes a conversation's next
 * audio requests answer 404 ("not ready") or sets its size.
 *
 * This file is the HTTP server; its pure parts are in `threetone-simulator/`: `observed.ts` (the fold of
 * the mirrored webhooks), `generated.ts` (facts and response bodies from the seed) and `faults.ts`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { listen } from './listen.js';
import { createFaultInjector, type FaultController, type FaultKind } from './threetone-simulator/faults.js';
import { detailsOf, factsOf, listItemOf, seededRng, type Facts } from './threetone-simulator/generated.js';
import { createObservedState, observe as observeEnvelope, type SimulatorEnvelope } from './threetone-simulator/observed.js';
import { wavSize, wavTone } from './wav.js';

export { FAULT_KINDS, type FaultController, type FaultKind, type FaultOptions } from './threetone-simulator/faults.js';
export type { SimulatorEnvelope } from './threetone-simulator/observed.js';

/** Conversations whose id ends so get a large recording (LARGE_AUDIO_BYTES). */
export const LARGE_AUDIO_SUFFIX = '-large-audio';
export const LARGE_AUDIO_BYTES = 40 * 1024 * 1024;
/** 2 s of 8 kHz 16-bit mono, plus the header. */
export const SMALL_AUDIO_BYTES = 44 + 2 * 8_000 * 2;

export interface AudioPlan {
  /** The next this many audio requests of the conversation answer 404 (not ready). */
  notReadyRequests?: number;
  /** The recording's size in bytes (a WAV file: rounded to whole samples). */
  sizeBytes?: number;
}

export interface SimulatorRequest {
  readonly method: string;
  /** Path without the query string. */
  readonly path: string;
  /** 0 when no response was sent (`timeout` and `reset` faults). */
  readonly status: number;
}

export interface ThreeToneSimulatorOptions {
  /** When set, requests need `x-api-key` or `xi-api-key` equal to it (else 401). */
  apiKey?: string;
  /** @default '127.0.0.1' */
  host?: string;
  /** @default 0 (any free port) */
  port?: number;
  /** Seeds generated values and random faults. @default 0 */
  seed?: number;
  /** Added before answering each API request. @default 0 */
  latencyMs?: number;
  /** Requests per key per window (ThreeTone documents 100/minute); 0 turns the limit off. @default 100 */
  rateLimitPerMinute?: number;
  /** The rate-limit window; tests shorten it. @default 60000 */
  rateLimitWindowMs?: number;
  /** Requests per key per hour (ThreeTone documents 1,000/hour); 0 turns the limit off. @default 0 */
  rateLimitPerHour?: number;
  /** Epoch milliseconds. @default Date.now */
  now?: () => number;
}

export interface ThreeToneSimulator {
  /** Base URL, no trailing slash (e.g. `http://127.0.0.1:54321`). */
  readonly url: string;
  observe(envelope: SimulatorEnvelope): void;
  readonly faults: FaultController;
  readonly audio: { plan(conversationId: string, plan: AudioPlan): void };
  /** Requests received, in order (admin routes included; the latest 10 000). */
  readonly requests: readonly SimulatorRequest[];
  /** Stops the server, dropping held and keep-alive connections. */
  close(): Promise<void>;
}

const MAX_REQUEST_LOG = 10_000;

// ---------------------------------------------------------------- the server

export async function startThreeToneSimulator(opts: ThreeToneSimulatorOptions = {}): Promise<ThreeToneSimulator> {
  const seed = opts.seed ?? 0;
  const now = opts.now ?? Date.now;
  const latencyMs = opts.latencyMs ?? 0;
  const rateLimit = opts.rateLimitPerMinute ?? 100;
  const rateWindowMs = opts.rateLimitWindowMs ?? 60_000;
  const hourLimit = opts.rateLimitPerHour ?? 0;

  const observed = createObservedState();
  const { conversations } = observed;
  const requests: SimulatorRequest[] = [];
  const rateLog = new Map<string, number[]>();
  const hourLog = new Map<string, number[]>();
  const heldResponses = new Set<ServerResponse>();
  const timers = new Map<NodeJS.Timeout, () => void>();
  let closed = false;
  const audioPlans = new Map<string, AudioPlan>();
  const audio = {
    plan(conversationId: string, plan: AudioPlan) {
      const { notReadyRequests, sizeBytes } = plan;
      if (notReadyRequests !== undefined && !(Number.isInteger(notReadyRequests) && notReadyRequests >= 0)) throw new RangeError('notReadyRequests must be a non-negative integer');
      if (sizeBytes !== undefined && !(Number.isInteger(sizeBytes) && sizeBytes >= 44 && sizeBytes <= 2 ** 32)) throw new RangeError('sizeBytes must be an integer from 44 to 2^32');
      audioPlans.set(conversationId, { ...audioPlans.get(conversationId), ...plan });
    },
  };

  // ------------------------------------------------ faults, observe
  const { controller: faults, take: takeFault } = createFaultInjector(seed);
  const observe = (envelope: SimulatorEnvelope): void => observeEnvelope(observed, envelope, now);

  // ------------------------------------------------ HTTP plumbing
  /** Keeps the request log bounded in a long local run or a benchmark. */
  function record(entry: SimulatorRequest) {
    requests.push(entry);
    if (requests.length > MAX_REQUEST_LOG) requests.splice(0, requests.length - MAX_REQUEST_LOG);
  }

  function send(req: IncomingMessage, res: ServerResponse, path: string, status: number, body: unknown, headers: Record<string, string> = {}) {
    record({ method: req.method ?? 'GET', path, status });
    if (res.destroyed || res.writableEnded) return;
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  /** A delay that `close()` cuts short (the handler then sees `closed` and stops). */
  function wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.set(t, resolve);
    });
  }

  async function readJson(req: IncomingMessage): Promise<unknown> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > 64 * 1024) throw new Error('body too large');
      chunks.push(chunk);
    }
    return JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null');
  }

  /**
   * Sliding-window logs per key, per minute and per hour: count accepted requests; answer the wait
   * in seconds (of `now`'s clock) when either limit is reached.
   */
  function rateLimited(key: string): number | undefined {
    const t = now();
    const windows = [
      { logs: rateLog, limit: rateLimit, windowMs: rateWindowMs },
      { logs: hourLog, limit: hourLimit, windowMs: 3_600_000 },
    ].filter((w) => w.limit > 0);
    let wait: number | undefined;
    const kept = windows.map((w) => {
      const log = (w.logs.get(key) ?? []).filter((at) => at > t - w.windowMs);
      w.logs.set(key, log);
      if (log.length >= w.limit) wait = Math.max(wait ?? 0, Math.max(1, Math.ceil(((log[0] as number) + w.windowMs - t) / 1000)));
      return log;
    });
    if (wait !== undefined) return wait;
    for (const log of kept) log.push(t);
    return undefined;
  }

  async function handleAdmin(req: IncomingMessage, res: ServerResponse, path: string) {
    const method = req.method ?? 'GET';
    if (path === '/_simulator/health' && method === 'GET') {
      return send(req, res, path, 200, { status: 'ok', conversations: conversations.size });
    }
    if (path === '/_simulator/faults' && method === 'DELETE') {
      faults.clear();
      return send(req, res, path, 200, { ok: true });
    }
    if ((path === '/_simulator/faults' || path === '/_simulator/observe' || path === '/_simulator/audio') && method === 'POST') {
      let body: unknown;
      try {
        body = await readJson(req);
      } catch {
        return send(req, res, path, 400, { detail: 'Body must be JSON' });
      }
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        return send(req, res, path, 400, { detail: 'Body must be a JSON object' });
      }
      const b = body as Record<string, unknown>;
      try {
        if (path === '/_simulator/audio') {
          if (typeof b.conversationId !== 'string') throw new Error('expected {conversationId, notReadyRequests?, sizeBytes?}');
          audio.plan(b.conversationId, {
            ...(b.notReadyRequests !== undefined && { notReadyRequests: Number(b.notReadyRequests) }),
            ...(b.sizeBytes !== undefined && { sizeBytes: Number(b.sizeBytes) }),
          });
          return send(req, res, path, 200, { ok: true });
        }
        if (path === '/_simulator/observe') {
          if (typeof b.event !== 'string' || typeof b.data !== 'object' || b.data === null) throw new Error('expected {event, timestamp, data}');
          observe(b as unknown as SimulatorEnvelope);
          return send(req, res, path, 202, { ok: true });
        }
        const kind = (b.kind ?? '500') as FaultKind;
        if (b.rate !== undefined) {
          faults.setRandomFailureRate(Number(b.rate), kind);
        } else {
          faults.failNext(Number(b.count ?? 1), kind, {
            ...(typeof b.conversationId === 'string' && { conversationId: b.conversationId }),
            ...(typeof b.retryAfterSeconds === 'number' && { retryAfterSeconds: b.retryAfterSeconds }),
          });
        }
        return send(req, res, path, 200, { ok: true });
      } catch (err) {
        return send(req, res, path, 400, { detail: err instanceof Error ? err.message : 'invalid request' });
      }
    }
    return send(req, res, path, 404, { detail: 'Not Found' });
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://simulator.local');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (path.startsWith('/_simulator/')) return handleAdmin(req, res, path);

    if (latencyMs > 0) await wait(latencyMs);
    if (closed) return;

    const presented = headerValue(req, 'x-api-key') ?? headerValue(req, 'xi-api-key');
    if (opts.apiKey !== undefined) {
      const ok = headerValue(req, 'x-api-key') === opts.apiKey || headerValue(req, 'xi-api-key') === opts.apiKey;
      if (!ok) return send(req, res, path, 401, { detail: 'Invalid API key' });
    }
    const retryAfter = rateLimited(presented ?? 'anonymous');
    if (retryAfter !== undefined) {
      return send(req, res, path, 429, { detail: 'Rate limit exceeded' }, { 'retry-after': String(retryAfter) });
    }

    const match = /^\/v1\/voiceai\/conversations(?:\/([^/]+)(\/transcript|\/audio)?)?\/?$/.exec(path);
    let conversationId: string | undefined;
    if (match?.[1] !== undefined) {
      try {
        conversationId = decodeURIComponent(match[1]);
      } catch {
        return send(req, res, path, 404, { detail: 'Conversation not found' });
      }
    }

    const fault = takeFault(conversationId);
    if (fault) {
      switch (fault.kind) {
        case '500':
          return send(req, res, path, 500, { detail: 'Internal server error' });
        case '429':
          return send(req, res, path, 429, { detail: 'Rate limit exceeded' }, { 'retry-after': String(fault.retryAfterSeconds) });
        case 'timeout':
          // Never answer; `close()` (or the client giving up) ends it.
          record({ method, path, status: 0 });
          heldResponses.add(res);
          res.on('close', () => heldResponses.delete(res));
          return;
        case 'reset':
          record({ method, path, status: 0 });
          req.socket.destroy();
          return;
      }
    }

    if (!match) return send(req, res, path, 404, { detail: 'Not Found' });
    if (method !== 'GET') return send(req, res, path, 405, { detail: 'Method Not Allowed' });

    if (conversationId === undefined) return listConversations(req, res, path, url.searchParams);
    const c = conversations.get(conversationId);
    if (!c) return send(req, res, path, 404, { detail: 'Conversation not found' });
    const f = factsOf(c, seed, now);
    if (match[2] === '/audio') return sendAudio(req, res, path, f);
    if (match[2] === undefined) return send(req, res, path, 200, detailsOf(f));
    return send(req, res, path, 200, f.transcriptAsArray ? f.transcript : { conversation_id: f.id, transcript: f.transcript });
  }

  /** A recording: 404 until the conversation ended (or while planned not ready), then a WAV tone, streamed. */
  async function sendAudio(req: IncomingMessage, res: ServerResponse, path: string, f: Facts) {
    const plan = audioPlans.get(f.id);
    if (!f.ended) return send(req, res, path, 404, { detail: 'Audio not available yet' });
    if (plan?.notReadyRequests) {
      plan.notReadyRequests -= 1;
      return send(req, res, path, 404, { detail: 'Audio not available yet' });
    }
    const size = wavSize(plan?.sizeBytes ?? (f.id.endsWith(LARGE_AUDIO_SUFFIX) ? LARGE_AUDIO_BYTES : SMALL_AUDIO_BYTES));
    const frequencyHz = 220 + Math.floor(seededRng(seed, f.id, 'audio')() * 660);
    record({ method: req.method ?? 'GET', path, status: 200 });
    res.writeHead(200, { 'content-type': 'audio/wav', 'content-length': size });
    // Generated as it is sent (backpressure included): a large file is never in memory.
    await pipeline(Readable.from(wavTone(size, { frequencyHz })), res).catch(() => undefined);
  }

  function listConversations(req: IncomingMessage, res: ServerResponse, path: string, params: URLSearchParams) {
    const invalid = (name: string, msg: string) =>
      send(req, res, path, 422, { detail: [{ loc: ['query', name], msg, type: 'value_error' }] });

    const rawSize = params.get('page_size') ?? params.get('limit');
    const pageSize = rawSize === null ? 30 : Number(rawSize);
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 100) {
      return invalid(params.has('page_size') ? 'page_size' : 'limit', 'ensure this value is an integer between 1 and 100');
    }
    const intParam = (name: string): number | undefined | null => {
      const raw = params.get(name);
      if (raw === null || raw === '') return undefined;
      const n = Number(raw);
      return Number.isInteger(n) ? n : null;
    };
    const after = intParam('call_start_after_unix');
    const before = intParam('call_start_before_unix');
    if (after === null) return invalid('call_start_after_unix', 'value is not a valid integer');
    if (before === null) return invalid('call_start_before_unix', 'value is not a valid integer');
    const agentId = params.get('agent_id');
    const outcome = params.get('call_successful');

    let position: [number, string] | undefined;
    const cursor = params.get('cursor');
    if (cursor) {
      try {
        const decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
        if (!Array.isArray(decoded) || typeof decoded[0] !== 'number' || typeof decoded[1] !== 'string') throw new Error();
        position = [decoded[0], decoded[1]];
      } catch {
        return invalid('cursor', 'invalid cursor');
      }
    }

    // Newest first; ties by id, so the order (and a cursor into it) is total.
    const items = [...conversations.values()]
      .map((c) => listItemOf(factsOf(c, seed, now)))
      .filter((item) => {
        const start = item.start_time_unix_secs as number;
        if (after !== undefined && start < after) return false;
        if (before !== undefined && start >= before) return false;
        if (agentId && item.agent_id !== agentId) return false;
        if (outcome && item.call_successful !== outcome) return false;
        return true;
      })
      .sort((a, b) => (b.start_time_unix_secs as number) - (a.start_time_unix_secs as number) || compare(a, b));
    const from = position
      ? items.findIndex((item) => {
          const start = item.start_time_unix_secs as number;
          const [pStart, pId] = position;
          return start < pStart || (start === pStart && String(item.conversation_id) > pId);
        })
      : 0;
    const page = from === -1 ? [] : items.slice(from, from + pageSize);
    const hasMore = from !== -1 && from + pageSize < items.length;
    const last = page[page.length - 1];
    const nextCursor =
      hasMore && last ? Buffer.from(JSON.stringify([last.start_time_unix_secs, last.conversation_id])).toString('base64url') : null;
    return send(req, res, path, 200, { conversations: page, has_more: hasMore, next_cursor: nextCursor });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent && !res.destroyed) send(req, res, new URL(req.url ?? '/', 'http://x').pathname, 500, { detail: 'Simulator error' });
    });
  });
  server.keepAliveTimeout = 1_000;

  const url = await listen(server, opts.port ?? 0, opts.host ?? '127.0.0.1');

  return {
    url,
    observe,
    faults,
    audio,
    requests,
    async close() {
      if (closed) return;
      closed = true;
      for (const [t, resolve] of timers) {
        clearTimeout(t);
        resolve();
      }
      timers.clear();
      for (const res of heldResponses) res.destroy();
      heldResponses.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

function compare(a: Record<string, unknown>, b: Record<string, unknown>): number {
  const x = String(a.conversation_id);
  const y = String(b.conversation_id);
  return x < y ? -1 : x > y ? 1 : 0;
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}