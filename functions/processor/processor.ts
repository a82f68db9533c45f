/**
 * The processor: one SQS batch of accepted webhooks in, partial-batch response out.
 *
 * For each message:
 *  1. parse the envelope and compute its key (its identity; ThreeTone sends no event id);
 *  2. store the event once, then publish its `ThreeTone Event` (and `Platform Alert`): on every
 *     delivery, the message itself standing in for an outbox;
 *  3. for a conversation: fold all its stored events, rebuild the record from them (and from the
 *     details already stored), and commit record + aggregate delta + its place on the enrichment
 *     queue in one conditional transaction (retrying on a concurrent update), the record carrying the
 *     events the change produces: the table's change stream publishes them (D30). Webhook facts never
 *     wait for ThreeTone: details are fetched by the enricher, within ThreeTone's quota.
 * Any failure throws: the message returns to the queue, and after the last attempt to the DLQ, with
 * a `Platform Alert`. Every step is idempotent, so a redelivery finishes what a crash left undone.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { messageBody } from '#functions/shared/queue-message.js';
import type { EnrichmentConfig, ProcessorConfig } from '#functions/config.js';
import { aggregateDelta, contributionOf } from '#core/aggregates.js';
import { deadLetterAlert, nothingPublished, planConversationEvents, planWebhookEvents } from '#core/conversation-events.js';
import { foldConversation, type WebhookState } from '#core/conversation-state.js';
import { asId, parseEnvelope } from '#core/envelope.js';
import { canonicalJson, eventKey } from '#core/event-key.js';
import { isNonFinalStatus } from '#core/normalize-details.js';
import { buildRecord, sortTime } from '#core/record.js';
import { transcriptMetrics } from '#core/transcript-metrics.js';
import type { NormalizedDetails, TranscriptTurn } from '#core/types.js';
import { callerKeysOf } from '#core/caller-keys.js';
import {
  ConcurrentUpdateError,
  ConversationErasedError,
  type ConversationStore,
  type EventPublisher,
  type EventScope,
  type ProcessingState,
  type ProcessorMetrics,
  type StoredAudio,
  type StoredEvent,
} from '#functions/ports.js';
import type { AudioState } from '#core/audio.js';
import { logger as defaultLogger, errorFields, type Logger } from '#functions/shared/logger.js';

export interface ProcessorDeps {
  store: ConversationStore;
  publisher: EventPublisher;
  config: Pick<ProcessorConfig, 'alerts' | 'maxReceiveCount' | 'redactFields'> & {
    enrichment: Pick<EnrichmentConfig, 'maxAgeDays'>;
    /** AUDIO_ARCHIVE: ended conversations join the audio queue. @default false */
    audioArchive?: boolean;
  };
  now?: () => number;
  logger?: Logger;
  metrics?: ProcessorMetrics;
  /** Waits between optimistic-concurrency retries. */
  sleep?: (ms: number) => Promise<void>;
  /**
   * The secret key of the caller lookup (README "Erasure"): each phone field is stored as an
   * HMAC-SHA256 under it, never in clear. Without it no lookup items are written.
   */
  callerHashKey?: () => Promise<string>;
}

/** A message that can never succeed (it still goes to the DLQ, through the queue's redrive). */
export class UnprocessableMessageError extends Error {
  override name = 'UnprocessableMessageError';
}

/** A record failed; its message holds only the failure's name (and this service's own message). */
export class RecordFailedError extends Error {
  override name = 'RecordFailedError';
}

/** What the enricher brings to a rebuild. */
export interface Enrich {
  /** Details (and transcript, when there is one) fetched from ThreeTone, normalized. */
  readonly fetched?: { readonly details: Omit<NormalizedDetails, 'transcript'>; readonly turns: TranscriptTurn[] | null };
  /** The conversation waited ENRICHMENT_GIVE_UP_HOURS: complete it from webhook facts if still without details. */
  readonly giveUp?: boolean;
  /** Its recording was archived (`stored`), or ThreeTone never served it in time (`gaveUp`). */
  readonly audio?: { readonly stored: StoredAudio } | { readonly gaveUp: true };
}

