/**
 * ThreeTone REST client: the `ThreeToneApi` port over `fetch`. Dependency-free on purpose (it is
 * bundled into the processor and reconciler Lambdas).
 *
 * Every call:
 * 1. sends `GET` with both key headers (`x-api-key` from the guide, `xi-api-key` from the reference)
 *    and a per-attempt timeout that also covers reading the body;
 * 2. classifies the answer: 2xx → parsed JSON; 404 → `null` where the port allows it; 408, 429, 5xx,
 *    network errors, timeouts and unparseable 2xx bodies → retry; any other status → permanent error;
 * 3. waits before a retry: `Retry-After` when ThreeTone sends one on 429/503 (its rate limit is
 *    100/min and 1000/h, so its own hint beats our guess), otherwise exponential backoff with full
 *    jitter; every wait is capped at `maxDelayMs`, so one Lambda invocation stays bounded;
 * 4. when `maxRetries` retries are spent, throws a retryable `ThreeToneError`: the message goes back
 *    to the queue and is tried again later, then dead-lettered.
 *
 * Error messages name the method, path and status, plus ThreeTone's `detail` (truncated, with the key
 * scrubbed); never the key, never a response body.
 */
import { Readable, Transform } from 'node:stream';
import { asId } from '#core/envelope.js';
import type { ThreeToneClientConfig } from '#functions/config.js';
import type { AudioDownload, ConversationSummary, ThreeToneApi, ThreeToneAudioApi } from '#functions/ports.js';

export class ThreeToneError extends Error {
  /** True when trying again later may succeed (throttling, 5xx, timeouts, network errors). */
  readonly retryable: boolean;
  /** HTTP status of the last answer; absent for network errors and timeouts. */
  readonly status?: number;
  /** Attempts made before giving up. */
  readonly attempts: number;
  /** ThreeTone's `Retry-After` on the last answer (a 429 or 503), in ms. */
  readonly retryAfterMs?: number;

  constructor(message: string, opts: { retryable: boolean; status?: number; attempts?: number; retryAfterMs?: number; cause?: unknown }) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'ThreeToneError';
    this.retryable = opts.retryable;
    if (opts.status !== undefined) this.status = opts.status;
    if (opts.retryAfterMs !== undefined) this.retryAfterMs = opts.retryAfterMs;
    this.attempts = opts.attempts ?? 1;
  }
}

export interface ThreeToneHttpDeps {
  /** The API key (cached by the provider, e.g. from Secrets Manager); read once per call. */
  apiKey: () => Promise<string>;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  /** In [0, 1); drives the backoff jitter. */
  random?: () => number;
  /** Epoch milliseconds; used to turn a `Retry-After` HTTP-date into a delay. */
  now?: () => number;
  /** Called on every 429 answer (for a throttle metric). */
  onThrottled?: () => void;
}

/** ThreeTone documents `page_size` up to 100. */
const MAX_PAGE_SIZE = 100;
const MAX_DETAIL_CHARS = 200;
const CONVERSATIONS_PATH = '/v1/voiceai/conversations';

type Attempt =
  | { readonly kind: 'ok'; readonly body: unknown }
  | { readonly kind: 'not-found' }
  | { readonly kind: 'retry'; readonly reason: string; readonly status?: number; readonly retryAfterMs?: number; readonly cause?: unknown }
  | { readonly kind: 'fail'; readonly reason: string; readonly status: number };

/**
 * The longest one call can take: every attempt runs into its timeout (which also covers reading the
 * body) and every wait between attempts is the longest allowed (`Retry-After` is capped at it too).
 */
