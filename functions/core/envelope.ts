/**
 * The webhook envelope `{event, timestamp, data}` (README.md, "The webhook contract"), validated by
 * hand: the ingest path is bundled into a Lambda where every KB of import counts, so no schema library
 * here. Ingest and processor parse a body with this one function, so whatever ingest accepts the
 * processor can read.
 * Error messages name the failing field but never echo body content (it may hold personal data).
 *
 * The limits (README, "The webhook contract"), each refused with a 400 that names it:
 * - JSON nested at most MAX_NESTING_DEPTH levels (the envelope object is level 1);
 * - every string and key well-formed Unicode (no lone surrogate `\ud800` escapes);
 * - ids (`conversation_id`, `agent_id`, `call_id`, wherever they are read from) are non-empty
 *   strings of at most MAX_ID_BYTES UTF-8 bytes, or integers; they are used exactly as sent.
 */
import { illFormedStringPath, isLosslessNumber, type LosslessNumber, nestingDepth, numberOf, parseJson } from './json-text.js';
import type { Envelope } from './types.js';

/** Deepest JSON nesting accepted; ThreeTone's payloads nest about 5 levels. */
export const MAX_NESTING_DEPTH = 32;
/** Longest id accepted, in UTF-8 bytes; ThreeTone's ids are a few dozen. Keys stay far below DynamoDB's limits. */
export const MAX_ID_BYTES = 256;
/** Longest `event` name accepted, in UTF-8 bytes. */
export const MAX_EVENT_NAME_BYTES = 128;

/** Where ids are read from in `data` (normalize-details.ts reads agent and call ids at these paths). */
export const ID_PATHS = [
  'conversation_id',
  'agent_id',
  'call_id',
  'metadata.agent_id',
  'metadata.call_id',
  'metadata.phone_call.call_sid',
] as const;

export type EnvelopeResult =
  | { ok: true; envelope: Envelope; timestampMs: number }
  | { ok: false; code: 'invalid_json' | 'invalid_envelope' | 'too_deep'; message: string };

const INTEGER = /^-?\d+$/;

/** An id as sent: a non-empty string within MAX_ID_BYTES, or an integer (its decimal digits). `null` otherwise. */
export function asId(v: unknown): string | null {
  if (typeof v === 'string') return v !== '' && v.isWellFormed() && Buffer.byteLength(v, 'utf8') <= MAX_ID_BYTES ? v : null;
  if (typeof v === 'number') return Number.isSafeInteger(v) ? String(v) : null;
  if (isLosslessNumber(v)) {
    const digits = (v as LosslessNumber).value;
    return INTEGER.test(digits) && digits.length <= MAX_ID_BYTES ? digits : null;
  }
  return null;
}

function idProblem(v: unknown): string | null {
  if (typeof v === 'string') {
    if (v === '') return 'must not be empty';
    if (!v.isWellFormed()) return 'is not well-formed Unicode (a lone surrogate)';
    if (Buffer.byteLength(v, 'utf8') > MAX_ID_BYTES) return `is longer than ${MAX_ID_BYTES} bytes`;
    return null;
  }
  if (typeof v === 'number' || isLosslessNumber(v)) return asId(v) === null ? 'must be an integer when it is a number' : null;
  return 'must be a string or an integer';
}

function valueAt(obj: Record<string, unknown>, path: string): unknown {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (!isObject(cur)) return undefined;
    cur = cur[part];
  }
  return cur;
}

/** Numbers below this are Unix seconds, above it milliseconds (1e11 s is the year 5138; 1e11 ms is 1973). */
const SECONDS_LIMIT = 1e11;
/** ECMAScript's time value range, in ms either side of the epoch. */
const MAX_TIME_MS = 8.64e15;

const NUMERIC = /^-?\d+(?:\.\d+)?$/;
/** ISO-8601 date, optionally with a time and a zone. A date is required: `Date.parse` alone accepts garbage such as "1". */
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;

