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
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { hash32, mulberry32 } from './prng.js';
import { listen } from './listen.js';
import { wavSize, wavTone } from './wav.js';

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

export type FaultKind = '500' | '429' | 'timeout' | 'reset';
export const FAULT_KINDS: readonly FaultKind[] = ['500', '429', 'timeout', 'reset'];

export interface FaultOptions {
  /** Only requests for this conversation (details or transcript) fail; default: any API request. */
  conversationId?: string;
  /** `Retry-After` of an injected 429, in seconds. @default 1 */
  retryAfterSeconds?: number;
}

export interface FaultController {
  /** The next `count` matching API requests fail with `kind`. Queued faults apply in order. */
  failNext(count: number, kind: FaultKind, options?: FaultOptions): void;
  /** Each API request fails with `kind` with probability `probability` (deterministic PRNG from the seed). */
  setRandomFailureRate(probability: number, kind?: FaultKind): void;
  clear(): void;
}

export interface SimulatorEnvelope {
  readonly event: string;
  readonly timestamp: string | number;
  readonly data: Readonly<Record<string, unknown>>;
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

// ---------------------------------------------------------------- observed conversations

const METRIC_FIELDS = [
  'duration_seconds',
  'call_duration_secs',
  'turn_count',
  'message_count',
  'satisfaction_score',
  'rating',
  'resolution_status',
  'call_successful',
  'topics',
  'escalated',
] as const;
type MetricField = (typeof METRIC_FIELDS)[number];

interface Observed {
  readonly id: string;
  readonly order: number;
  agentId?: string;
  callId?: string;
  direction?: string;
  /** Earliest start found in event data, else in a conversation_started / call_started timestamp. */
  startFromData?: number;
  startFromConversationEvent?: number;
  startFromCallEvent?: number;
  /** Latest end found likewise. */
  endFromData?: number;
  endFromConversationEvent?: number;
  endFromCallEvent?: number;
  firstSeenMs: number;
  escalatedByEvent: boolean;
  metrics: Partial<Record<MetricField, unknown>>;
}

const START_FIELDS = ['started_at', 'start_time', 'start_time_unix_secs'];
const END_FIELDS = ['ended_at', 'end_time', 'end_time_unix_secs'];

/** Epoch ms from an ISO string, Unix seconds, or Unix milliseconds (numbers above 1e12). */
function toEpochMs(value: unknown): number | undefined {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return undefined;
    return value > 1e12 ? value : value * 1000;
  }
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const n = Number(value);
  if (Number.isFinite(n)) return toEpochMs(n);
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

function firstTime(data: Readonly<Record<string, unknown>>, fields: readonly string[]): number | undefined {
  for (const f of fields) {
    const ms = toEpochMs(data[f]);
    if (ms !== undefined) return ms;
  }
  return undefined;
}

function str(value: unknown): string | undefined {
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

const minDefined = (a: number | undefined, b: number | undefined) => (a === undefined ? b : b === undefined ? a : Math.min(a, b));
const maxDefined = (a: number | undefined, b: number | undefined) => (a === undefined ? b : b === undefined ? a : Math.max(a, b));

// ---------------------------------------------------------------- deterministic values

const MAX_REQUEST_LOG = 10_000;
const TOPICS = ['billing', 'cancellation', 'technical_support', 'onboarding', 'pricing', 'complaint', 'upgrade'];
const DIRECTIONS = ['inbound', 'outbound', 'web'];
const AGENT_LINES = [
  'Let me look into that for you.',
  'Thanks for your patience, I am checking now.',
  'I have updated that on your account.',
  'Could you confirm the email address on the account?',
  'I understand, that must be frustrating.',
  'Is there anything else I can help you with?',
];
const USER_LINES = [
  'Sure, go ahead.',
  'Yes, that is right.',
  'Can you check my account please?',
  'I am not sure that answers my question.',
  'Okay, that makes sense.',
  'How long will that take?',
];

const round1 = (n: number) => Math.round(n * 10) / 10;
const pick = <T>(rng: () => number, items: readonly T[]): T => items[Math.floor(rng() * items.length)] as T;
const finiteNumber = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

interface Turn {
  role: 'agent' | 'user';
  message: string;
  time_in_call_secs: number;
  interrupted: boolean;
  tool_calls: unknown[];
  tool_results: unknown[];
  feedback: null;
}

/** Everything a response needs about one conversation: webhook values where known, else generated. */
interface Facts {
  id: string;
  shape: 'A' | 'B';
  /** Shape B only: details leave the transcript to `/transcript`. */
  omitTranscript: boolean;
  /** `/transcript` answers a bare array (else `{transcript}`). */
  transcriptAsArray: boolean;
  ended: boolean;
  agentId: string;
  callId: string | null;
  direction: string;
  startMs: number;
  endMs: number | null;
  duration: unknown;
  turnCount: unknown;
  /** resolution_status for shape A / call_successful for shape B, plus the webhook originals. */
  resolutionStatus: unknown;
  callSuccessful: unknown;
  providedResolution: unknown;
  providedCallSuccessful: unknown;
  satisfaction: unknown;
  rating: unknown;
  topics: unknown;
  escalated: unknown;
  transcript: Turn[];
  summaryTitle: string;
}

const RESOLUTION_TO_OUTCOME: Record<string, string> = { resolved: 'success', unresolved: 'failure' };
const OUTCOME_TO_RESOLUTION: Record<string, string> = { success: 'resolved', failure: 'unresolved', unknown: 'unknown' };

// ---------------------------------------------------------------- the server

export async function startThreeToneSimulator(opts: ThreeToneSimulatorOptions = {}): Promise<ThreeToneSimulator> {
  const seed = opts.seed ?? 0;
  const now = opts.now ?? Date.now;
  const latencyMs = opts.latencyMs ?? 0;
  const rateLimit = opts.rateLimitPerMinute ?? 100;
  const rateWindowMs = opts.rateLimitWindowMs ?? 60_000;
  const hourLimit = opts.rateLimitPerHour ?? 0;

  const conversations = new Map<string, Observed>();
  /** call_id → conversation_id, and call events seen before their conversation was known. */
  const callLinks = new Map<string, string>();
  const pendingCallEvents = new Map<string, SimulatorEnvelope[]>();
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

  // ------------------------------------------------ faults
  interface QueuedFault {
    remaining: number;
    kind: FaultKind;
    conversationId?: string;
    retryAfterSeconds: number;
  }
  const faultQueue: QueuedFault[] = [];
  let randomRate = 0;
  let randomKind: FaultKind = '500';
  const faultRng = mulberry32(hash32(`${seed}|faults`));

  const faults: FaultController = {
    failNext(count, kind, options = {}) {
      if (!Number.isInteger(count) || count < 0) throw new RangeError(`count must be a non-negative integer, got ${count}`);
      if (!FAULT_KINDS.includes(kind)) throw new RangeError(`unknown fault kind ${String(kind)}`);
      if (count === 0) return;
      faultQueue.push({
        remaining: count,
        kind,
        ...(options.conversationId !== undefined && { conversationId: options.conversationId }),
        retryAfterSeconds: options.retryAfterSeconds ?? 1,
      });
    },
    setRandomFailureRate(probability, kind = '500') {
      if (!(probability >= 0 && probability <= 1)) throw new RangeError(`probability must be in [0, 1], got ${probability}`);
      if (!FAULT_KINDS.includes(kind)) throw new RangeError(`unknown fault kind ${String(kind)}`);
      randomRate = probability;
      randomKind = kind;
    },
    clear() {
      faultQueue.length = 0;
      randomRate = 0;
    },
  };

  function takeFault(conversationId: string | undefined): { kind: FaultKind; retryAfterSeconds: number } | undefined {
    const index = faultQueue.findIndex((f) => f.conversationId === undefined || f.conversationId === conversationId);
    const queued = faultQueue[index];
    if (queued) {
      queued.remaining -= 1;
      if (queued.remaining === 0) faultQueue.splice(index, 1);
      return { kind: queued.kind, retryAfterSeconds: queued.retryAfterSeconds };
    }
    if (randomRate > 0 && faultRng() < randomRate) return { kind: randomKind, retryAfterSeconds: 1 };
    return undefined;
  }

  // ------------------------------------------------ observe
  function observe(envelope: SimulatorEnvelope): void {
    const data = envelope?.data;
    if (typeof data !== 'object' || data === null) return;
    const callId = str(data.call_id);
    let conversationId = str(data.conversation_id);
    if (conversationId === undefined && callId !== undefined) {
      conversationId = callLinks.get(callId);
      if (conversationId === undefined) {
        // A call event before we know its conversation: keep it until the link shows up.
        const pending = pendingCallEvents.get(callId) ?? [];
        pending.push(envelope);
        pendingCallEvents.set(callId, pending);
        return;
      }
    }
    if (conversationId === undefined) return;

    const envelopeMs = toEpochMs(envelope.timestamp) ?? now();
    let c = conversations.get(conversationId);
    if (!c) {
      c = { id: conversationId, order: conversations.size, firstSeenMs: envelopeMs, escalatedByEvent: false, metrics: {} };
      conversations.set(conversationId, c);
    }
    c.firstSeenMs = Math.min(c.firstSeenMs, envelopeMs);
    c.agentId = str(data.agent_id) ?? c.agentId;
    c.direction = str(data.direction) ?? c.direction;
    c.startFromData = minDefined(c.startFromData, firstTime(data, START_FIELDS));
    c.endFromData = maxDefined(c.endFromData, firstTime(data, END_FIELDS));
    switch (envelope.event) {
      case 'conversation_started':
        c.startFromConversationEvent = minDefined(c.startFromConversationEvent, envelopeMs);
        break;
      case 'call_started':
        c.startFromCallEvent = minDefined(c.startFromCallEvent, envelopeMs);
        break;
      case 'conversation_ended':
        c.endFromConversationEvent = maxDefined(c.endFromConversationEvent, envelopeMs);
        break;
      case 'call_ended':
        c.endFromCallEvent = maxDefined(c.endFromCallEvent, envelopeMs);
        break;
      case 'escalation_triggered':
        c.escalatedByEvent = true;
        break;
    }
    for (const field of METRIC_FIELDS) {
      if (data[field] !== undefined) c.metrics[field] = data[field];
    }
    if (callId !== undefined && c.callId === undefined) {
      c.callId = callId;
      callLinks.set(callId, conversationId);
      const pending = pendingCallEvents.get(callId);
      pendingCallEvents.delete(callId);
      for (const e of pending ?? []) observe({ ...e, data: { ...e.data, conversation_id: conversationId } });
    }
  }

  // ------------------------------------------------ generated values
  const rng = (id: string, label: string) => mulberry32(hash32(`${seed}|${id}|${label}`));

  function factsOf(c: Observed): Facts {
    const m = c.metrics;
    const endMs = c.endFromData ?? c.endFromConversationEvent ?? c.endFromCallEvent ?? null;
    const ended = endMs !== null;
    const generatedDuration = 30 + Math.floor(rng(c.id, 'duration')() * 571); // 30..600 s
    const providedDuration = m.duration_seconds ?? m.call_duration_secs;
    let startMs = c.startFromData ?? c.startFromConversationEvent ?? c.startFromCallEvent;
    if (startMs === undefined) {
      startMs = endMs !== null ? endMs - (finiteNumber(providedDuration) ?? generatedDuration) * 1000 : c.firstSeenMs;
    }
    let duration: unknown = providedDuration;
    if (duration === undefined) {
      duration = Math.max(0, Math.round(((endMs ?? now()) - startMs) / 1000));
    }

    const generatedTurns = 4 + Math.floor(rng(c.id, 'turns')() * 21); // 4..24
    const turnCount: unknown = m.turn_count ?? m.message_count ?? generatedTurns;
    const turnsToWrite = Math.min(200, Math.max(0, Math.floor(finiteNumber(turnCount) ?? generatedTurns)));

    const generatedScore = round1(1 + rng(c.id, 'satisfaction')() * 4);
    const providedScore = m.satisfaction_score ?? m.rating;
    const satisfaction = providedScore ?? generatedScore;
    const rating = providedScore ?? Math.min(5, Math.max(1, Math.round(generatedScore)));

    const generatedResolution = rng(c.id, 'resolution')() < 0.7 ? 'resolved' : 'unresolved';
    const rs = m.resolution_status;
    const cs = m.call_successful;
    const resolutionStatus = rs ?? (typeof cs === 'string' ? (OUTCOME_TO_RESOLUTION[cs] ?? 'unknown') : cs) ?? generatedResolution;
    const callSuccessful =
      cs ?? (typeof rs === 'string' ? (RESOLUTION_TO_OUTCOME[rs] ?? 'unknown') : rs) ?? RESOLUTION_TO_OUTCOME[generatedResolution];

    const topicRng = rng(c.id, 'topics');
    const topicCount = Math.floor(topicRng() * 4); // 0..3
    const pool = [...TOPICS];
    const generatedTopics: string[] = [];
    for (let i = 0; i < topicCount; i++) generatedTopics.push(pool.splice(Math.floor(topicRng() * pool.length), 1)[0] as string);
    const topics = m.topics ?? generatedTopics;
    const firstTopic = Array.isArray(topics) && typeof topics[0] === 'string' ? topics[0] : undefined;

    const shapeRng = rng(c.id, 'shape');
    const shape = shapeRng() < 0.5 ? 'A' : 'B';
    const omitTranscript = shape === 'B' && shapeRng() < 0.4;
    const transcriptAsArray = shapeRng() < 0.5;

    return {
      id: c.id,
      shape,
      omitTranscript,
      transcriptAsArray,
      ended,
      agentId: c.agentId ?? `agent_sim_${1 + Math.floor(rng(c.id, 'agent')() * 3)}`,
      callId: c.callId ?? null,
      direction: c.direction ?? pick(rng(c.id, 'direction'), DIRECTIONS),
      startMs,
      endMs,
      duration,
      turnCount,
      resolutionStatus,
      callSuccessful,
      providedResolution: rs,
      providedCallSuccessful: cs,
      satisfaction,
      rating,
      topics,
      escalated: m.escalated ?? (c.escalatedByEvent ? true : undefined),
      transcript: transcriptOf(c.id, turnsToWrite, finiteNumber(duration) ?? generatedDuration, firstTopic, ended),
      summaryTitle: firstTopic ? `${firstTopic.replace(/_/g, ' ')} enquiry` : 'General enquiry',
    };
  }

  /** `count` alternating turns, agent first, times increasing within `durationSecs`. */
  function transcriptOf(id: string, count: number, durationSecs: number, topic: string | undefined, ended: boolean): Turn[] {
    const r = rng(id, 'transcript');
    const subject = topic ? topic.replace(/_/g, ' ') : 'my account';
    const turns: Turn[] = [];
    for (let i = 0; i < count; i++) {
      const role = i % 2 === 0 ? 'agent' : 'user';
      let message: string;
      if (i === 0) message = 'Hello, thanks for calling. How can I help you today?';
      else if (i === 1) message = `Hi, I have a question about ${subject}.`;
      else if (ended && i === count - 1) message = role === 'agent' ? 'Thanks for calling, goodbye.' : 'That is all, thank you.';
      else message = pick(r, role === 'agent' ? AGENT_LINES : USER_LINES);
      // Slot i of count, kept inside [0.15, 0.85] of the slot: strictly increasing before rounding.
      const time = round1((durationSecs * (i + 0.15 + 0.7 * r())) / count);
      turns.push({
        role,
        message,
        time_in_call_secs: time,
        interrupted: role === 'agent' && i > 0 && r() < 0.15,
        tool_calls: [],
        tool_results: [],
        feedback: null,
      });
    }
    return turns;
  }

  const iso = (ms: number) => new Date(ms).toISOString();
  const unix = (ms: number) => Math.floor(ms / 1000);

  function detailsOf(f: Facts): Record<string, unknown> {
    const optional = {
      ...(f.escalated !== undefined && { escalated: f.escalated }),
    };
    if (f.shape === 'A') {
      return {
        conversation_id: f.id,
        agent_id: f.agentId,
        call_id: f.callId,
        status: f.ended ? 'completed' : 'in-progress',
        direction: f.direction,
        started_at: iso(f.startMs),
        ended_at: f.endMs === null ? null : iso(f.endMs),
        duration_seconds: f.duration,
        turn_count: f.turnCount,
        resolution_status: f.resolutionStatus,
        // The webhook's own outcome when it does not map onto a resolution.
        ...(f.providedCallSuccessful !== undefined && !(String(f.providedCallSuccessful) in OUTCOME_TO_RESOLUTION) && {
          call_successful: f.providedCallSuccessful,
        }),
        satisfaction_score: f.satisfaction,
        topics: f.topics,
        ...optional,
        transcript: f.transcript,
      };
    }
    return {
      conversation_id: f.id,
      agent_id: f.agentId,
      status: f.ended ? 'done' : 'in-progress',
      metadata: {
        start_time_unix_secs: unix(f.startMs),
        call_duration_secs: f.duration,
        direction: f.direction,
        ...(f.callId !== null && { call_id: f.callId }),
      },
      analysis: {
        call_successful: f.callSuccessful,
        call_summary_title: f.summaryTitle,
        transcript_summary: summaryOf(f),
      },
      // The webhook's own resolution when it does not map onto an outcome.
      ...(f.providedResolution !== undefined && !(String(f.providedResolution) in RESOLUTION_TO_OUTCOME) && {
        resolution_status: f.providedResolution,
      }),
      rating: f.rating,
      message_count: f.turnCount,
      topics: f.topics,
      ...optional,
      ...(!f.omitTranscript && { transcript: f.transcript }),
    };
  }

  function summaryOf(f: Facts): string {
    return `The caller asked about ${f.summaryTitle.toLowerCase().replace(/ enquiry$/, '')}; the agent ${
      f.callSuccessful === 'success' ? 'resolved it' : 'could not resolve it'
    }.`;
  }

  function listItemOf(f: Facts): Record<string, unknown> {
    return {
      conversation_id: f.id,
      agent_id: f.agentId,
      start_time_unix_secs: unix(f.startMs),
      call_duration_secs: f.duration,
      message_count: f.turnCount,
      status: f.ended ? 'done' : 'in-progress',
      call_successful: f.callSuccessful,
      direction: f.direction,
      rating: f.rating,
      call_summary_title: f.summaryTitle,
      transcript_summary: summaryOf(f),
    };
  }

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
    const f = factsOf(c);
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
    const frequencyHz = 220 + Math.floor(rng(f.id, 'audio')() * 660);
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
      .map((c) => listItemOf(factsOf(c)))
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