const MAX_COMMIT_ATTEMPTS = 8;

const callIdOf = (data: Record<string, unknown>): string | null => asId(data.call_id);

function scopeOf(data: Record<string, unknown>): EventScope {
  const conversationId = asId(data.conversation_id);
  if (conversationId) return { kind: 'conversation', conversationId };
  const callId = callIdOf(data);
  if (callId) return { kind: 'call', callId };
  return { kind: 'platform' };
}

export function createProcessor(deps: ProcessorDeps) {
  const { store, publisher, config } = deps;
  const now = deps.now ?? Date.now;
  const baseLog = deps.logger ?? defaultLogger;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const redactFields = new Set(config.redactFields.map((f) => f.toLowerCase()));

  /**
   * Records of one batch run in parallel; those touching the same conversation (or call, or platform
   * event) wait for each other. So a batch holding `conversation_ended` and `call_ended` fetches
   * ThreeTone's details once (its API allows 100 requests a minute), and two records never plan the
   * same events. Across Lambdas the conditional commit keeps the data exact.
   */
  const locks = new Map<string, Promise<void>>();
  async function withLock(key: string, fn: () => Promise<void>): Promise<void> {
    const previous = locks.get(key) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(fn);
    const tail = run.catch(() => undefined);
    locks.set(key, tail);
    try {
      await run;
    } finally {
      if (locks.get(key) === tail) locks.delete(key);
    }
  }

  /**
   * Rebuilds the conversation's record, holding its lock.
   * `enrich` brings what the enricher fetched from ThreeTone (or its decision to give up waiting);
   * without it the record is built from the webhooks and the details already stored. Resolves with
   * whether the conversation is still on the enrichment queue, and whether it was erased (its
   * tombstone refused the rebuild: nothing was written).
   */
  async function rebuildConversation(
    conversationId: string,
    log: Logger = baseLog,
    enrich: Enrich = {},
  ): Promise<{ queued: boolean; erased: boolean }> {
    let queued = false;
    let erased = false;
    await withLock(`conversation:${conversationId}`, async () => {
      try {
        queued = await rebuildUnlocked(conversationId, log, enrich);
      } catch (err) {
        // Erased meanwhile: nothing was written.
        if (!(err instanceof ConversationErasedError)) throw err;
        erased = true;
        log.info('conversation erased; nothing rebuilt');
      }
    });
    return { queued, erased };
  }

  /** Rebuilds a conversation's record from all it is known by; commits only if something changed. */
  async function rebuildUnlocked(conversationId: string, log: Logger, enrich: Enrich): Promise<boolean> {
    let transcriptStored = false;
    for (let attempt = 1; attempt <= MAX_COMMIT_ATTEMPTS; attempt++) {
      const events: StoredEvent[] = await store.listEvents({ kind: 'conversation', conversationId });
      const callIds = new Set(events.map((e) => callIdOf(e.envelope.data)).filter((c): c is string => c !== null));
      for (const callId of callIds) events.push(...(await store.listEvents({ kind: 'call', callId })));
      const state: WebhookState = foldConversation(conversationId, events);
      const snapshot = await store.getRecord(conversationId);
      const prev: ProcessingState = snapshot?.state ?? { details: null, transcript: null, contribution: null, published: nothingPublished() };

      let { details, transcript } = prev;
      const { fetched } = enrich;
      if (fetched) {
        details = fetched.details;
        transcript = fetched.turns ? { turns: fetched.turns.length, metrics: transcriptMetrics(fetched.turns) } : transcript;
        if (fetched.turns && !transcriptStored) {
          await store.putTranscript(conversationId, fetched.turns);
          transcriptStored = true;
        }
      }
      const gaveUp = details === null && state.status === 'ended' && (prev.gave_up === true || enrich.giveUp === true);
      const audio = audioStateOf(prev.audio, enrich.audio);
      const audioArchive = config.audioArchive === true;

      const record = buildRecord({ conversationId, state, details, transcript, thresholds: config.alerts, gaveUp, audio: { state: audio, archiveEnabled: audioArchive } });
      // Waits for ThreeTone while the details are missing, or while ThreeTone says its analysis is
      // still running; leaves the queue once they are final, or past ENRICHMENT_MAX_AGE_DAYS.
      const age = record.ended_at === null ? 0 : now() - Date.parse(record.ended_at);
      const queued = record.status === 'ended' && (!details || isNonFinalStatus(details.status)) && age < config.enrichment.maxAgeDays * 86_400_000;
      const wasQueued = prev.enrichment_queued === true;
      // Its recording is fetched once it has ended (README "Audio"), apart from the details.
      const audioQueued = audioArchive && record.status === 'ended' && record.audio?.status === 'pending' && age < config.enrichment.maxAgeDays * 86_400_000;
      const wasAudioQueued = prev.audio_queued === true;
      const contribution = contributionOf(record);
      const planned = planConversationEvents({
        before: snapshot?.record ?? null,
        after: record,
        state,
        published: prev.published,
        thresholds: config.alerts,
        now: new Date(now()).toISOString(),
      });
      const callerKeys = [...new Set(events.flatMap((e) => e.callerKeys ?? []))].sort();
      const next: ProcessingState = {
        details,
        transcript,
        contribution,
        published: planned.published,
        enrichment_queued: queued,
        ...(gaveUp && { gave_up: true }),
        ...(callerKeys.length > 0 && { caller_keys: callerKeys }),
        ...(callIds.size > 0 && { calls: [...callIds].sort() }),
        ...(audio && { audio }),
        ...((audioQueued || wasAudioQueued) && { audio_queued: audioQueued }),
      };
      if (snapshot && canonicalJson(snapshot.record) === canonicalJson(record) && canonicalJson(snapshot.state) === canonicalJson(next)) {
        return queued;
      }
      try {
        await store.commit({
          conversationId,
          expectedRev: snapshot?.rev ?? null,
          record,
          state: next,
          sortTime: sortTime(record, state),
          aggregateDeltas: aggregateDelta(prev.contribution, contribution),
          outbox: planned.events,
          ...(queued !== wasQueued && { enrichmentQueue: queued ? { op: 'add' as const, endedAt: record.ended_at! } : { op: 'remove' as const } }),
          ...(audioQueued !== wasAudioQueued && { audioQueue: audioQueued ? { op: 'add' as const, endedAt: record.ended_at! } : { op: 'remove' as const } }),
        });
      } catch (err) {
        if (!(err instanceof ConcurrentUpdateError)) throw err;
        log.debug('concurrent update, retrying', { attempt });
        await sleep(Math.random() * 20 * attempt);
        continue;
      }
      if (!prev.published.completed && planned.published.completed) deps.metrics?.conversationCompleted();
      for (let i = prev.published.alerts.length; i < planned.published.alerts.length; i++) deps.metrics?.conversationAlert();
      log.info('conversation updated', { status: record.status, enrichment: record.enrichment, events: planned.events.length });
      return queued;
    }
    throw new ConcurrentUpdateError(conversationId);
  }

  async function processMessage(body: string, receivedAt: string, log: Logger = baseLog.createChild()): Promise<void> {
    const parsed = parseEnvelope(body);
    if (!parsed.ok) throw new UnprocessableMessageError(`invalid envelope on the queue: ${parsed.code}`);
    const { envelope, timestampMs } = parsed;
    const key = eventKey(envelope);
    const callerKeys = deps.callerHashKey ? callerKeysOf(envelope.data, await deps.callerHashKey()) : [];
    const stored = { key, envelope, timestampMs, receivedAt, rawText: body, callerKeys };
    let scope = scopeOf(envelope.data);
    const callId = callIdOf(envelope.data);
    if (scope.kind === 'call') {
      const linked = await store.getCallLink(scope.callId);
      if (linked) scope = { kind: 'conversation', conversationId: linked };
    }
    if (scope.kind === 'conversation') log.appendKeys({ conversation_id: scope.conversationId });

    // The webhook's own events (`ThreeTone Event`, a platform `Platform Alert`) need no outbox: this
    // message is theirs. They are published after the event is stored, on every delivery, and the
    // message leaves the queue only once EventBridge accepted them; a redelivery (or ThreeTone's
    // retry) publishes them again with the same event_id (issue 10: a write of their own would cost
    // write units per event).
    const own = planWebhookEvents({ envelope, key, timestampIso: new Date(timestampMs).toISOString(), redactFields });
    const publishOwn = async () => {
      const { failed } = await publisher.publish(own);
      if (failed.length) throw new Error(`${failed.length} event(s) not accepted by the bus; the message is retried`);
    };
    /** What this delivery wrote (to discard it if the scope turns out erased meanwhile). */
    let written: { key: string; callerKeys: string[]; linkCall?: string } = { key, callerKeys: [] };
    /** False when the scope was erased: the webhook is acknowledged and dropped, nothing of it stored. */
    const storeEvent = async (): Promise<boolean> => {
      // A conversation's event links its call, and writes its caller lookup items: each only the
      // first time (the record's state says what earlier events wrote; a crash before the record
      // commit just writes them again).
      let linkCall = scope.kind === 'conversation' && callId ? callId : undefined;
      let callerKeysToWrite = callerKeys;
      let recordSeen = false;
      if (scope.kind === 'conversation' && (linkCall !== undefined || callerKeys.length > 0)) {
        const snapshot = await store.getRecord(scope.conversationId);
        recordSeen = snapshot !== null;
        const known = snapshot?.state;
        if (linkCall !== undefined && known?.calls?.includes(linkCall)) linkCall = undefined;
        const seen = new Set(known?.caller_keys ?? []);
        callerKeysToWrite = callerKeys.filter((k) => !seen.has(k));
      }
      written = { key, callerKeys: callerKeysToWrite, ...(linkCall !== undefined && { linkCall }) };
      // A record just read means no tombstone then (an erasure deletes the record as it puts the tombstone).
      const result = await store.insertEvent(scope, { ...stored, ...written, ...(recordSeen && { notErasedJustNow: true }) });
      if (result === 'erased') {
        dropped();
        return false;
      }
      // Debug only: ingest logged the webhook's acceptance, and a commit logs what it changed (issue 10: log bytes are billed).
      log.debug(result === 'stored' ? 'event stored' : 'duplicate event', { event: envelope.event, event_key: key });
      return true;
    };
    const dropped = () => {
      deps.metrics?.erasedDropped?.();
      log.info('event dropped: its conversation was erased', { event: envelope.event });
    };

    if (scope.kind === 'conversation') {
      const { conversationId } = scope;
      if (!(await storeEvent())) return;
      await publishOwn();
      // The rebuild's commit checks the tombstone; had the erasure come between the check before the
      // writes and this read, what this webhook wrote is deleted (the erasure's purge may have run first).
      if ((await rebuildConversation(conversationId, log)).erased) {
        await store.discardEvent(scope, written);
        dropped();
      }
    } else if (scope.kind === 'call') {
      const { callId: unlinkedCall } = scope;
      let kept = true;
      await withLock(`call:${unlinkedCall}`, async () => {
        kept = await storeEvent();
        if (kept) await publishOwn();
      });
      if (!kept) return;
      // Erased after the check before the writes: its purge may have missed them.
      if (await store.isErased(scope)) {
        await store.discardEvent(scope, written);
        dropped();
        return;
      }
      // Written before the read: of this message and the one that links the call, at least one
      // sees the other, so the call's events always reach the conversation.
      const linked = await store.getCallLink(unlinkedCall);
      if (linked) {
        log.appendKeys({ conversation_id: linked });
        await rebuildConversation(linked, log);
      }
    } else {
      await withLock(`event:${key}`, async () => {
        await storeEvent();
        await publishOwn();
      });
    }
  }

  async function recordHandler(record: SQSRecord): Promise<void> {
    const receivedAt = record.messageAttributes?.receivedAt?.stringValue ?? new Date(Number(record.attributes.SentTimestamp) || now()).toISOString();
    const log = baseLog.createChild();
    log.appendKeys({ message_id: record.messageId });
    try {
      await processMessage(messageBody(record), receivedAt, log);
    } catch (err) {
      const receiveCount = Number(record.attributes.ApproximateReceiveCount) || 1;
      const { error, reason } = errorFields(err);
      log.warn('message failed; it will be retried', { receive_count: receiveCount, error, reason });
      if (receiveCount >= config.maxReceiveCount) await raiseDeadLetter(record, receiveCount, `${error}: ${reason}`, log);
      // Only what may be logged leaves this function: the batch utility and the Lambda runtime
      // would otherwise carry the original message (which may quote a payload value).
      throw new RecordFailedError(`${error}: ${reason}`);
    }
  }

  /** The last attempt failed: SQS moves the message to the DLQ; tell the platform's consumers. */
  async function raiseDeadLetter(record: SQSRecord, receiveCount: number, error: string, log: Logger) {
    deps.metrics?.deadLettered();
    const parsed = parseEnvelope(messageBody(record));
    const data = parsed.ok ? parsed.envelope.data : {};
    const scope = scopeOf(data);
    const alert = deadLetterAlert({
      messageId: record.messageId,
      receiveCount,
      event: parsed.ok ? parsed.envelope.event : null,
      conversationId: scope.kind === 'conversation' ? scope.conversationId : null,
      error: error.slice(0, 300),
      now: new Date(now()).toISOString(),
    });
    log.error('message dead-lettered', { receive_count: receiveCount });
    try {
      const { failed } = await publisher.publish([alert]);
      if (failed.length) log.error('could not publish the dead-letter alert; the DLQ alarm still fires');
    } catch {
      log.error('could not publish the dead-letter alert; the DLQ alarm still fires');
    }
  }

  return { processMessage, recordHandler, rebuildConversation };
}

