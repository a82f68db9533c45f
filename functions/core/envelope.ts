/**
 * The webhook envelope `{event, timestamp, data}` (README.md, "The webhook contract"), validated by hand: the ingest
 * path is bundled into a Lambda where every KB of import counts, so no schema library here.
 * Error messages name the failing field but never echo body content (it may hold personal data).
 */
import type { Envelope } from './types.js';

export type EnvelopeResult =
  | { ok: true; envelope: Envelope; timestampMs: number }
  | { ok: false; code: 'invalid_json' | 'invalid_envelope'; message: string };

/** Numbers below this are Unix seconds, above it milliseconds (1e11 s is the year 5138; 1e11 ms is 1973). */
const SECONDS_LIMIT = 1e11;
/** ECMAScript's time value range, in ms either side of the epoch. */
const MAX_TIME_MS = 8.64e15;

const NUMERIC = /^-?\d+(?:\.\d+)?$/;
/** ISO-8601 date, optionally with a time and a zone. A date is required: `Date.parse` alone accepts garbage such as "1". */
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;

function fromNumber(n: number): number | null {
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
  if (typeof v === 'number') return fromNumber(v);
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
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    return { ok: false, code: 'invalid_json', message: 'Body is not valid JSON.' };
  }
  if (!isObject(body)) return invalid('Body must be a JSON object.');

  const { event, timestamp, data } = body;
  if (event === undefined) return invalid('`event` is required.');
  if (typeof event !== 'string') return invalid('`event` must be a string.');
  if (event.trim() === '') return invalid('`event` must not be empty.');

  if (timestamp === undefined) return invalid('`timestamp` is required.');
  const timestampMs = parseTimestamp(timestamp);
  if (timestampMs === null) return invalid('`timestamp` must be an ISO-8601 date-time or Unix seconds/milliseconds.');

  if (data === undefined) return invalid('`data` is required.');
  if (!isObject(data)) return invalid('`data` must be a JSON object.');

  return { ok: true, envelope: { event, timestamp: timestamp as string | number /* parseTimestamp accepts nothing else */, data }, timestampMs };
}
