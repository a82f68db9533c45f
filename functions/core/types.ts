/**
 * Domain types shared by every function. Pure data: no I/O, no SDK types.
 */
import type { LosslessNumber } from './json-text.js';

/** The webhook envelope ThreeTone documents: `{event, timestamp, data}`. */
export interface Envelope {
  readonly event: string;
  /** As received (ISO-8601 string or Unix seconds/milliseconds; a number a double cannot hold exactly stays a LosslessNumber). */
  readonly timestamp: string | number | LosslessNumber;
  readonly data: Record<string, unknown>;
}

/** An accepted webhook as handed from ingest to the processor. */
export interface AcceptedEvent {
  readonly envelope: Envelope;
  /** Deterministic id of the event: sha256 of its canonical JSON (see event-key.ts). */
  readonly key: string;
  /** `timestamp` parsed to epoch milliseconds. */
  readonly timestampMs: number;
  /** When ingest accepted it (ISO-8601). */
  readonly receivedAt: string;
}

export type ConversationStatus = 'active' | 'ended';
export type Enrichment = 'pending' | 'done' | 'gave_up';
export type ResolutionStatus = 'resolved' | 'unresolved' | 'unknown' | (string & {});

/** One turn of a transcript, normalized. Extra fields ThreeTone sends are kept. */
export interface TranscriptTurn {
  role: string;
  message: string;
  time_in_call_secs: number | null;
  interrupted?: boolean;
  [extra: string]: unknown;
}

/** Conversation details from ThreeTone's REST API, normalized from either documented shape. */
export interface NormalizedDetails {
  conversation_id: string;
  agent_id: string | null;
  call_id: string | null;
  direction: string | null;
  status: string | null;
  started_at: string | null;
  ended_at: string | null;
  duration_seconds: number | null;
  turn_count: number | null;
  resolution_status: ResolutionStatus | null;
  satisfaction_score: number | null;
  topics: string[] | null;
  escalated: boolean | null;
  summary: string | null;
  transcript: TranscriptTurn[] | null;
}

/** Metrics computed from a transcript. */
export interface TranscriptMetrics {
  agent_turns: number;
  user_turns: number;
  interruptions: number;
  /** Mean seconds between a user turn and the agent turn that follows it; null when there is none. */
  mean_agent_response_gap_seconds: number | null;
}

export type AlertType = 'long_duration' | 'low_satisfaction' | 'escalation';

/** Where archiving a conversation's audio stands (README "Audio"). */
export type AudioStatus = 'pending' | 'stored' | 'gave_up' | 'off';

/** The record's `audio`: whether the recording is archived, its media type and size. */
export interface AudioInfo {
  status: AudioStatus;
  /** As ThreeTone served it (e.g. `audio/mpeg`); null until stored. */
  content_type: string | null;
  size_bytes: number | null;
}

/** The public conversation record (README.md "Query API", plus extras). */
export interface ConversationRecord {
  conversation_id: string;
  agent_id: string | null;
  call_id: string | null;
  status: ConversationStatus;
  direction: string | null;
  started_at: string | null;
  ended_at: string | null;
  duration_seconds: number | null;
  turn_count: number | null;
  resolution_status: ResolutionStatus | null;
  satisfaction_score: number | null;
  topics: string[];
  escalated: boolean;
  escalation_reason: string | null;
  alerts: AlertType[];
  transcript_turns: number;
  summary: string | null;
  /** True once ThreeTone's details are stored. */
  details_stored: boolean;
  /**
   * Where enrichment from ThreeTone's REST API stands: `pending` until the details are stored,
   * `done` once they are, `gave_up` when the conversation ended ENRICHMENT_GIVE_UP_HOURS ago without
   * them (it is then completed from webhook facts, and still enriched if the details come later).
   */
  enrichment: Enrichment;
  /**
   * The conversation's recording (`GET /conversations/{id}/audio` once `status` is `stored`). Absent
   * in records written before audio archiving existed.
   */
  audio?: AudioInfo;
  /** Metrics this service derived because the platform did not provide them (e.g. `duration_seconds`). */
  derived: string[];
  metrics: TranscriptMetrics | null;
}

/** Alert thresholds (settings ALERT_LONG_DURATION_SECONDS, ALERT_LOW_SATISFACTION: functions/config.ts). */
export interface AlertThresholds {
  readonly longDurationSeconds: number;
  readonly lowSatisfaction: number;
}
