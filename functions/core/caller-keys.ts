/**
 * Caller keys: how the pipeline finds every conversation of one phone number without storing the
 * number. Each phone field of a webhook's `data` (any depth) is normalized and hashed with
 * HMAC-SHA256 under a secret key; only the hex digest is stored (docs/decisions.md, D26).
 *
 * Normalization (README "Erasure"): the digits of the value, and nothing else (`+1 (555) 555-0100`,
 * `15555550100` and `+15555550100` are one number); fewer than 5 digits is not a phone number. A
 * national form without the country code (`5555550100`) is a different number.
 */
import { createHmac } from 'node:crypto';

/** The fields whose values are phone numbers, wherever they appear in `data`. */
export const PHONE_FIELDS: readonly string[] = ['phone_number', 'caller_id', 'from_number', 'to_number', 'customer_phone'];
const FIELDS = new Set(PHONE_FIELDS);
const MIN_DIGITS = 5;
const MAX_DIGITS = 32;
/** The payload is at most 32 levels deep (ingest); the walk is bounded anyway. */
const MAX_DEPTH = 40;

/** The normalized number (digits only), or null when the value is not a phone number. */
export function normalizePhone(value: unknown): string | null {
  const text = typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'bigint' ? String(value) : isLossless(value) ? String(value) : null;
  if (text === null || text.length > 64) return null;
  const digits = text.replace(/\D/g, '');
  return digits.length >= MIN_DIGITS && digits.length <= MAX_DIGITS ? digits : null;
}

/** lossless-json's `LosslessNumber` (an 18-digit phone sent as a JSON number keeps its digits). */
const isLossless = (v: unknown): boolean => typeof v === 'object' && v !== null && (v as { isLosslessNumber?: unknown }).isLosslessNumber === true;

/** The normalized phone numbers in `data`, each once. */
export function phoneNumbersIn(data: Record<string, unknown>): string[] {
  const found = new Set<string>();
  const walk = (v: unknown, depth: number) => {
    if (depth > MAX_DEPTH || typeof v !== 'object' || v === null || isLossless(v)) return;
    if (Array.isArray(v)) {
      for (const x of v) walk(x, depth + 1);
      return;
    }
    for (const [k, x] of Object.entries(v)) {
      if (FIELDS.has(k.toLowerCase())) {
        const n = normalizePhone(x);
        if (n) found.add(n);
      } else walk(x, depth + 1);
    }
  };
  walk(data, 0);
  return [...found];
}

/** The caller key of a normalized number under `key`: lower-case hex HMAC-SHA256. */
export const callerKey = (normalized: string, key: string): string => createHmac('sha256', key).update(normalized, 'utf8').digest('hex');

/** The caller keys of a webhook's `data`, each once. */
export const callerKeysOf = (data: Record<string, unknown>, key: string): string[] => phoneNumbersIn(data).map((n) => callerKey(n, key));
