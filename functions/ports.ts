/**
 * Ports: the small interfaces the use cases depend on. Adapters in `adapters/` (AWS) and `local/`
 * implement them; the core never imports an adapter.
 */
import type { Readable } from 'node:stream';
import type { AudioState } from '#core/audio.js';
import type { BusEvent } from '#core/bus-events.js';
import type { AggregateDelta, AgentDay } from '#core/aggregates.js';
import type { ConversationRecord, ConversationStatus, Envelope, NormalizedDetails, TranscriptMetrics, TranscriptTurn } from '#core/types.js';
import type { Contribution } from '#core/aggregates.js';

// ---------------------------------------------------------------- ingest

/** Durable hand-off of an accepted webhook (SQS on AWS, the local queue locally). */
export interface WebhookQueue {
  /**
   * Resolves only once the message is durably stored. `delaySeconds` (at most 900, as SQS) keeps it
   * invisible that long: how the processor makes a message wait for the ThreeTone API key.
   */
  send(message: { body: string; receivedAt: string; delaySeconds?: number }): Promise<void>;
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

/** A recording as ThreeTone serves it: a stream, never the whole file in memory. */
export interface AudioDownload {
  /** The body; the consumer reads it to its end or destroys it. */
  readonly body: Readable;
  /** ThreeTone's `Content-Type` as sent (normalized by `audioContentType` before use). */
  readonly contentType: string | null;
  /** ThreeTone's `Content-Length`, when it sent one. */
  readonly contentLength: number | null;
}

/** `GET /v1/voiceai/conversations/{id}/audio` (README "Audio"). */
export interface ThreeToneAudioApi {
  /** The recording, or `null` when ThreeTone answers 404 (not ready yet, or none). */
  getAudio(conversationId: string): Promise<AudioDownload | null>;
}

// ---------------------------------------------------------------- audio archive

/** What was archived: the stored media type and the bytes actually written. */
export interface StoredAudio {
  readonly contentType: string;
  readonly sizeBytes: number;
}

/**
 * Where recordings are archived (S3 on AWS, DATA_DIR/audio locally), one object per conversation
 * under a name derived from its id (`audioObjectKey`). Storing again overwrites; a failed store
 * leaves nothing that reads as stored.
 */
export interface AudioArchive {
  /** Streams `body` into the archive (never holding it whole in memory). Rejects if the body fails. */
  store(conversationId: string, body: Readable, contentType: string): Promise<StoredAudio>;
  /** Idempotent: deleting what is not there succeeds. */
  delete(conversationId: string): Promise<void>;
}

/** Short-lived links to archived recordings (presigned S3 URLs). */
export interface AudioLinks {
  /** A URL that serves the recording for a short while, without further credentials. */
  presign(conversationId: string, contentType: string): Promise<string>;
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
  /** The caller lookup digests written with it (README "Erasure"). */
  readonly callerKeys?: readonly string[];
}

/** Processing bookkeeping kept beside the public record (never returned by the query API). */
export interface ProcessingState {
  /** Normalized details from ThreeTone, without the transcript (stored apart). */
  details: Omit<NormalizedDetails, 'transcript'> | null;
  transcript: { turns: number; metrics: TranscriptMetrics } | null;
  /** What this conversation currently adds to its agent's daily aggregate (null: not counted). */
  contribution: Contribution | null;
  /** Facts whose events an earlier commit already carried, so each is emitted once. */
  published: {
    started: boolean;
    /** `Conversation Ended` (absent in records written before it existed: read as false). */
    ended?: boolean;
    completed: boolean;
    escalations: string[];
    alerts: string[];
  };
  /** The conversation is on the enrichment queue (a `pending enrichment` item exists). */
  enrichment_queued?: boolean;
  /** It waited ENRICHMENT_GIVE_UP_HOURS without details and was completed from webhook facts. */
  gave_up?: boolean;
  /**
   * What the stored events already wrote once for the conversation: caller lookup digests and the
   * calls linked to it. A later webhook carrying the same ones does not write them again (issue 10).
   */
  caller_keys?: string[];
  calls?: string[];
  /** Its recording: archived (type, size), or given up on. Absent: not archived (yet). */
  audio?: AudioState;
  /** The conversation is on the audio queue (a `pending audio` item exists). */
  audio_queued?: boolean;
}

export interface RecordSnapshot {
  readonly rev: number;
  readonly record: ConversationRecord;
  readonly state: ProcessingState;
}

/**
 * One atomic change of a conversation: record, aggregates and the events it produces together or not
 * at all (the events ride in the record item; the table's change stream publishes them, D30).
 */
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
  /**
   * The conversation joins the enrichment queue (ordered by `endedAt`), or leaves it, in the same
   * transaction; absent: no change.
   */
  readonly enrichmentQueue?: { readonly op: 'add'; readonly endedAt: string } | { readonly op: 'remove' };
  /** Likewise the audio queue (its recording is fetched and archived); absent: no change. */
  readonly audioQueue?: { readonly op: 'add'; readonly endedAt: string } | { readonly op: 'remove' };
}