function fromNumber(n: number | null): number | null {
  if (n === null) return null;
  if (!Number.isFinite(n)) return null;
  const ms = Math.round(Math.abs(n) < SECONDS_LIMIT ? n * 1000 : n);
  return Math.abs(ms) <= MAX_TIME_MS ? ms : null;
}

function fromIso(s: string): number | null {
  const m = ISO.exec(s);
  if (!m) return null;
  const [, y, mo, d, time, zone] = m;
  // V8 rolls 2024-02-30 over to March: reject days the month does not have.
  const day = Number(d);
  const date = new Date(Date.UTC(Number(y), Number(mo) - 1, day));
  if (date.getUTCMonth() !== Number(mo) - 1 || date.getUTCDate() !== day) return null;
  if (time === undefined) return date.getTime();
  // A time without a zone is taken as UTC, not as the host's local time, so every host agrees.
  let tz = (zone ?? 'Z').toUpperCase();
  if (/^[+-]\d{2}$/.test(tz)) tz += ':00';
  const ms = Date.parse(`${y}-${mo}-${d}T${time}${tz}`);
  return Number.isFinite(ms) ? ms : null;
}

/**
 * Epoch milliseconds of a webhook `timestamp`: an ISO-8601 string, or Unix seconds/milliseconds as
 * a number or a numeric string. `null` when it is none of those.
 */
export function parseTimestamp(v: unknown): number | null {
  if (typeof v === 'number' || isLosslessNumber(v)) return fromNumber(numberOf(v));
  if (typeof v !== 'string') return null;
  const s = v.trim();
  if (NUMERIC.test(s)) return fromNumber(Number(s));
  return fromIso(s);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const invalid = (message: string): EnvelopeResult => ({ ok: false, code: 'invalid_envelope', message });

/** Parses and validates a webhook body. Unknown event names are valid; extra top-level fields are dropped. */
export function parseEnvelope(raw: string): EnvelopeResult {
  if (nestingDepth(raw, MAX_NESTING_DEPTH) > MAX_NESTING_DEPTH) {
    return { ok: false, code: 'too_deep', message: `JSON is nested deeper than ${MAX_NESTING_DEPTH} levels.` };
  }
  let body: unknown;
  try {
    body = parseJson(raw);
  } catch {
    return { ok: false, code: 'invalid_json', message: 'Body is not valid JSON.' };
  }
  if (!isObject(body)) return invalid('Body must be a JSON object.');

  const { event, timestamp, data } = body;
  if (event === undefined) return invalid('`event` is required.');
  if (typeof event !== 'string') return invalid('`event` must be a string.');
  if (event.trim() === '') return invalid('`event` must not be empty.');
  if (!event.isWellFormed()) return invalid('`event` is not well-formed Unicode (a lone surrogate).');
  if (Buffer.byteLength(event, 'utf8') > MAX_EVENT_NAME_BYTES) return invalid(`\`event\` is longer than ${MAX_EVENT_NAME_BYTES} bytes.`);

  if (timestamp === undefined) return invalid('`timestamp` is required.');
  const timestampMs = parseTimestamp(timestamp);
  if (timestampMs === null) return invalid('`timestamp` must be an ISO-8601 date-time or Unix seconds/milliseconds.');

  if (data === undefined) return invalid('`data` is required.');
  if (!isObject(data)) return invalid('`data` must be a JSON object.');

  for (const path of ID_PATHS) {
    const v = valueAt(data, path);
    if (v === undefined || v === null) continue;
    const problem = idProblem(v);
    if (problem) return invalid(`\`data.${path}\` ${problem}.`);
  }
  if (illFormedStringPath(data, 'data') !== null) {
    return invalid('`data` holds a string or key that is not well-formed Unicode (a lone surrogate).');
  }

  return { ok: true, envelope: { event, timestamp: timestamp as Envelope['timestamp'] /* parseTimestamp accepts nothing else */, data }, timestampMs };
}
