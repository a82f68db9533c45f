/**
 * The conversation record: a pure function of what the webhooks said (folded state) and what
 * ThreeTone's API returned (details). Details win where both speak (the REST API is authoritative);
 * webhook values fill the gaps; what neither gives is derived and listed in `derived`.
 */
import { type AudioState, audioInfo } from './audio.js';
import { MAX_MAGNITUDE } from './normalize-details.js';
import type { WebhookState } from './conversation-state.js';
import type { AlertThresholds, AlertType, ConversationRecord, NormalizedDetails, TranscriptMetrics } from './types.js';

export interface RecordInput {
  conversationId: string;
  state: WebhookState;
  details: Omit<NormalizedDetails, 'transcript'> | null;
  transcript: { turns: number; metrics: TranscriptMetrics } | null;
  thresholds: AlertThresholds;
  /** The conversation waited ENRICHMENT_GIVE_UP_HOURS without details (ProcessingState.gave_up). */
  gaveUp?: boolean;
  /** What is archived of its audio (ProcessingState.audio), and whether AUDIO_ARCHIVE is on. */
  audio?: { readonly state: AudioState | undefined; readonly archiveEnabled: boolean };
}

const round3 = (n: number) => Math.round(n * 1000) / 1000;

export function alertsFor(
  r: Pick<ConversationRecord, 'duration_seconds' | 'satisfaction_score' | 'escalated'>,
  t: AlertThresholds,
): AlertType[] {
  const alerts: AlertType[] = [];
  if (r.duration_seconds !== null && r.duration_seconds > t.longDurationSeconds) alerts.push('long_duration');
  if (r.satisfaction_score !== null && r.satisfaction_score < t.lowSatisfaction) alerts.push('low_satisfaction');
  if (r.escalated) alerts.push('escalation');
  return alerts;
}

export function buildRecord({ conversationId, state, details, transcript, thresholds, gaveUp = false, audio }: RecordInput): ConversationRecord {
  const d = details;
  const h = state.hints;
  const derived: string[] = [];

  const started_at = d?.started_at ?? state.started_at;
  // An ended state always has an end time (its end event's, real or the reconciler's estimate).
  const ended_at = state.status === 'ended' ? (d?.ended_at ?? state.ended_at) : null;

  let duration_seconds = state.status === 'ended' ? (d?.duration_seconds ?? h.duration_seconds) : null;
  if (duration_seconds === null && state.status === 'ended' && started_at && ended_at) {
    const secs = (Date.parse(ended_at) - Date.parse(started_at)) / 1000;
    if (secs >= 0 && secs <= MAX_MAGNITUDE) {
      duration_seconds = round3(secs);
      derived.push('duration_seconds');
    }
  }
  let turn_count = d?.turn_count ?? h.turn_count;
  if (turn_count === null && transcript) {
    turn_count = transcript.turns;
    derived.push('turn_count');
  }

  const escalated = state.escalations.length > 0 || d?.escalated === true || (d?.escalated == null && h.escalated === true);
  const escalation = [...state.escalations].sort((a, b) => (a.escalated_at < b.escalated_at ? -1 : a.escalated_at > b.escalated_at ? 1 : 0))[0];

  const base = {
    duration_seconds,
    satisfaction_score: d?.satisfaction_score ?? h.satisfaction_score,
    escalated,
  };
  return {
    conversation_id: conversationId,
    agent_id: d?.agent_id ?? state.agent_id,
    call_id: state.call_id ?? d?.call_id ?? null,
    status: state.status,
    direction: d?.direction ?? state.direction,
    started_at,
    ended_at,
    duration_seconds,
    turn_count,
    resolution_status: d?.resolution_status ?? h.resolution_status,
    satisfaction_score: base.satisfaction_score,
    topics: d?.topics ?? h.topics ?? [],
    escalated,
    escalation_reason: escalation?.reason ?? null,
    alerts: alertsFor(base, thresholds),
    transcript_turns: transcript?.turns ?? 0,
    summary: d?.summary ?? h.summary,
    details_stored: d !== null,
    enrichment: d !== null ? 'done' : gaveUp && state.status === 'ended' ? 'gave_up' : 'pending',
    audio: audioInfo(audio?.state, audio?.archiveEnabled ?? false),
    derived,
    metrics: transcript?.metrics ?? null,
  };
}

/** The time a record sorts by in listings: started, else ended, else first seen. */
export function sortTime(record: ConversationRecord, state: WebhookState): string {
  return record.started_at ?? record.ended_at ?? state.first_event_at;
}

const FIELD_ORDER: readonly (keyof ConversationRecord)[] = [
  'conversation_id', 'agent_id', 'call_id', 'status', 'direction', 'started_at', 'ended_at', 'duration_seconds',
  'turn_count', 'resolution_status', 'satisfaction_score', 'topics', 'escalated', 'escalation_reason', 'alerts',
  'transcript_turns', 'summary', 'details_stored', 'enrichment', 'audio', 'derived', 'metrics',
];

/** The record with its fields in the documented order (a stored map comes back in any order). */
export function orderedRecord(record: ConversationRecord): ConversationRecord {
  const out: Record<string, unknown> = {};
  for (const k of FIELD_ORDER) if (k in record) out[k] = record[k];
  for (const [k, v] of Object.entries(record)) if (!(k in out)) out[k] = v;
  return out as unknown as ConversationRecord;
}