/** A conversation whose recording waits to be archived (the audio queue, oldest end first). */
export interface PendingAudio {
  readonly conversationId: string;
  readonly endedAt: string;
  /** Failures so far (404 "not ready", 5xx, timeouts); budget waits and 429s are not counted. */
  readonly attempts: number;
  readonly notBeforeMs: number;
  /**
   * A cleanup item written by the erasure: the conversation was erased, and its recording is deleted
   * once more when due (no ThreeTone request), in case an upload finished after the erasure.
   */
  readonly erased?: boolean;
}

/** A conversation waiting for ThreeTone's details (the enrichment queue, oldest end first). */
export interface PendingEnrichment {
  readonly conversationId: string;
  readonly endedAt: string;
  /** Genuine failures so far (a 404, a 5xx, a timeout); budget waits and 429s are not counted. */
  readonly attempts: number;
  /** Epoch ms before which it is not tried again. */
  readonly notBeforeMs: number;
  /** Details fetched while the transcript still had to wait for budget (raw ThreeTone JSON). */
  readonly details: Record<string, unknown> | null;
}

/** Thrown by `commit` when the record changed since it was read: re-read and retry. */
export class ConcurrentUpdateError extends Error {
  constructor(conversationId: string) {
    super(`conversation ${conversationId} changed concurrently`);
    this.name = 'ConcurrentUpdateError';
  }
}

/** The conversation (or call) was erased: its tombstone refuses the write, and nothing was written. */
export class ConversationErasedError extends Error {
  constructor(scope: string) {
    super(`${scope} was erased`);
    this.name = 'ConversationErasedError';
  }
}

/** A listing's cursor is not one this listing issued (malformed, another listing's, or outside its range). */
export class InvalidCursorError extends Error {
  constructor() {
    super('The cursor is not valid for this listing.');
    this.name = 'InvalidCursorError';
  }
}

export type InsertResult = 'stored' | 'duplicate' | 'erased';

