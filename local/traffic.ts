/**
 * Realistic ThreeTone webhook traffic for the local sender, the demo, the benchmark and the tests.
 * Pure and deterministic: every random choice comes from the `rng` passed in (see `createRng`),
 * and no clock is read (callers pass `now` / `start`).
 *
 * What "realistic" means here (README "The webhook contract"): envelopes `{event, timestamp, data}` with ISO-8601
 * timestamps within the last hour (well inside the replay window), `conversation_*` events that carry
 * `conversation_id` and `agent_id`, optional `call_*` events that carry `call_id` (and the
 * conversation they belong to), an occasional `escalation_triggered`; and, on the wire, at-least-once
 * delivery: some bodies delivered twice (byte-identical retries) and deliveries out of order.
 */
import { signBody } from '#core/signature.js';
import type { Envelope } from '#core/types.js';
import { createRng, type Rng } from './prng.js';

export { createRng, type Rng } from './prng.js';

const intBetween = (rng: Rng, min: number, max: number) => min + Math.floor(rng() * (max - min + 1));
const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)] as T;
const hex = (rng: Rng, digits: number) => Array.from({ length: digits }, () => Math.floor(rng() * 16).toString(16)).join('');
const iso = (ms: number) => new Date(ms).toISOString();

/** A North-American number in the 555-0100..0199 block reserved for fiction. */
function fictionalPhone(rng: Rng): string {
  return `+1${pick(rng, ['212', '312', '415', '512', '617', '737', '917'])}555${String(100 + intBetween(rng, 0, 99)).padStart(4, '0')}`;
}

const ESCALATION_REASONS = [
  'customer asked for a human',
  'billing dispute over agent limit',
  'repeated misunderstanding',
  'customer sentiment negative',
  'request outside agent scope',
];

export interface ConversationEventsOptions {
  conversationId: string;
  agentId: string;
  start: Date;
  durationSeconds: number;
  /** Adds an `escalation_triggered` (true: at a random point of the conversation). */
  escalate?: boolean | { reason?: string; afterSeconds?: number };
  /** Adds `call_started` / `call_ended` around the conversation (they carry `call_id`). */
  withCall?: boolean;
  /** @default random: mostly inbound */
  direction?: 'inbound' | 'outbound' | 'web';
  rng: Rng;
}

/**
 * The webhooks of one conversation, in chronological order: [call_started], conversation_started,
 * [escalation_triggered], conversation_ended, [call_ended]. The end events carry `duration_seconds`
 * (the guide's field) and the caller's details, as ThreeTone's examples do.
 */
export function conversationEvents(opts: ConversationEventsOptions): Envelope[] {
  const { conversationId, agentId, rng } = opts;
  const startMs = opts.start.getTime();
  if (!Number.isFinite(startMs)) throw new RangeError('conversationEvents: start is not a valid date');
  if (!(opts.durationSeconds >= 0)) throw new RangeError('conversationEvents: durationSeconds must be >= 0');
  const duration = Math.round(opts.durationSeconds);
  const direction = opts.direction ?? (rng() < 0.75 ? 'inbound' : rng() < 0.7 ? 'outbound' : 'web');
  const agentLine = fictionalPhone(rng);
  const customer = fictionalPhone(rng);
  // The numbers as ThreeTone's example names them: phone_number is ours, caller_id who calls.
  const parties: Record<string, string> =
    direction === 'outbound'
      ? { phone_number: customer, caller_id: agentLine }
      : direction === 'web'
        ? { caller_id: `web-${hex(rng, 8)}` }
        : { phone_number: agentLine, caller_id: customer };
  const callId = opts.withCall ? `call_${hex(rng, 16)}` : undefined;
  const withCallId = callId === undefined ? {} : { call_id: callId };
  const at = (offsetSeconds: number) => iso(startMs + offsetSeconds * 1000);

  const out: Envelope[] = [];
  if (callId !== undefined) {
    out.push({
      event: 'call_started',
      timestamp: at(0),
      data: { call_id: callId, conversation_id: conversationId, agent_id: agentId, direction, ...parties },
    });
  }
  out.push({
    event: 'conversation_started',
    timestamp: at(callId === undefined ? 0 : 1),
    data: { conversation_id: conversationId, agent_id: agentId, ...withCallId, direction, ...parties },
  });
  if (opts.escalate) {
    const e = opts.escalate === true ? {} : opts.escalate;
    const after = Math.min(duration, Math.max(1, Math.round(e.afterSeconds ?? duration * (0.3 + 0.6 * rng()))));
    out.push({
      event: 'escalation_triggered',
      timestamp: at(after),
      data: {
        conversation_id: conversationId,
        agent_id: agentId,
        ...withCallId,
        reason: e.reason ?? pick(rng, ESCALATION_REASONS),
        escalated_at: at(after),
      },
    });
  }
  out.push({
    event: 'conversation_ended',
    timestamp: at(duration),
    data: { conversation_id: conversationId, agent_id: agentId, ...withCallId, direction, ...parties, duration_seconds: duration },
  });
  if (callId !== undefined) {
    out.push({
      event: 'call_ended',
      timestamp: at(duration + 1),
      data: { call_id: callId, conversation_id: conversationId, agent_id: agentId, direction, ...parties, duration_seconds: duration },
    });
  }
  return out;
}