/** The audio bookkeeping after a rebuild: what the enricher brought, over what was kept. */
function audioStateOf(prev: AudioState | undefined, got: Enrich['audio']): AudioState | undefined {
  if (!got) return prev;
  if ('stored' in got) return { stored: { content_type: got.stored.contentType, size_bytes: got.stored.sizeBytes } };
  // Giving up never hides a recording already archived.
  return prev?.stored ? prev : { gave_up: true };
}

/**
 * The handler of a batch, with partial-failure reporting (Powertools batch utility). `afterBatch`
 * runs once the batch is done (locally: a kick of the enricher, not awaited, so no batch waits for
 * ThreeTone); its failure does not fail the batch: the enrichment work stays queued.
 */
export function createProcessorHandler(deps: ProcessorDeps & { afterBatch?: () => Promise<unknown> }, processor = createProcessor(deps)) {
  const { recordHandler } = processor;
  const log = deps.logger ?? defaultLogger;
  return async (event: SQSEvent, context?: Context): Promise<SQSBatchResponse> => {
    const response = await handleBatch(event, context);
    if (deps.afterBatch) {
      await deps.afterBatch().catch((err: unknown) => log.warn('enrichment after the batch failed; the schedule retries it', errorFields(err)));
    }
    return response;
  };

  function handleBatch(event: SQSEvent, context?: Context): Promise<SQSBatchResponse> {
    const processor = new BatchProcessor(EventType.SQS);
    // A batch that failed whole is reported like a partial one (every item failed), not thrown: a
    // thrown batch counts as a failed invocation, and the ProcessorErrors alarm would fire on normal retries.
    return processPartialResponse(event, recordHandler, processor, { context: context as Context, throwOnFullBatchFailure: false });
  }
}
