/**
 * What the simulator has learned from the webhooks it mirrored: one `Observed` per conversation, and
 * `observe(state, envelope, now)`, the fold that adds one envelope to it (ids, agent, direction,
 * start/end times from event data or envelope timestamps, the metrics a webhook carried).
 */

export interface SimulatorEnvelope {
  readonly event: string;
  readonly timestamp: string | number;
  readonly data: Readonly<Record<string, unknown>>;
}

const METRIC_FIELDS = [
  'duration_seconds',
  'call_duration_secs',
  'turn_count',
  'message_count',
  'satisfaction_score',
  'rating',
  'resolution_status',
  'call_successful',
  'topics',
  'escalated',
] as const;
type MetricField = (typeof METRIC_FIELDS)[number];

export interface Observed {
  readonly id: string;
  readonly order: number;
  agentId?: string;
  callId?: string;
  direction?: string;
  /** Earliest start found in event data, else in a conversation_started / call_started timestamp. */
  startFromData?: number;
  startFromConversationEvent?: number;
  startFromCallEvent?: number;
  /** Latest end found likewise. */
  endFromData?: number;
  endFromConversationEvent?: number;
  endFromCallEvent?: number;
  firstSeenMs: number;
  escalatedByEvent: boolean;
  metrics: Partial<Record<MetricField, unknown>>;
}

/** The observed conversations, by id. */
export interface ObservedState {
  readonly conversations: Map<string, Observed>;
  /** call_id → conversation_id, and call events seen before their conversation was known. */
  readonly callLinks: Map<string, string>;
  readonly pendingCallEvents: Map<string, SimulatorEnvelope[]>;
}

export function createObservedState(): ObservedState {
  return { conversations: new Map(), callLinks: new Map(), pendingCallEvents: new Map() };
}

const START_FIELDS = ['started_at', 'start_time', 'start_time_unix_secs'];
const END_FIELDS = ['ended_at', 'end_time', 'end_time_unix_secs'];

/** Epoch ms from an ISO string, Unix seconds, or Unix milliseconds (numbers above 1e12). */
function toEpochMs(value: unknown): number | undefined {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return undefined;
    return value > 1e12 ? value : value * 1000;
  }
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const n = Number(value);
  if (Number.isFinite(n)) return toEpochMs(n);
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

function firstTime(data: Readonly<Record<string, unknown>>, fields: readonly string[]): number | undefined {
  for (const f of fields) {
    const ms = toEpochMs(data[f]);
    if (ms !== undefined) return ms;
  }
  return undefined;
}

function str(value: unknown): string | undefined {
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

const minDefined = (a: number | undefined, b: number | undefined) => (a === undefined ? b : b === undefined ? a : Math.min(a, b));
const maxDefined = (a: number | undefined, b: number | undefined) => (a === undefined ? b : b === undefined ? a : Math.max(a, b));

/**
 * Adds one webhook envelope to `state`. `now` (epoch ms) stands in for an envelope timestamp that is
 * not a time. A call event whose conversation is not known yet waits in `pendingCallEvents` until an
 * event links its call_id to a conversation_id.
 */
export function observe(state: ObservedState, envelope: SimulatorEnvelope, now: () => number): void {
  const { conversations, callLinks, pendingCallEvents } = state;
  const data = envelope?.data;
  if (typeof data !== 'object' || data === null) return;
  const callId = str(data.call_id);
  let conversationId = str(data.conversation_id);
  if (conversationId === undefined && callId !== undefined) {
    conversationId = callLinks.get(callId);
    if (conversationId === undefined) {
      // A call event before we know its conversation: keep it until the link shows up.
      const pending = pendingCallEvents.get(callId) ?? [];
      pending.push(envelope);
      pendingCallEvents.set(callId, pending);
      return;
    }
  }
  if (conversationId === undefined) return;

  const envelopeMs = toEpochMs(envelope.timestamp) ?? now();
  let c = conversations.get(conversationId);
  if (!c) {
    c = { id: conversationId, order: conversations.size, firstSeenMs: envelopeMs, escalatedByEvent: false, metrics: {} };
    conversations.set(conversationId, c);
  }
  c.firstSeenMs = Math.min(c.firstSeenMs, envelopeMs);
  c.agentId = str(data.agent_id) ?? c.agentId;
  c.direction = str(data.direction) ?? c.direction;
  c.startFromData = minDefined(c.startFromData, firstTime(data, START_FIELDS));
  c.endFromData = maxDefined(c.endFromData, firstTime(data, END_FIELDS));
  switch (envelope.event) {
    case 'conversation_started':
      c.startFromConversationEvent = minDefined(c.startFromConversationEvent, envelopeMs);
      break;
    case 'call_started':
      c.startFromCallEvent = minDefined(c.startFromCallEvent, envelopeMs);
      break;
    case 'conversation_ended':
      c.endFromConversationEvent = maxDefined(c.endFromConversationEvent, envelopeMs);
      break;
    case 'call_ended':
      c.endFromCallEvent = maxDefined(c.endFromCallEvent, envelopeMs);
      break;
    case 'escalation_triggered':
      c.escalatedByEvent = true;
      break;
  }
  for (const field of METRIC_FIELDS) {
    if (data[field] !== undefined) c.metrics[field] = data[field];
  }
  if (callId !== undefined && c.callId === undefined) {
    c.callId = callId;
    callLinks.set(callId, conversationId);
    const pending = pendingCallEvents.get(callId);
    pendingCallEvents.delete(callId);
    for (const e of pending ?? []) observe(state, { ...e, data: { ...e.data, conversation_id: conversationId } }, now);
  }
}