/** One HTTP delivery of a webhook: the exact body to sign and send. */
export interface Delivery {
  readonly body: string;
  readonly event: string;
  readonly conversationId: string | null;
  /** A repeat of a body delivered earlier in the plan (a ThreeTone retry). */
  readonly duplicate: boolean;
}

export interface DeliveryPlanOptions {
  /** Probability that an envelope is delivered a second time. */
  duplicateRate: number;
  /** How far (in positions) a delivery may move from its place: 0 keeps the order. */
  shuffleWindow: number;
  rng: Rng;
}

/** The body ThreeTone would send (compact JSON); a retry sends the very same bytes. */
export const serializeEnvelope = (e: Envelope): string => JSON.stringify(e);

/**
 * How `envelopes` (in order) reach the receiver: each body once, some twice (a retry, later than the
 * first copy), every delivery jittered by less than `shuffleWindow` positions.
 */
export function deliveryPlan(envelopes: readonly Envelope[], opts: DeliveryPlanOptions): Delivery[] {
  if (!(opts.duplicateRate >= 0 && opts.duplicateRate <= 1)) throw new RangeError('duplicateRate must be in [0, 1]');
  if (!(opts.shuffleWindow >= 0)) throw new RangeError('shuffleWindow must be >= 0');
  const { rng, shuffleWindow: w } = opts;
  const jitter = () => (w > 0 ? rng() * w : 0);
  const slots: { key: number; seq: number; body: string; envelope: Envelope }[] = [];
  envelopes.forEach((envelope, i) => {
    const body = serializeEnvelope(envelope);
    const key = i + jitter();
    slots.push({ key, seq: slots.length, body, envelope });
    if (rng() < opts.duplicateRate) {
      // A retry comes after the original attempt: a little later, by up to another window.
      slots.push({ key: key + 0.5 + jitter(), seq: slots.length, body, envelope });
    }
  });
  slots.sort((a, b) => a.key - b.key || a.seq - b.seq);
  const seen = new Set<string>();
  return slots.map(({ body, envelope }) => {
    const duplicate = seen.has(body);
    seen.add(body);
    const id = envelope.data.conversation_id;
    return { body, event: envelope.event, conversationId: typeof id === 'string' ? id : null, duplicate };
  });
}

export interface PlannedConversation {
  readonly conversationId: string;
  readonly agentId: string;
  readonly start: string;
  readonly durationSeconds: number;
  readonly escalated: boolean;
  readonly withCall: boolean;
}

/** What the receiver should end up with for one agent, whatever the duplicates and order. */
export interface AgentExpectation {
  conversations: number;
  escalations: number;
  totalDurationSeconds: number;
}

export interface DemoTrafficOptions {
  conversations: number;
  agents: number;
  seed: number;
  /** @default 0.2 */
  duplicateRate?: number;
  /** @default 12 */
  shuffleWindow?: number;
  now: Date;
  /** Part of every conversation id, so that runs against the same state never collide. @default derived from seed and now */
  runId?: string;
  /** Conversations start within this many seconds before `now` and end before it. @default 3600 */
  spreadSeconds?: number;
}

export interface DemoTraffic {
  readonly runId: string;
  readonly agentIds: readonly string[];
  readonly conversations: readonly PlannedConversation[];
  /** Every distinct webhook, in time order. */
  readonly envelopes: readonly Envelope[];
  /** How they are sent: with duplicates and out of order. */
  readonly deliveries: readonly Delivery[];
  /** Per agent id (every agent listed, possibly with 0). */
  readonly expected: Readonly<Record<string, AgentExpectation>>;
}

