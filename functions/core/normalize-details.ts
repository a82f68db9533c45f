/**
 * Normalization of ThreeTone's conversation details. Its docs come in two generations that disagree
 * (both documented by ThreeTone): the guide (`duration_seconds`, `turn_count`, `resolution_status`,
 * `satisfaction_score`, ISO times) and the generated reference (`call_duration_secs`, `message_count`,
 * `call_successful`, `rating`, Unix seconds, some fields nested under `metadata`/`analysis`). Both
 * are accepted, in any mix; unknown or malformed fields are ignored, never fatal.
 *
 * Hand-written rather than a zod schema: the rules are "first usable value among these paths", which
 * a schema expresses poorly, and the processor bundle stays small (see docs/decisions.md).
 */
import { asId, parseTimestamp } from './envelope.js';
import type { NormalizedDetails, TranscriptTurn } from './types.js';

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function at(obj: Obj, path: string): unknown {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (!isObj(cur)) return undefined;
    cur = cur[part];
  }
  return cur;
}

function first<T>(obj: Obj, paths: readonly string[], convert: (v: unknown) => T | null): T | null {
  for (const p of paths) {
    const v = at(obj, p);
    if (v === undefined || v === null) continue;
    const c = convert(v);
    if (c !== null) return c;
  }
  return null;
}

export const asString = (v: unknown): string | null =>
  typeof v === 'string' && v.trim() !== '' ? v.trim() : typeof v === 'number' && Number.isFinite(v) ? String(v) : null;

/** A decimal number as JSON writes it. `Number()` alone also takes "0x10", "0b11" and "0o7". */
const DECIMAL = /^-?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$/i;

/**
 * Bounds of the numbers a record holds (durations, counts, scores, offsets): beyond them a value is
 * malformed and ignored. They keep every stored number, and every sum of them in the aggregates,
 * exact and within DynamoDB's number range (a `1e300` or `1e-300` would be refused there).
 */
export const MAX_MAGNITUDE = 1e9;
const DECIMALS = 1e6;

export const asNumber = (v: unknown): number | null => {
  const n = typeof v === 'number' ? v : typeof v === 'string' && DECIMAL.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isFinite(n) || Math.abs(n) > MAX_MAGNITUDE) return null;
  return Math.round(n * DECIMALS) / DECIMALS || 0; // `|| 0`: no -0
};

/** Longest text kept in a record field: summaries and reasons are cut there, with `…`. */
export const MAX_TEXT_CHARS = { summary: 4096, reason: 1024, label: 64 } as const;
/** Most topics kept per conversation. */
export const MAX_TOPICS = 10;

/** `s` cut to at most `max` UTF-16 units, never inside a surrogate pair, marked with `…` when cut. */
export function clipText(s: string, max: number): string {
  if (s.length <= max) return s;
  let end = max - 1;
  const c = s.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--;
  return `${s.slice(0, end)}…`;
}

const asText =
  (max: number) =>
  (v: unknown): string | null => {
    const s = asString(v);
    return s === null ? null : clipText(s, max);
  };

const asNonNegative = (v: unknown): number | null => {
  const n = asNumber(v);
  return n !== null && n >= 0 ? n : null;
};

export const asIso = (v: unknown): string | null => {
  const ms = parseTimestamp(v);
  return ms === null ? null : new Date(ms).toISOString();
};

const asBool = (v: unknown): boolean | null => {
  if (typeof v === 'boolean') return v;
  if (v === 'true') return true;
  if (v === 'false') return false;
  return null;
};

const asTopics = (v: unknown): string[] | null => {
  if (!Array.isArray(v)) return null;
  const label = asText(MAX_TEXT_CHARS.label);
  const names = v.map((t) => (isObj(t) ? label(t.name ?? t.topic) : label(t))).filter((t): t is string => t !== null);
  return [...new Set(names)].slice(0, MAX_TOPICS);
};

const RESOLUTION_ALIASES: Record<string, string> = {
  success: 'resolved',
  successful: 'resolved',
  resolved: 'resolved',
  failure: 'unresolved',
  failed: 'unresolved',
  unresolved: 'unresolved',
  unknown: 'unknown',
};

const asResolution = (v: unknown): string | null => {
  if (typeof v === 'boolean') return v ? 'resolved' : 'unresolved';
  const s = asText(MAX_TEXT_CHARS.label)(v)?.toLowerCase();
  if (!s) return null;
  return RESOLUTION_ALIASES[s] ?? s;
};

