/**
 * Ports: the small interfaces the use cases depend on. Adapters in `adapters/` (AWS) and `local/`
 * implement them; the core never imports an adapter.
 */
import type { BusEvent } from '#core/bus-events.js';
import type { AggregateDelta, AgentDay } from '#core/aggregates.js';
import type { ConversationRecord, ConversationStatus, Envelope, NormalizedDetails, TranscriptMetrics, TranscriptTurn } from '#core/types.js';
import type { Contribution } from '#core/aggregates.js';

// ---------------------------------------------------------------- ingest

/** Durable hand-off of an accepted webhook (SQS on AWS, the local queue locally). */
export interface WebhookQueue {
  /** Resolves only once the message is durably stored. */
  send(message: { body: string; receivedAt: string }): Promise<void>;
}

/** Where the webhook secrets come from (Secrets Manager on AWS, env locally). Cached by the adapter. */
export interface SecretSource {
  /** All currently valid secrets (several during a rotation). */
  get(): Promise<string[]>;
}

// ---------------------------------------------------------------- ThreeTone REST API

export interface ConversationSummary {
  conversation_id: string;
  agent_id: string | null;
  status: string | null;
  start_time_unix_secs: number | null;
  raw: Record<string, unknown>;
}

export interface ThreeToneApi {
  /** Conversation details as ThreeTone returns them; `null` when ThreeTone answers 404. */
  getConversation(conversationId: string): Promise<Record<string, unknown> | null>;
  /** `/transcript` endpoint body (array or `{transcript}`); `null` on 404 (the endpoint may not exist). */
  getTranscript(conversationId: string): Promise<unknown>;
  /** One page of `GET /v1/voiceai/conversations`. */
  listConversations(params: {
    cursor?: string;
    pageSize?: number;
    startAfterUnix?: number;
  }): Promise<{ conversations: ConversationSummary[]; nextCursor: string | null }>;
}

// ---------------------------------------------------------------- events

export interface EventPublisher {
  /**
   * Puts events on the bus. Resolves with the events that could not be published (empty when all
   * were); the caller keeps those for a later attempt.
   */
  publish(events: readonly BusEvent[]): Promise<{ failed: BusEvent[] }>;
}

/** A managed WebSocket pub/sub service (AppSync Events on AWS). */
export interface LiveChannelPublisher {
  /** Publishes the messages (JSON strings) to one channel; rejects when any was not accepted. */
  publish(channel: string, messages: readonly string[]): Promise<void>;
}

// ---------------------------------------------------------------- storage (processor side)

/** Where an event belongs: a conversation, a call not yet linked to one, or the platform. */
export type EventScope =
  | { readonly kind: 'conversation'; readonly conversationId: string }
  | { readonly kind: 'call'; readonly callId: string }
  | { readonly kind: 'platform' };

export interface StoredEvent {
  readonly key: string;
  readonly envelope: Envelope;
  readonly timestampMs: number;
  readonly receivedAt: string;
}

/** Processing bookkeeping kept beside the public record (never returned by the query API). */
export interface ProcessingState {
  /** Normalized details from ThreeTone, without the transcript (stored apart). */
  details: Omit<NormalizedDetails, 'transcript'> | null;
  transcript: { turns: number; metrics: TranscriptMetrics } | null;
  /** What this conversation currently adds to its agent's daily aggregate (null: not counted). */
  contribution: Contribution | null;
  /** Facts already written to the outbox, so each is emitted once. */
  published: {
    started: boolean;
    completed: boolean;
    escalations: string[];
    alerts: string[];
  };
}

export interface RecordSnapshot {
  readonly rev: number;
  readonly record: ConversationRecord;
  readonly state: ProcessingState;
}

/** One atomic change of a conversation: record, aggregates and outbox together or not at all. */
export interface RecordChange {
  readonly conversationId: string;
  /** The `rev` read before computing the change; null when the record did not exist. */
  readonly expectedRev: number | null;
  readonly record: ConversationRecord;
  readonly state: ProcessingState;
  /** ISO time the record sorts by in listings (started, else ended, else first seen). */
  readonly sortTime: string;
  readonly aggregateDeltas: readonly AggregateDelta[];
  readonly outbox: readonly BusEvent[];
}

/** Thrown by `commit` when the record changed since it was read: re-read and retry. */
export class ConcurrentUpdateError extends Error {
  constructor(conversationId: string) {
    super(`conversation ${conversationId} changed concurrently`);
    this.name = 'ConcurrentUpdateError';
  }
}

export interface OutboxEntry {
  /** Where the adapter keeps it; opaque to the core. */
  readonly ref: { readonly pk: string; readonly sk: string };
  readonly event: BusEvent;
}

export interface ConversationStore {
  /**
   * Stores the event once, together with `outbox`, atomically. Returns false when the event was
   * already stored (a duplicate): nothing is written then.
   */
  insertEvent(scope: EventScope, event: StoredEvent, outbox: readonly BusEvent[]): Promise<boolean>;
  /** Events of a conversation or of an unlinked call (strongly consistent). */
  listEvents(scope: EventScope & { kind: 'conversation' | 'call' }): Promise<StoredEvent[]>;
  /** Records that `callId` belongs to `conversationId` (idempotent). */
  linkCall(callId: string, conversationId: string): Promise<void>;
  getCallLink(callId: string): Promise<string | null>;
  getRecord(conversationId: string): Promise<RecordSnapshot | null>;
  /** Idempotent overwrite of a conversation's transcript. */
  putTranscript(conversationId: string, turns: readonly TranscriptTurn[]): Promise<void>;
  /** @throws ConcurrentUpdateError */
  commit(change: RecordChange): Promise<void>;
  /** Outbox entries not yet published, of one scope (`platform` needs the event key). */
  pendingOutbox(scope: EventScope, eventKey?: string): Promise<OutboxEntry[]>;
  /** Oldest pending outbox entries of all scopes (the reconciler's sweep). */
  sweepOutbox(olderThanMs: number, limit: number): Promise<OutboxEntry[]>;
  deleteOutbox(entries: readonly OutboxEntry[]): Promise<void>;
}

// ---------------------------------------------------------------- storage (query side)

export interface ConversationPage {
  items: ConversationRecord[];
  nextCursor: string | null;
}

export interface ConversationQueries {
  getRecord(conversationId: string): Promise<ConversationRecord | null>;
  getTranscript(conversationId: string): Promise<TranscriptTurn[] | null>;
  /**
   * Newest first by `started_at` (or first-seen time), `from`/`to` inclusive ISO bounds; `status`
   * keeps only records in that state (a page may then hold fewer than `limit` items before its end).
   */
  listConversations(params: {
    agentId?: string;
    status?: ConversationStatus;
    from?: string;
    to?: string;
    limit: number;
    cursor?: string;
  }): Promise<ConversationPage>;
  /** Per-day aggregates of an agent, UTC days `from`..`to` inclusive (YYYY-MM-DD), days with data only. */
  getAgentDays(agentId: string, from: string, to: string): Promise<AgentDay[]>;
}
