/**
 * Which bus events a change of a conversation produces. Each fact is emitted once: what was already
 * written to the outbox is remembered in `published`, and event ids are deterministic so that a
 * consumer can dedupe a re-publication after a crash.
 */
import { type BusEvent, busEvent, DetailType, fitData } from './bus-events.js';
import type { WebhookState } from './conversation-state.js';
import { canonicalJson } from './event-key.js';
import { clipText } from './normalize-details.js';
import { redact } from './redact.js';
import type { AlertThresholds, ConversationRecord, Envelope } from './types.js';

export interface Published {
  started: boolean;
  /** Absent in bookkeeping written before `Conversation Ended` existed. */
  ended?: boolean;
  completed: boolean;
  escalations: string[];
  alerts: string[];
}

export const nothingPublished = (): Published => ({ started: false, ended: false, completed: false, escalations: [], alerts: [] });

export interface PlannedEvents {
  events: BusEvent[];
  published: Published;
}

export function planConversationEvents(input: {
  before: ConversationRecord | null;
  after: ConversationRecord;
  state: WebhookState;
  published: Published;
  thresholds: AlertThresholds;
  now: string;
}): PlannedEvents {
  const { before, after, state, thresholds, now } = input;
  const published: Published = {
    ...input.published,
    escalations: [...input.published.escalations],
    alerts: [...input.published.alerts],
  };
  const events: BusEvent[] = [];
  const id = after.conversation_id;

  if (!published.started) {
    events.push(
      busEvent(DetailType.ConversationStarted, id, after.started_at ?? state.first_event_at, {
        conversation_id: id,
        agent_id: after.agent_id,
        started_at: after.started_at,
        direction: after.direction,
      }),
    );
    published.started = true;
  }

  // The end, as soon as a webhook says it: it never waits for ThreeTone's details.
  if (after.status === 'ended' && !published.ended) {
    events.push(
      busEvent(DetailType.ConversationEnded, id, after.ended_at ?? now, {
        conversation_id: id,
        agent_id: after.agent_id,
        started_at: after.started_at,
        ended_at: after.ended_at,
        duration_seconds: after.duration_seconds,
        escalated: after.escalated,
      }),
    );
    published.ended = true;
  }

  for (const esc of state.escalations) {
    if (published.escalations.includes(esc.key)) continue;
    events.push(
      busEvent(DetailType.ConversationEscalated, `${id}|${esc.key}`, esc.escalated_at, {
        conversation_id: id,
        agent_id: after.agent_id,
        reason: esc.reason,
        escalated_at: esc.escalated_at,
      }),
    );
    published.escalations.push(esc.key);
  }

  for (const type of after.alerts) {
    if (published.alerts.includes(type)) continue;
    const [value, threshold] =
      type === 'long_duration'
        ? [after.duration_seconds, thresholds.longDurationSeconds]
        : type === 'low_satisfaction'
          ? [after.satisfaction_score, thresholds.lowSatisfaction]
          : [Math.max(1, state.escalations.length), 1];
    events.push(
      busEvent(DetailType.ConversationAlert, `${id}|${type}`, now, {
        alert_type: type,
        conversation_id: id,
        agent_id: after.agent_id,
        value,
        threshold,
      }),
    );
    published.alerts.push(type);
  }

  // Completed once enriched, or completed from webhook facts after waiting (`enrichment: "gave_up"`).
  const completedNow = after.status === 'ended' && after.enrichment !== 'pending';
  if (completedNow && !published.completed) {
    events.push(busEvent(DetailType.ConversationCompleted, id, after.ended_at ?? now, { ...after }));
    published.completed = true;
  } else if (published.completed && before && completedNow && canonicalJson(before) !== canonicalJson(after)) {
    // A correction after completion: consumers that keep the record get the new version.
    events.push(busEvent(DetailType.ConversationUpdated, `${id}|${canonicalJson(after)}`, now, { ...after }));
  }
  return { events, published };
}

const PLATFORM_EVENTS = new Set(['system_error', 'quota_exceeded', 'maintenance_scheduled']);

/** Longest platform message carried in a `Platform Alert`. */
const MAX_ALERT_MESSAGE_CHARS = 1024;

/**
 * Events for one accepted webhook itself: `ThreeTone Event` always, `Platform Alert` for platform
 * events. Each carries the (redacted) `data` whole when it fits EventBridge's entry limit, and in
 * part, marked `data_truncated: true`, when it does not; `event_key` names the stored body
 * (`GET /webhooks/{event_key}`).
 */
export function planWebhookEvents(input: {
  envelope: Envelope;
  key: string;
  timestampIso: string;
  redactFields: ReadonlySet<string>;
}): BusEvent[] {
  const { envelope, key, timestampIso, redactFields } = input;
  const data = redact(envelope.data, redactFields) as Record<string, unknown>;
  const carried = (d: Record<string, unknown>, truncated: boolean) => ({
    event: envelope.event,
    timestamp: envelope.timestamp,
    data: d,
    ...(truncated ? { data_truncated: true } : {}),
  });
  const events = [
    fitData(data, (d, truncated) => busEvent(DetailType.ThreeToneEvent, key, timestampIso, { ...carried(d, truncated), event_key: key })),
  ];
  if (PLATFORM_EVENTS.has(envelope.event)) {
    const d = envelope.data;
    const message = [d.message, d.error, d.description, d.reason].find((v) => typeof v === 'string') as string | undefined;
    events.push(
      fitData(data, (part, truncated) =>
        busEvent(DetailType.PlatformAlert, key, timestampIso, {
          alert_type: envelope.event,
          message: clipText(message ?? envelope.event.replace(/_/g, ' '), MAX_ALERT_MESSAGE_CHARS),
          source: carried(part, truncated),
          event_key: key,
        }),
      ),
    );
  }
  return events;
}

/**
 * A message that failed its last attempt. `error` is a code (an error's name, or a message this
 * service wrote): never a payload value.
 */
export function deadLetterAlert(input: {
  messageId: string;
  receiveCount: number;
  event: string | null;
  conversationId: string | null;
  error: string;
  now: string;
}): BusEvent {
  return busEvent(DetailType.PlatformAlert, `dead-letter|${input.messageId}`, input.now, {
    alert_type: 'dead_lettered',
    message: `A webhook could not be processed after ${input.receiveCount} attempts and was moved to the dead-letter queue: ${input.error}`,
    source: { message_id: input.messageId, event: input.event, conversation_id: input.conversationId, receive_count: input.receiveCount },
  });
}

/**
 * A conversation was erased (README "Erasure"): consumers delete what they derived from it. Carries
 * ids and the erasure time only; one per erasure (a second request for the same erasure is the same event).
 */
export function conversationErased(p: { conversationId: string; agentId: string | null; erasedAt: string }): BusEvent {
  return busEvent(DetailType.ConversationErased, `${p.conversationId}|${p.erasedAt}`, p.erasedAt, {
    conversation_id: p.conversationId,
    agent_id: p.agentId,
    erased_at: p.erasedAt,
  });
}