/** The paths each normalized field is read from, first usable value wins. */
export const DETAIL_PATHS = {
  agent: ['agent_id', 'metadata.agent_id'],
  call: ['call_id', 'metadata.call_id', 'metadata.phone_call.call_sid'],
  direction: ['direction', 'metadata.direction', 'call_direction', 'metadata.phone_call.direction'],
  status: ['status'],
  started: ['started_at', 'start_time', 'start_time_unix_secs', 'metadata.start_time_unix_secs', 'metadata.started_at'],
  ended: ['ended_at', 'end_time', 'end_time_unix_secs', 'metadata.end_time_unix_secs', 'metadata.ended_at'],
  duration: ['duration_seconds', 'call_duration_secs', 'metadata.call_duration_secs', 'duration'],
  turns: ['turn_count', 'message_count', 'metadata.message_count'],
  resolution: ['resolution_status', 'call_successful', 'analysis.call_successful', 'analysis.resolution_status'],
  satisfaction: ['satisfaction_score', 'rating', 'analysis.satisfaction_score', 'analysis.rating', 'metadata.rating', 'metadata.feedback.rating'],
  topics: ['topics', 'analysis.topics'],
  escalated: ['escalated', 'analysis.escalated'],
  summary: ['summary', 'call_summary_title', 'analysis.call_summary_title', 'transcript_summary', 'analysis.transcript_summary'],
} as const;
const P = DETAIL_PATHS;

const AGENT_ROLES = new Set(['agent', 'assistant', 'ai', 'bot']);
/** Roles are normalized to "user" | "agent" where recognizable, kept as sent otherwise. */
function normalizeRole(v: unknown): string {
  const s = asString(v)?.toLowerCase() ?? 'unknown';
  if (AGENT_ROLES.has(s)) return 'agent';
  if (s === 'customer' || s === 'caller' || s === 'human') return 'user';
  return s;
}

/** A transcript from the details' `transcript` or the `/transcript` endpoint (array or `{transcript}`). */
export function normalizeTranscript(raw: unknown): TranscriptTurn[] | null {
  const list = Array.isArray(raw) ? raw : isObj(raw) && Array.isArray(raw.transcript) ? raw.transcript : isObj(raw) && Array.isArray(raw.turns) ? raw.turns : null;
  if (!list) return null;
  // `interrupted` is left out of the spread: a non-boolean one must not pass as a TranscriptTurn's boolean.
  return list.filter(isObj).map(({ interrupted, ...t }) => ({
    ...t,
    role: normalizeRole(t.role ?? t.speaker),
    message: asString(t.message ?? t.text) ?? '',
    time_in_call_secs: asNonNegative(t.time_in_call_secs ?? t.time_in_call ?? t.offset_seconds),
    ...(typeof interrupted === 'boolean' ? { interrupted } : {}),
  }));
}

/** Details of a conversation, from either documented response shape (or a webhook's `data`). */
export function normalizeDetails(conversationId: string, raw: Obj): NormalizedDetails {
  const sat = first(raw, P.satisfaction, asNumber);
  return {
    conversation_id: conversationId,
    agent_id: first(raw, P.agent, asId),
    call_id: first(raw, P.call, asId),
    direction: first(raw, P.direction, asText(MAX_TEXT_CHARS.label))?.toLowerCase() ?? null,
    status: first(raw, P.status, asText(MAX_TEXT_CHARS.label)),
    started_at: first(raw, P.started, asIso),
    ended_at: first(raw, P.ended, asIso),
    duration_seconds: first(raw, P.duration, asNonNegative),
    turn_count: first(raw, P.turns, asNonNegative),
    resolution_status: first(raw, P.resolution, asResolution),
    satisfaction_score: sat,
    topics: first(raw, P.topics, asTopics),
    escalated: first(raw, P.escalated, asBool),
    summary: first(raw, P.summary, asText(MAX_TEXT_CHARS.summary)),
    transcript: normalizeTranscript(raw.transcript),
  };
}

/** ThreeTone statuses meaning its analysis (rating, success, topics) may still change. */
const NON_FINAL_STATUSES = new Set(['initiated', 'in-progress', 'in_progress', 'processing', 'pending', 'active', 'ongoing', 'queued']);

/** Whether details with this status may still change (and are worth fetching again). */
export const isNonFinalStatus = (status: string | null | undefined): boolean => !!status && NON_FINAL_STATUSES.has(status.toLowerCase());