export function worstCaseCallMs(config: Pick<ThreeToneClientConfig, 'timeoutMs' | 'maxRetries' | 'maxDelayMs'>): number {
  return (config.maxRetries + 1) * config.timeoutMs + config.maxRetries * config.maxDelayMs;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Redirects an audio download follows (to a CDN or a presigned URL), never with the key headers. */
const MAX_AUDIO_REDIRECTS = 3;

export function createThreeToneHttpClient(config: ThreeToneClientConfig, deps: ThreeToneHttpDeps): ThreeToneApi & ThreeToneAudioApi {
  const baseUrl = config.baseUrl.replace(/\/+$/, '');
  const fetchImpl = deps.fetch ?? globalThis.fetch;
  const sleep = deps.sleep ?? defaultSleep;
  const random = deps.random ?? Math.random;
  const now = deps.now ?? Date.now;

  /** GETs `path` with retries; `null` on 404 when `notFoundIsNull`. */
  async function get(path: string, notFoundIsNull: boolean): Promise<unknown> {
    const key = await deps.apiKey();
    const label = `ThreeTone GET ${path}`;
    for (let attempt = 1; ; attempt++) {
      const outcome = await attemptOnce(baseUrl + path, key);
      switch (outcome.kind) {
        case 'ok':
          return outcome.body;
        case 'not-found':
          if (notFoundIsNull) return null;
          throw new ThreeToneError(`${label}: HTTP 404`, { retryable: false, status: 404, attempts: attempt });
        case 'fail':
          throw new ThreeToneError(`${label}: ${scrub(outcome.reason, key)}`, {
            retryable: false,
            status: outcome.status,
            attempts: attempt,
          });
        case 'retry':
          if (outcome.status === 429) deps.onThrottled?.();
          if (attempt > config.maxRetries) {
            throw new ThreeToneError(`${label}: ${scrub(outcome.reason, key)} (gave up after ${attempt} attempts)`, {
              retryable: true,
              ...(outcome.status !== undefined && { status: outcome.status }),
              ...(outcome.retryAfterMs !== undefined && { retryAfterMs: outcome.retryAfterMs }),
              attempts: attempt,
              cause: outcome.cause,
            });
          }
          await sleep(delayBeforeRetry(attempt, outcome.retryAfterMs));
      }
    }
  }

  /** Full jitter: uniform in [0, min(max, base·2^(n-1))]; a server hint replaces it, capped too. */
  function delayBeforeRetry(attempt: number, retryAfterMs: number | undefined): number {
    if (retryAfterMs !== undefined) return Math.min(config.maxDelayMs, retryAfterMs);
    const ceiling = Math.min(config.maxDelayMs, config.baseDelayMs * 2 ** (attempt - 1));
    return Math.floor(random() * ceiling);
  }

  async function attemptOnce(url: string, key: string): Promise<Attempt> {
    const controller = new AbortController();
    // Rejects when the timeout fires, even if a fetch implementation ignores the signal.
    const timedOut = new Promise<never>((_, reject) => {
      controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true });
    });
    const timer = setTimeout(() => controller.abort(new Error('timeout')), config.timeoutMs);
    try {
      const res = await Promise.race([
        fetchImpl(url, {
          method: 'GET',
          headers: { accept: 'application/json', 'x-api-key': key, 'xi-api-key': key },
          signal: controller.signal,
          // A redirect would carry the key headers to wherever it points: refuse to follow.
          redirect: 'manual',
        }),
        timedOut,
      ]);
      let text = '';
      try {
        text = await Promise.race([res.text(), timedOut]);
      } catch (err) {
        if (res.ok) throw err; // a truncated success body is retried below; an error status speaks for itself
      }
      return classify(res, text, key);
    } catch (err) {
      if (controller.signal.aborted) return { kind: 'retry', reason: `timed out after ${config.timeoutMs} ms` };
      return { kind: 'retry', reason: `network error (${networkCode(err)})`, cause: err };
    } finally {
      clearTimeout(timer);
    }
  }

  function classify(res: Response, text: string, key: string): Attempt {
    const { status } = res;
    if (status >= 200 && status < 300) {
      try {
        return { kind: 'ok', body: JSON.parse(text) as unknown };
      } catch {
        return { kind: 'retry', reason: `HTTP ${status} with a body that is not JSON`, status };
      }
    }
    if (status === 404) return { kind: 'not-found' };
    const reason = `HTTP ${status}${describeDetail(text, key)}`;
    if (status === 429 || status === 503) {
      const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'), now());
      return { kind: 'retry', reason, status, ...(retryAfterMs !== undefined && { retryAfterMs }) };
    }
    if (status === 408 || status >= 500) return { kind: 'retry', reason, status };
    return { kind: 'fail', reason, status };
  }

  function conversationPath(conversationId: string, suffix = ''): string {
    // '' would hit the list endpoint and '.'/'..' are resolved away by URL parsing, even encoded.
    if (conversationId === '' || conversationId === '.' || conversationId === '..') {
      throw new ThreeToneError(`ThreeTone: invalid conversation id ${JSON.stringify(conversationId)}`, { retryable: false });
    }
    return `${CONVERSATIONS_PATH}/${encodeURIComponent(conversationId)}${suffix}`;
  }

  /**
   * One attempt at a recording (the enricher pays for each request and backs off itself): the
   * response must start within `timeoutMs`, and then the body must keep flowing, no gap longer than
   * `timeoutMs`, however long the whole file takes. 404 → null; 429/503/408/5xx → retryable error.
   */
  async function getAudio(conversationId: string): Promise<AudioDownload | null> {
    const key = await deps.apiKey();
    const path = conversationPath(conversationId, '/audio');
    const label = `ThreeTone GET ${path}`;
    const controller = new AbortController();
    let timer = setTimeout(() => controller.abort(new Error('timeout')), config.timeoutMs);
    let res: Response;
    try {
      let url = baseUrl + path;
      let headers: Record<string, string> = { accept: 'audio/*, application/octet-stream', 'x-api-key': key, 'xi-api-key': key };
      for (let hop = 0; ; hop++) {
        res = await fetchImpl(url, { method: 'GET', headers, signal: controller.signal, redirect: 'manual' });
        const location = res.headers.get('location');
        if (![301, 302, 303, 307, 308].includes(res.status) || !location || hop >= MAX_AUDIO_REDIRECTS) break;
        await res.body?.cancel().catch(() => undefined);
        url = new URL(location, url).toString();
        if (!/^https?:/.test(url)) throw new ThreeToneError(`${label}: redirected to a non-HTTP URL`, { retryable: false, status: res.status });
        headers = { accept: headers.accept! }; // the key stays with ThreeTone
      }
    } catch (err) {
      clearTimeout(timer);
      if (err instanceof ThreeToneError) throw err;
      if (controller.signal.aborted) throw new ThreeToneError(`${label}: timed out after ${config.timeoutMs} ms`, { retryable: true });
      throw new ThreeToneError(`${label}: network error (${networkCode(err)})`, { retryable: true, cause: err });
    }
    clearTimeout(timer);
    if (res.status < 200 || res.status >= 300 || res.body === null) {
      const text = res.status >= 200 && res.status < 300 ? '' : await res.text().catch(() => '');
      if (res.status === 404) return null;
      const outcome = res.status >= 200 && res.status < 300 ? ({ kind: 'fail', reason: `HTTP ${res.status} without a body`, status: res.status } as const) : classify(res, text, key);
      if (outcome.kind === 'retry') {
        if (outcome.status === 429) deps.onThrottled?.();
        throw new ThreeToneError(`${label}: ${scrub(outcome.reason, key)}`, {
          retryable: true,
          ...(outcome.status !== undefined && { status: outcome.status }),
          ...(outcome.retryAfterMs !== undefined && { retryAfterMs: outcome.retryAfterMs }),
        });
      }
      const status = outcome.kind === 'fail' ? outcome.status : res.status;
      throw new ThreeToneError(`${label}: ${outcome.kind === 'fail' ? scrub(outcome.reason, key) : `HTTP ${status}`}`, { retryable: false, status });
    }
    // The body must keep coming: a stall longer than the timeout aborts the download.
    const stalled = () => new ThreeToneError(`${label}: the body stalled for ${config.timeoutMs} ms`, { retryable: true });
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        controller.abort(new Error('timeout'));
        watchdog.destroy(stalled());
      }, config.timeoutMs);
    };
    const watchdog = new Transform({
      transform(chunk, _enc, done) {
        arm();
        done(null, chunk);
      },
      flush(done) {
        clearTimeout(timer);
        done();
      },
      destroy(err, done) {
        clearTimeout(timer);
        done(err);
      },
    });
    arm();
    const source = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
    source.on('error', (err) => watchdog.destroy(controller.signal.aborted ? stalled() : err));
    watchdog.on('close', () => {
      if (!watchdog.writableFinished) {
        controller.abort(new Error('download abandoned'));
        source.destroy();
      }
    });
    source.pipe(watchdog);
    const length = Number(res.headers.get('content-length'));
    return { body: watchdog, contentType: res.headers.get('content-type'), contentLength: Number.isSafeInteger(length) && length >= 0 && res.headers.has('content-length') ? length : null };
  }

  return {
    getAudio,

    async getConversation(conversationId) {
      const body = await get(conversationPath(conversationId), true);
      if (body === null) return null;
      if (!isRecord(body)) {
        throw new ThreeToneError(`ThreeTone GET ${conversationPath(conversationId)}: response is not a JSON object`, {
          retryable: false,
          status: 200,
        });
      }
      return body;
    },

    async getTranscript(conversationId) {
      return get(conversationPath(conversationId, '/transcript'), true);
    },

    async listConversations(params) {
      const query = new URLSearchParams();
      if (params.pageSize !== undefined) {
        query.set('page_size', String(Math.min(MAX_PAGE_SIZE, Math.max(1, Math.floor(params.pageSize)))));
      }
      if (params.cursor) query.set('cursor', params.cursor);
      if (params.startAfterUnix !== undefined) query.set('call_start_after_unix', String(Math.floor(params.startAfterUnix)));
      const qs = query.toString();
      const path = qs ? `${CONVERSATIONS_PATH}?${qs}` : CONVERSATIONS_PATH;
      const body = await get(path, false);
      return parseListPage(body, path, params.cursor);
    },
  };
}

