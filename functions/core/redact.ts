/** Replaces the named fields, at any depth, by "[redacted]" (personal data in published events). */
export const REDACTED = '[redacted]';

export function redact(value: unknown, fields: ReadonlySet<string>): unknown {
  if (fields.size === 0 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, fields));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = fields.has(k.toLowerCase()) && v !== null && v !== undefined ? REDACTED : redact(v, fields);
  }
  return out;
}
