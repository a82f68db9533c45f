/**
 * The simulator's answers for one observed conversation: `factsOf` (webhook values where known, else
 * values derived from hash(seed, conversation_id, label), so the same id gets the same answer across
 * restarts), then the response bodies made from those facts: details in shape A or B, the
 * transcript, a list item.
 */
import { hash32, mulberry32, type Rng } from '../prng.js';
import type { Observed } from './observed.js';

const TOPICS = ['billing', 'cancellation', 'technical_support', 'onboarding', 'pricing', 'complaint', 'upgrade'];
const DIRECTIONS = ['inbound', 'outbound', 'web'];
const AGENT_LINES = [
  'Let me look into that for you.',
  'Thanks for your patience, I am checking now.',
  'I have updated that on your account.',
  'Could you confirm the email address on the account?',
  'I understand, that must be frustrating.',
  'Is there anything else I can help you with?',
];
const USER_LINES = [
  'Sure, go ahead.',
  'Yes, that is right.',
  'Can you check my account please?',
  'I am not sure that answers my question.',
  'Okay, that makes sense.',
  'How long will that take?',
];

const round1 = (n: number) => Math.round(n * 10) / 10;
const pick = <T>(rng: () => number, items: readonly T[]): T => items[Math.floor(rng() * items.length)] as T;
const finiteNumber = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

export interface Turn {
  role: 'agent' | 'user';
  message: string;
  time_in_call_secs: number;
  interrupted: boolean;
  tool_calls: unknown[];
  tool_results: unknown[];
  feedback: null;
}

/** Everything a response needs about one conversation: webhook values where known, else generated. */
export interface Facts {
  id: string;
  shape: 'A' | 'B';
  /** Shape B only: details leave the transcript to `/transcript`. */
  omitTranscript: boolean;
  /** `/transcript` answers a bare array (else `{transcript}`). */
  transcriptAsArray: boolean;
  ended: boolean;
  agentId: string;
  callId: string | null;
  direction: string;
  startMs: number;
  endMs: number | null;
  duration: unknown;
  turnCount: unknown;
  /** resolution_status for shape A / call_successful for shape B, plus the webhook originals. */
  resolutionStatus: unknown;
  callSuccessful: unknown;
  providedResolution: unknown;
  providedCallSuccessful: unknown;
  satisfaction: unknown;
  rating: unknown;
  topics: unknown;
  escalated: unknown;
  transcript: Turn[];
  summaryTitle: string;
}

const RESOLUTION_TO_OUTCOME: Record<string, string> = { resolved: 'success', unresolved: 'failure' };
const OUTCOME_TO_RESOLUTION: Record<string, string> = { success: 'resolved', failure: 'unresolved', unknown: 'unknown' };

/** The stream of one generated value (`label`) of one conversation: the same for the same seed and id. */
export const seededRng = (seed: number, id: string, label: string): Rng => mulberry32(hash32(`${seed}|${id}|${label}`));

/**
 * The facts of conversation `c`. `now` (epoch ms) ends the duration of a conversation that has not
 * ended and carries no duration.
 */
export function factsOf(c: Observed, seed: number, now: () => number): Facts {
  const rng = (id: string, label: string) => seededRng(seed, id, label);
  const m = c.metrics;
  const endMs = c.endFromData ?? c.endFromConversationEvent ?? c.endFromCallEvent ?? null;
  const ended = endMs !== null;
  const generatedDuration = 30 + Math.floor(rng(c.id, 'duration')() * 571); // 30..600 s
  const providedDuration = m.duration_seconds ?? m.call_duration_secs;
  let startMs = c.startFromData ?? c.startFromConversationEvent ?? c.startFromCallEvent;
  if (startMs === undefined) {
    startMs = endMs !== null ? endMs - (finiteNumber(providedDuration) ?? generatedDuration) * 1000 : c.firstSeenMs;
  }
  let duration: unknown = providedDuration;
  if (duration === undefined) {
    duration = Math.max(0, Math.round(((endMs ?? now()) - startMs) / 1000));
  }

  const generatedTurns = 4 + Math.floor(rng(c.id, 'turns')() * 21); // 4..24
  const turnCount: unknown = m.turn_count ?? m.message_count ?? generatedTurns;
  const turnsToWrite = Math.min(200, Math.max(0, Math.floor(finiteNumber(turnCount) ?? generatedTurns)));

  const generatedScore = round1(1 + rng(c.id, 'satisfaction')() * 4);
  const providedScore = m.satisfaction_score ?? m.rating;
  const satisfaction = providedScore ?? generatedScore;
  const rating = providedScore ?? Math.min(5, Math.max(1, Math.round(generatedScore)));

  const generatedResolution = rng(c.id, 'resolution')() < 0.7 ? 'resolved' : 'unresolved';
  const rs = m.resolution_status;
  const cs = m.call_successful;
  const resolutionStatus = rs ?? (typeof cs === 'string' ? (OUTCOME_TO_RESOLUTION[cs] ?? 'unknown') : cs) ?? generatedResolution;
  const callSuccessful =
    cs ?? (typeof rs === 'string' ? (RESOLUTION_TO_OUTCOME[rs] ?? 'unknown') : rs) ?? RESOLUTION_TO_OUTCOME[generatedResolution];

  const topicRng = rng(c.id, 'topics');
  const topicCount = Math.floor(topicRng() * 4); // 0..3
  const pool = [...TOPICS];
  const generatedTopics: string[] = [];
  for (let i = 0; i < topicCount; i++) generatedTopics.push(pool.splice(Math.floor(topicRng() * pool.length), 1)[0] as string);
  const topics = m.topics ?? generatedTopics;
  const firstTopic = Array.isArray(topics) && typeof topics[0] === 'string' ? topics[0] : undefined;

  const shapeRng = rng(c.id, 'shape');
  const shape = shapeRng() < 0.5 ? 'A' : 'B';
  const omitTranscript = shape === 'B' && shapeRng() < 0.4;
  const transcriptAsArray = shapeRng() < 0.5;

  return {
    id: c.id,
    shape,
    omitTranscript,
    transcriptAsArray,
    ended,
    agentId: c.agentId ?? `agent_sim_${1 + Math.floor(rng(c.id, 'agent')() * 3)}`,
    callId: c.callId ?? null,
    direction: c.direction ?? pick(rng(c.id, 'direction'), DIRECTIONS),
    startMs,
    endMs,
    duration,
    turnCount,
    resolutionStatus,
    callSuccessful,
    providedResolution: rs,
    providedCallSuccessful: cs,
    satisfaction,
    rating,
    topics,
    escalated: m.escalated ?? (c.escalatedByEvent ? true : undefined),
    transcript: transcriptOf(seed, c.id, turnsToWrite, finiteNumber(duration) ?? generatedDuration, firstTopic, ended),
    summaryTitle: firstTopic ? `${firstTopic.replace(/_/g, ' ')} enquiry` : 'General enquiry',
  };
}

