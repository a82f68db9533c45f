/**
 * What a conversation's webhooks say, folded from the *set* of its stored events. The events are
 * sorted by (timestamp, key) before folding, so any delivery order, and any number of duplicates,
 * gives the same state: this is what makes the record order-independent.
 */
import { asIso, asString, clipText, MAX_TEXT_CHARS, normalizeDetails } from './normalize-details.js';
import type { ConversationStatus, NormalizedDetails } from './types.js';

export interface FoldableEvent {
  readonly key: string;
  readonly timestampMs: number;
  readonly envelope: { readonly event: string; readonly data: Record<string, unknown> };
}

export interface Escalation {
  key: string;
  reason: string | null;
  escalated_at: string;
}

export interface WebhookState {
  conversation_id: string;
  status: ConversationStatus;
  agent_id: string | null;
  call_id: string | null;
  direction: string | null;
  started_at: string | null;
  ended_at: string | null;
  /** Time of the earliest event (the record's sort time when nothing better is known). */
  first_event_at: string;
  escalations: Escalation[];
  /** Metric fields the webhooks themselves carried (latest event wins), used when details lack them. */
  hints: NormalizedDetails;
  event_count: number;
}

export const START_EVENTS = new Set(['conversation_started', 'call_started']);
export const END_EVENTS = new Set(['conversation_ended', 'call_ended']);
/** `data.source` of the end events the reconciler enqueues for conversations whose webhooks were missed. */
export const SYNTHETIC_SOURCE = 'reconciler';

function overlay(base: NormalizedDetails, next: NormalizedDetails): NormalizedDetails {
  const out = { ...base } as Record<string, unknown>;
  for (const [k, v] of Object.entries(next)) if (v !== null && v !== undefined) out[k] = v;
  return out as unknown as NormalizedDetails;
}

export function foldConversation(conversationId: string, events: readonly FoldableEvent[]): WebhookState {
  const sorted = [...events].sort((a, b) => a.timestampMs - b.timestampMs || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const seen = new Set<string>();
  let syntheticEnd: string | null = null;
  /** The end a `call_ended` says: used only without a `conversation_ended` (the call ends after the conversation). */
  let callEnd: string | null = null;
  let hints = normalizeDetails(conversationId, {});
  const state: WebhookState = {
    conversation_id: conversationId,
    status: 'active',
    agent_id: null,
    call_id: null,
    direction: null,
    started_at: null,
    ended_at: null,
    first_event_at: sorted.length ? new Date(sorted[0]!.timestampMs).toISOString() : new Date(0).toISOString(),
    escalations: [],
    hints,
    event_count: 0,
  };
  for (const e of sorted) {
    if (seen.has(e.key)) continue;
    seen.add(e.key);
    state.event_count++;
    const { event, data } = e.envelope;
    const at = new Date(e.timestampMs).toISOString();
    const d = normalizeDetails(conversationId, data);
    hints = overlay(hints, { ...d, transcript: null, started_at: null, ended_at: null, status: null });
    state.agent_id = d.agent_id ?? state.agent_id;
    state.call_id = d.call_id ?? state.call_id;
    state.direction = d.direction ?? state.direction;
    if (START_EVENTS.has(event)) {
      const started = d.started_at ?? at;
      if (!state.started_at || started < state.started_at) state.started_at = started;
    } else if (d.started_at && (!state.started_at || d.started_at < state.started_at)) {
      state.started_at = d.started_at;
    }
    if (END_EVENTS.has(event)) {
      state.status = 'ended';
      const ended = d.ended_at ?? at;
      if (data.source === SYNTHETIC_SOURCE) {
        // The reconciler's stand-in for a missed webhook: its time is an estimate, used only when
        // no real end event says otherwise (decided on the whole set, so still order-independent).
        if (!syntheticEnd || ended > syntheticEnd) syntheticEnd = ended;
      } else if (event === 'call_ended') {
        if (!callEnd || ended > callEnd) callEnd = ended;
      } else if (!state.ended_at || ended > state.ended_at) state.ended_at = ended;
    }
    if (event === 'escalation_triggered') {
      state.escalations.push({
        key: e.key,
        reason: clipOrNull(asString(data.reason ?? data.escalation_reason ?? data.message)),
        escalated_at: asIso(data.escalated_at) ?? at,
      });
    }
  }
  // A trailing call_ended a second after the conversation's end changes nothing a consumer sees.
  state.ended_at ??= callEnd ?? syntheticEnd;
  state.hints = hints;
  return state;
}

const clipOrNull = (s: string | null) => (s === null ? null : clipText(s, MAX_TEXT_CHARS.reason));