export const AGENT_NAMES = [
  'agent_support',
  'agent_billing',
  'agent_sales',
  'agent_onboarding',
  'agent_retention',
  'agent_technical',
  'agent_claims',
  'agent_bookings',
] as const;

/** Agent ids for a demo of `count` agents. */
export function agentIds(count: number): string[] {
  return Array.from({ length: count }, (_, i) => AGENT_NAMES[i] ?? `agent_${String(i + 1).padStart(2, '0')}`);
}

/** Most calls take 1-8 minutes; about one in ten runs past 10 minutes (a long_duration alert). */
function realisticDuration(rng: Rng): number {
  return rng() < 0.1 ? intBetween(rng, 601, 900) : intBetween(rng, 45, 480);
}

/**
 * A burst of `conversations` conversations over `agents` agents, all started and ended within the
 * last `spreadSeconds` before `now`; ~15% escalate, ~half come with `call_*` events.
 */
export function demoTraffic(opts: DemoTrafficOptions): DemoTraffic {
  if (!Number.isInteger(opts.conversations) || opts.conversations < 1) throw new RangeError('conversations must be a positive integer');
  if (!Number.isInteger(opts.agents) || opts.agents < 1) throw new RangeError('agents must be a positive integer');
  const nowMs = opts.now.getTime();
  const spread = opts.spreadSeconds ?? 3600;
  const rng = createRng(opts.seed);
  const runId = opts.runId ?? `${(opts.seed >>> 0).toString(36)}${Math.floor(nowMs / 1000).toString(36)}`;
  const agents = agentIds(opts.agents);
  const expected: Record<string, AgentExpectation> = Object.fromEntries(
    agents.map((a) => [a, { conversations: 0, escalations: 0, totalDurationSeconds: 0 }]),
  );

  const conversations: PlannedConversation[] = [];
  const envelopes: Envelope[] = [];
  const width = String(opts.conversations).length;
  for (let i = 0; i < opts.conversations; i++) {
    const conversationId = `conv_${runId}_${String(i + 1).padStart(Math.max(3, width), '0')}`;
    const agentId = pick(rng, agents);
    const durationSeconds = Math.min(realisticDuration(rng), Math.max(1, spread - 10));
    // End at least 5 s before `now` (the call_ended comes 1 s after the conversation ends).
    const latestStart = nowMs - (durationSeconds + 5) * 1000;
    const earliestStart = Math.min(latestStart, nowMs - spread * 1000);
    const startMs = Math.floor(earliestStart + rng() * (latestStart - earliestStart));
    const escalated = rng() < 0.15;
    const withCall = rng() < 0.5;
    const start = new Date(startMs - (startMs % 1000));
    conversations.push({ conversationId, agentId, start: start.toISOString(), durationSeconds, escalated, withCall });
    envelopes.push(...conversationEvents({ conversationId, agentId, start, durationSeconds, escalate: escalated, withCall, rng }));
    const e = expected[agentId]!;
    e.conversations += 1;
    e.escalations += escalated ? 1 : 0;
    e.totalDurationSeconds += durationSeconds;
  }
  // What ThreeTone emits over the hour, interleaved across conversations.
  envelopes.sort((a, b) => Date.parse(String(a.timestamp)) - Date.parse(String(b.timestamp)));
  const deliveries = deliveryPlan(envelopes, {
    duplicateRate: opts.duplicateRate ?? 0.2,
    shuffleWindow: opts.shuffleWindow ?? 12,
    rng,
  });
  return { runId, agentIds: agents, conversations, envelopes, deliveries, expected };
}

export interface SignedRequestOptions {
  /** @default 'x-threetone-signature' */
  header?: string;
  /** @default 'sha256=' */
  prefix?: string;
}

/** The headers ThreeTone sends with `body`: JSON content type and the HMAC signature. */
export function signedRequest(body: string, secret: string, opts: SignedRequestOptions = {}): Record<string, string> {
  return {
    'content-type': 'application/json',
    [(opts.header ?? 'x-threetone-signature').toLowerCase()]: signBody(body, secret, opts.prefix ?? 'sha256='),
  };
}
