import { isLosslessNumber } from './json-text.js';

/** Replaces the named fields, at any depth, by "[redacted]" (personal data in published events). */
export const REDACTED = '[redacted]';

export function redact(value: unknown, fields: ReadonlySet<string>): unknown {
  if (fields.size === 0 || value === null || typeof value !== 'object' || isLosslessNumber(value)) return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, fields));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    // Defined, not assigned: a `__proto__` key is an ordinary field, not the object's prototype.
    Object.defineProperty(out, k, {
      value: fields.has(k.toLowerCase()) && v !== null && v !== undefined ? REDACTED : redact(v, fields),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}
