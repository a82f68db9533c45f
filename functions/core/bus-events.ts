import { createHash } from 'node:crypto';
import { stringifyJson } from './json-text.js';

/** EventBridge `source` of every event this service emits. */
export const EVENT_SOURCE = 'threetone.conversations';
/** Version of the `detail` schemas in `schemas/` (bump on a breaking change). */
export const SCHEMA_VERSION = '1';

export const DetailType = {
  ConversationStarted: 'Conversation Started',
  ConversationEnded: 'Conversation Ended',
  ConversationCompleted: 'Conversation Completed',
  ConversationUpdated: 'Conversation Updated',
  ConversationEscalated: 'Conversation Escalated',
  ConversationAlert: 'Conversation Alert',
  PlatformAlert: 'Platform Alert',
  ThreeToneEvent: 'ThreeTone Event',
  ConversationErased: 'Conversation Erased',
} as const;
export type DetailType = (typeof DetailType)[keyof typeof DetailType];

/** An event to put on the bus. `detail.event_id` is deterministic: consumers dedupe on it. */
export interface BusEvent {
  readonly detailType: DetailType;
  readonly detail: Record<string, unknown> & { event_id: string; schema_version: string };
  /** ISO-8601 time of the fact (EventBridge `Time`). */
  readonly time: string;
}

/**
 * A deterministic, UUID-shaped id from a name (RFC 4122 v5 layout over SHA-1 is overkill here:
 * SHA-256 truncated to 128 bits with the v5-style version/variant bits is as collision-safe).
 */
export function deterministicId(name: string): string {
  const h = createHash('sha256').update(name).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

export function busEvent(
  detailType: DetailType,
  idName: string,
  time: string,
  detail: Record<string, unknown>,
): BusEvent {
  return {
    detailType,
    time,
    detail: { ...detail, event_id: deterministicId(`${detailType}|${idName}`), schema_version: SCHEMA_VERSION },
  };
}

/**
 * EventBridge refuses a PutEvents entry of 256 KB or more, counting the UTF-8 bytes of Source,
 * DetailType, Detail and Resources, plus 14 bytes for Time. Counted here as 256,000 bytes, so the
 * limit holds whether EventBridge's KB is 1,000 or 1,024 bytes.
 */
export const MAX_EVENT_ENTRY_BYTES = 256_000;
const TIME_BYTES = 14;

/** The `Detail` text of an event: numbers a double cannot hold keep their exact digits. */
export const detailJson = (e: BusEvent): string => stringifyJson(e.detail);

/** An event's PutEvents entry size as EventBridge computes it (no Resources are sent). */
export function entryBytes(e: BusEvent): number {
  return TIME_BYTES + Buffer.byteLength(EVENT_SOURCE, 'utf8') + Buffer.byteLength(e.detailType, 'utf8') + Buffer.byteLength(detailJson(e), 'utf8');
}

/**
 * Builds an event that carries a webhook's `data`, within EventBridge's limit: the whole `data`
 * when it fits, otherwise its top-level fields in order, each whole, as many as fit, with
 * `truncated` set (the full body stays available by its event key). Deterministic, so a rebuilt
 * event is the same event.
 */
export function fitData(data: Record<string, unknown>, build: (data: Record<string, unknown>, truncated: boolean) => BusEvent): BusEvent {
  const whole = build(data, false);
  if (entryBytes(whole) <= MAX_EVENT_ENTRY_BYTES) return whole;
  let room = MAX_EVENT_ENTRY_BYTES - entryBytes(build({}, true));
  const part: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(data)) {
    const bytes = Buffer.byteLength(`${JSON.stringify(k)}:${stringifyJson(v)},`, 'utf8');
    if (bytes > room) continue;
    Object.defineProperty(part, k, { value: v, enumerable: true, writable: true, configurable: true });
    room -= bytes;
  }
  return build(part, true);
}

/** PutEvents takes at most this many entries per call. */
export const MAX_ENTRIES_PER_CALL = 10;

/**
 * Splits events into PutEvents calls of at most 10 entries and MAX_EVENT_ENTRY_BYTES in all (the
 * limit holds for the whole request too). An event too large on its own is returned apart: the
 * planners never produce one (`fitData`), so it would be a bug, reported per entry, never sent.
 */
export function putEventsCalls(events: readonly BusEvent[]): { calls: BusEvent[][]; oversized: BusEvent[] } {
  const calls: BusEvent[][] = [];
  const oversized: BusEvent[] = [];
  let cur: BusEvent[] = [];
  let size = 0;
  for (const e of events) {
    const s = entryBytes(e);
    if (s > MAX_EVENT_ENTRY_BYTES) {
      oversized.push(e);
      continue;
    }
    if (cur.length === MAX_ENTRIES_PER_CALL || size + s > MAX_EVENT_ENTRY_BYTES) {
      calls.push(cur);
      cur = [];
      size = 0;
    }
    cur.push(e);
    size += s;
  }
  if (cur.length) calls.push(cur);
  return { calls, oversized };
}
