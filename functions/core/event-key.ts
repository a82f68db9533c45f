import { createHash } from 'node:crypto';
import { isLosslessNumber, type LosslessNumber } from './json-text.js';
import type { Envelope } from './types.js';

/**
 * JSON with object keys sorted at every depth: two serializations of the same value (key order,
 * whitespace) give the same text.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  // A number a double cannot hold keeps its digits, so such webhooks that differ stay different.
  if (isLosslessNumber(value)) return (value as LosslessNumber).value;
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/**
 * The identity of a webhook delivery. ThreeTone documents no event id, so a retry is recognized by
 * its content: the same event name, timestamp and data, however it was serialized.
 */
export function eventKey(envelope: Envelope): string {
  return createHash('sha256')
    .update(canonicalJson({ event: envelope.event, timestamp: envelope.timestamp, data: envelope.data }))
    .digest('hex')
    .slice(0, 40);
}