/** `count` alternating turns, agent first, times increasing within `durationSecs`. */
export function transcriptOf(seed: number, id: string, count: number, durationSecs: number, topic: string | undefined, ended: boolean): Turn[] {
  const r = seededRng(seed, id, 'transcript');
  const subject = topic ? topic.replace(/_/g, ' ') : 'my account';
  const turns: Turn[] = [];
  for (let i = 0; i < count; i++) {
    const role = i % 2 === 0 ? 'agent' : 'user';
    let message: string;
    if (i === 0) message = 'Hello, thanks for calling. How can I help you today?';
    else if (i === 1) message = `Hi, I have a question about ${subject}.`;
    else if (ended && i === count - 1) message = role === 'agent' ? 'Thanks for calling, goodbye.' : 'That is all, thank you.';
    else message = pick(r, role === 'agent' ? AGENT_LINES : USER_LINES);
    // Slot i of count, kept inside [0.15, 0.85] of the slot: strictly increasing before rounding.
    const time = round1((durationSecs * (i + 0.15 + 0.7 * r())) / count);
    turns.push({
      role,
      message,
      time_in_call_secs: time,
      interrupted: role === 'agent' && i > 0 && r() < 0.15,
      tool_calls: [],
      tool_results: [],
      feedback: null,
    });
  }
  return turns;
}

const iso = (ms: number) => new Date(ms).toISOString();
const unix = (ms: number) => Math.floor(ms / 1000);

/** The details body: shape A (the guide's field names, ISO times) or shape B (the reference's, Unix seconds). */
export function detailsOf(f: Facts): Record<string, unknown> {
  const optional = {
    ...(f.escalated !== undefined && { escalated: f.escalated }),
  };
  if (f.shape === 'A') {
    return {
      conversation_id: f.id,
      agent_id: f.agentId,
      call_id: f.callId,
      status: f.ended ? 'completed' : 'in-progress',
      direction: f.direction,
      started_at: iso(f.startMs),
      ended_at: f.endMs === null ? null : iso(f.endMs),
      duration_seconds: f.duration,
      turn_count: f.turnCount,
      resolution_status: f.resolutionStatus,
      // The webhook's own outcome when it does not map onto a resolution.
      ...(f.providedCallSuccessful !== undefined && !(String(f.providedCallSuccessful) in OUTCOME_TO_RESOLUTION) && {
        call_successful: f.providedCallSuccessful,
      }),
      satisfaction_score: f.satisfaction,
      topics: f.topics,
      ...optional,
      transcript: f.transcript,
    };
  }
  return {
    conversation_id: f.id,
    agent_id: f.agentId,
    status: f.ended ? 'done' : 'in-progress',
    metadata: {
      start_time_unix_secs: unix(f.startMs),
      call_duration_secs: f.duration,
      direction: f.direction,
      ...(f.callId !== null && { call_id: f.callId }),
    },
    analysis: {
      call_successful: f.callSuccessful,
      call_summary_title: f.summaryTitle,
      transcript_summary: summaryOf(f),
    },
    // The webhook's own resolution when it does not map onto an outcome.
    ...(f.providedResolution !== undefined && !(String(f.providedResolution) in RESOLUTION_TO_OUTCOME) && {
      resolution_status: f.providedResolution,
    }),
    rating: f.rating,
    message_count: f.turnCount,
    topics: f.topics,
    ...optional,
    ...(!f.omitTranscript && { transcript: f.transcript }),
  };
}

export function summaryOf(f: Facts): string {
  return `The caller asked about ${f.summaryTitle.toLowerCase().replace(/ enquiry$/, '')}; the agent ${
    f.callSuccessful === 'success' ? 'resolved it' : 'could not resolve it'
  }.`;
}

/** One conversation as the listing shows it. */
export function listItemOf(f: Facts): Record<string, unknown> {
  return {
    conversation_id: f.id,
    agent_id: f.agentId,
    start_time_unix_secs: unix(f.startMs),
    call_duration_secs: f.duration,
    message_count: f.turnCount,
    status: f.ended ? 'done' : 'in-progress',
    call_successful: f.callSuccessful,
    direction: f.direction,
    rating: f.rating,
    call_summary_title: f.summaryTitle,
    transcript_summary: summaryOf(f),
  };
}