export interface ConversationStore {
  /**
   * Stores the event once: its facts for as long as records, `rawText` (the body exactly as signed)
   * for RAW_EVENT_RETENTION_DAYS, and one caller lookup item per `callerKeys` entry (keyed hashes of
   * its phone numbers, never the numbers); `linkCall` (conversation scope): the call's link. Nothing
   * is written when its scope was erased (`erased`: a tombstone). `duplicate`: the event was stored
   * before (the rest is written again, idempotently). Not atomic against an erasure that lands
   * meanwhile: the caller checks again after (a rebuild's commit, or `isErased`) and discards it.
   * `notErasedJustNow`: the caller has just read the conversation's record (an erasure deletes it as
   * it puts the tombstone), so the tombstone read is skipped.
   */
  insertEvent(
    scope: EventScope,
    event: StoredEvent & { readonly rawText: string; readonly callerKeys?: readonly string[]; readonly linkCall?: string; readonly notErasedJustNow?: boolean },
  ): Promise<InsertResult>;
  /** Whether a conversation or call was erased (its tombstone exists). */
  isErased(scope: EventScope & { kind: 'conversation' | 'call' }): Promise<boolean>;
  /** Deletes what insertEvent wrote for one webhook (its scope was erased meanwhile). Idempotent. */
  discardEvent(
    scope: EventScope & { kind: 'conversation' | 'call' },
    event: { readonly key: string; readonly callerKeys?: readonly string[]; readonly linkCall?: string },
  ): Promise<void>;
  /** Events of a conversation or of an unlinked call (strongly consistent). */
  listEvents(scope: EventScope & { kind: 'conversation' | 'call' }): Promise<StoredEvent[]>;
  getCallLink(callId: string): Promise<string | null>;
  getRecord(conversationId: string): Promise<RecordSnapshot | null>;
  /** Idempotent overwrite of a conversation's transcript. @throws ConversationErasedError */
  putTranscript(conversationId: string, turns: readonly TranscriptTurn[]): Promise<void>;
  /**
   * @throws ConcurrentUpdateError (the record changed, or was erased, since `expectedRev`: re-read and
   * retry), ConversationErasedError (a first commit, and the tombstone exists). Nothing written.
   */
  commit(change: RecordChange): Promise<void>;

  /** Up to `limit` queued enrichments, oldest end first, whose `notBeforeMs` has passed. */
  dueEnrichments(nowMs: number, limit: number): Promise<PendingEnrichment[]>;
  /**
   * Takes a queued enrichment for `leaseMs` so that concurrent enrichers do not fetch it twice.
   * False when another holds it or it left the queue.
   */
  leaseEnrichment(conversationId: string, nowMs: number, leaseMs: number): Promise<boolean>;
  /** Puts a queued enrichment back for later, releasing its lease (no-op if it left the queue). */
  deferEnrichment(
    conversationId: string,
    change: { notBeforeMs: number; attempts?: number; details?: Record<string, unknown> | null },
  ): Promise<void>;
  /** Queued enrichments that ended before `endedBefore` (ISO) and were not yet given up on, oldest first. */
  overdueEnrichments(endedBefore: string, limit: number): Promise<PendingEnrichment[]>;
  /** Notes on the queued enrichment that its conversation was completed from webhook facts. */
  markEnrichmentGaveUp(conversationId: string): Promise<void>;
  /** How many conversations wait for enrichment, and when the oldest of them ended. */
  enrichmentBacklog(): Promise<{ pending: number; oldestEndedAt: string | null }>;

  /** Up to `limit` conversations whose audio waits, oldest end first, due by `nowMs` and not leased. */
  dueAudio(nowMs: number, limit: number): Promise<PendingAudio[]>;
  /** Takes a queued audio item for `leaseMs` (false when another holds it or it left the queue). */
  leaseAudio(conversationId: string, nowMs: number, leaseMs: number): Promise<boolean>;
  /** Puts a queued audio item back for later, releasing its lease (no-op if it left the queue). */
  deferAudio(conversationId: string, change: { notBeforeMs: number; attempts?: number }): Promise<void>;
  /** Removes an erased conversation's cleanup item once its recording was deleted (idempotent). */
  audioCleanedUp(conversationId: string): Promise<void>;
}

/**
 * ThreeTone's request quota, shared by every process that calls its REST API (DynamoDB on AWS and
 * locally). Every request ThreeTone sees is paid for here first.
 */
export interface RequestBudget {
  /** One request's worth, or when to ask again. */
  take(): Promise<{ granted: true } | { granted: false; retryAfterMs: number }>;
  /** ThreeTone answered 429 anyway (another client shares the key): nobody takes for `forMs` (the budget's clock). */
  block(forMs: number): Promise<void>;
}

// ---------------------------------------------------------------- erasure

/** An erasure's tombstone: only the id and when it was erased. */
export interface Tombstone {
  readonly erasedAt: string;
}

