import { createHash } from 'node:crypto';

/** EventBridge `source` of every event this service emits. */
export const EVENT_SOURCE = 'threetone.conversations';
/** Version of the `detail` schemas in `schemas/` (bump on a breaking change). */
export const SCHEMA_VERSION = '1';

export const DetailType = {
  ConversationStarted: 'Conversation Started',
  ConversationCompleted: 'Conversation Completed',
  ConversationUpdated: 'Conversation Updated',
  ConversationEscalated: 'Conversation Escalated',
  ConversationAlert: 'Conversation Alert',
  PlatformAlert: 'Platform Alert',
  ThreeToneEvent: 'ThreeTone Event',
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