function parseListPage(
  body: unknown,
  path: string,
  sentCursor: string | undefined,
): { conversations: ConversationSummary[]; nextCursor: string | null } {
  const items = Array.isArray(body) ? body : isRecord(body) && Array.isArray(body.conversations) ? body.conversations : null;
  if (items === null) {
    throw new ThreeToneError(`ThreeTone GET ${path}: response has no "conversations" array`, { retryable: false, status: 200 });
  }
  const conversations = items.map(toSummary).filter((s): s is ConversationSummary => s !== null);
  let nextCursor: string | null = null;
  if (isRecord(body) && body.has_more !== false && typeof body.next_cursor === 'string' && body.next_cursor !== '') {
    nextCursor = body.next_cursor;
  }
  // A cursor that does not move would make a caller loop forever.
  if (nextCursor !== null && nextCursor === sentCursor) nextCursor = null;
  return { conversations, nextCursor };
}

function toSummary(item: unknown): ConversationSummary | null {
  if (!isRecord(item)) return null;
  // The webhook contract's id rule: a conversation the pipeline could not accept is not listed for repair.
  const conversationId = asId(item.conversation_id);
  if (conversationId === null) return null;
  const metadata = isRecord(item.metadata) ? item.metadata : {};
  return {
    conversation_id: conversationId,
    agent_id: asId(item.agent_id),
    status: typeof item.status === 'string' ? item.status : null,
    start_time_unix_secs:
      unixSeconds(item.start_time_unix_secs) ?? unixSeconds(metadata.start_time_unix_secs) ?? unixSeconds(item.started_at),
    raw: item,
  };
}