/** Step 1 of an erasure, one transaction (exactly once, like a record's commit). */
export interface ErasureCommit {
  readonly conversationId: string;
  /** The `rev` of the record read before; null: there was no record (then none may appear meanwhile). */
  readonly expectedRev: number | null;
  readonly erasedAt: string;
  /** Removes the record's contribution to its agent's aggregates. */
  readonly aggregateDeltas: readonly AggregateDelta[];
  /** `Conversation Erased`, carried by the tombstone (the change stream publishes it). */
  readonly outbox: readonly BusEvent[];
}

export interface ErasureStore {
  getRecord(conversationId: string): Promise<RecordSnapshot | null>;
  getTombstone(conversationId: string): Promise<Tombstone | null>;
  /** Anything stored under the conversation (events of a conversation whose record is not written yet). */
  hasData(conversationId: string): Promise<boolean>;
  /**
   * Atomically: the tombstone is put (it must not exist), the record deleted (conditioned on
   * `expectedRev`, or on its absence), the aggregates corrected, the conversation taken off the
   * enrichment queue, the tombstone carrying `outbox`. @throws ConcurrentUpdateError (re-read and retry)
   */
  commitErasure(change: ErasureCommit): Promise<void>;
  /**
   * Deletes everything else the conversation is stored as: its calls (tombstoned first), their and
   * its events with their stored bodies and caller lookup items, transcript, call links. Idempotent; resumes where a crashed run stopped.
   */
  purge(conversationId: string, erasedAt: string): Promise<void>;
  /** The conversations (and calls not linked to one) whose webhooks carried this caller key. */
  scopesOfCaller(callerKey: string): Promise<{ conversationIds: string[]; callIds: string[] }>;
  /** Resolves a call to its conversation. */
  getCallLink(callId: string): Promise<string | null>;
  /** Erases a call that never got linked to a conversation: tombstone, then its events and bodies. */
  purgeCall(callId: string, erasedAt: string): Promise<void>;
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
  /** A stored webhook body exactly as it was signed, while RAW_EVENT_RETENTION_DAYS keeps it; `null` otherwise. */
  getWebhook(eventKey: string): Promise<string | null>;
}

// ---------------------------------------------------------------- replay (operations)

/** Which stored webhooks to replay: one conversation's, or those accepted in a time range. */
export type WebhookSelection =
  | { readonly kind: 'conversation'; readonly conversationId: string }
  /** `received_at` (when the ingest accepted it) within `from`..`to`, inclusive ISO-8601 instants. */
  | { readonly kind: 'range'; readonly from: string; readonly to: string };

export interface StoredWebhook {
  readonly eventKey: string;
  /** When the ingest accepted it (the queue message's `receivedAt`). */
  readonly receivedAt: string;
  /** The body exactly as signed; `null` once RAW_EVENT_RETENTION_DAYS removed it. */
  readonly body: string | null;
}

export interface StoredWebhooks {
  /**
   * The accepted webhooks of a selection, page by page (each webhook once): for a conversation, its
   * events and those of its calls; for a range, every accepted webhook (platform events included).
   */
  select(selection: WebhookSelection): AsyncIterable<StoredWebhook[]>;
}

// ---------------------------------------------------------------- metrics (counters the host emits; optional everywhere)

export interface IngestMetrics {
  /** A request refused as unauthenticated: missing or wrong signature, or a replayed (stale) body. */
  signatureFailure(): void;
  accepted(): void;
}

export interface ProcessorMetrics {
  conversationCompleted(): void;
  conversationAlert(): void;
  deadLettered(): void;
  /** A webhook for an erased conversation was acknowledged and dropped (optional: not every host counts it). */
  erasedDropped?(): void;
}

export interface EnricherMetrics {
  /** The backlog after a run: conversations waiting, and how long ago the oldest ended (s). */
  backlog(pending: number, oldestAgeSeconds: number): void;
  /** ThreeTone answered 429 although the budget allowed the request. */
  throttled(): void;
}