/** Unix seconds from a number, a numeric string or an ISO-8601 string. */
function unixSeconds(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value !== 'string' || value.trim() === '') return null;
  const n = Number(value);
  if (Number.isFinite(n)) return n;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : Math.floor(ms / 1000);
}

/** `Retry-After` as delta-seconds or an HTTP-date, in milliseconds from `nowMs`. */
export function parseRetryAfter(value: string | null, nowMs: number): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (v === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  // HTTP-date forms all start with a day name; anything else (e.g. "-3") is not a date, however
  // leniently Date.parse reads it.
  if (!/^[A-Za-z]/.test(v)) return undefined;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

/** ` ("detail")` from a ThreeTone error body, or '' — never the body itself. */
function describeDetail(text: string, key: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return '';
  }
  if (!isRecord(parsed)) return '';
  const { detail } = parsed;
  let summary = '';
  if (typeof detail === 'string') {
    summary = detail;
  } else if (Array.isArray(detail)) {
    // 422: [{loc, msg, type}]
    summary = detail
      .filter(isRecord)
      .map((d) => {
        const loc = Array.isArray(d.loc) ? d.loc.map(String).join('.') : '';
        const msg = typeof d.msg === 'string' ? d.msg : '';
        return loc && msg ? `${loc}: ${msg}` : msg;
      })
      .filter(Boolean)
      .join('; ');
  }
  summary = scrub(summary, key).replace(/\s+/g, ' ').trim();
  if (summary === '') return '';
  if (summary.length > MAX_DETAIL_CHARS) summary = `${summary.slice(0, MAX_DETAIL_CHARS)}…`;
  return ` (${JSON.stringify(summary)})`;
}

/** Removes the key from text that may echo it (a `detail` such as "invalid key sk_..."). */
function scrub(text: string, key: string): string {
  return key.length >= 4 ? text.split(key).join('[redacted]') : text;
}

function networkCode(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: unknown }).cause;
    if (isRecord(cause) && typeof cause.code === 'string') return cause.code;
    const code = (err as Error & { code?: unknown }).code;
    if (typeof code === 'string') return code;
    return err.name;
  }
  return 'unknown';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
