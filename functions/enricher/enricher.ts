/**
 * The enricher: fetches ThreeTone's details (and transcript, when the details do not carry it) for
 * ended conversations, oldest end first, within ThreeTone's request quota (docs/decisions.md, D19).
 *
 * One `drain` run:
 *  1. takes the oldest due conversations one at a time (each at most once per run): leases it (so
 *     concurrent enrichers never fetch it twice), pays one request from the shared budget per
 *     ThreeTone request, fetches, and rebuilds the record through the processor's own rebuild
 *     (aggregates corrected by the difference);
 *  2. stops at the first request the budget refuses (keeping the order of age), or at 80% of its time;
 *  3. gives up on conversations that ended ENRICHMENT_GIVE_UP_HOURS ago and still have no details:
 *     they are completed from webhook facts (`enrichment: "gave_up"`), and stay queued in case
 *     details come (then `done`, aggregates corrected by the difference).
 * Waiting for budget and a 429 cost nothing: the conversation keeps its place. A genuine failure
 * (404, 5xx, timeout) backs it off exponentially. Nothing here is an SQS delivery, so nothing
 * dead-letters; a conversation is never lost (it is in the table) and never stuck (step 1).
 *
 * Audio (README "Audio", D27), after the details of the run (they come first): for each ended
 * conversation on the audio queue, one paid request streams the recording into the archive, then a
 * rebuild records its type and size and takes it off the queue, in one transaction. A 404 (not ready)
 * or a failure backs off; once the conversation ended ENRICHMENT_GIVE_UP_HOURS ago the audio is given
 * up on (`audio.status: "gave_up"`): the details never wait for it. A crash between the upload and
 * the commit is safe (the retry overwrites the same object); a rebuild the erasure tombstone refuses
 * deletes what was just uploaded.
 */
import { normalizeDetails, normalizeTranscript } from '#core/normalize-details.js';
import type { TranscriptTurn } from '#core/types.js';
import type { EnrichmentConfig } from '#functions/config.js';
import { audioContentType } from '#core/audio.js';
import type {
  AudioArchive,
  ConversationStore,
  EnricherMetrics,
  PendingAudio,
  PendingEnrichment,
  RequestBudget,
  ThreeToneApi,
  ThreeToneAudioApi,
} from '#functions/ports.js';
import type { Enrich } from '#functions/processor/processor.js';
import { logger as defaultLogger, errorFields, type Logger } from '#functions/shared/logger.js';
import { type ApiKeyProblem, apiKeyNotSet } from './api-key-wait.js';

export interface EnricherDeps {
  store: ConversationStore;
  api: ThreeToneApi;
  budget: RequestBudget;
  /** The processor's rebuild (`createProcessor(...).rebuildConversation`). */
  rebuild: (conversationId: string, log: Logger, enrich: Enrich) => Promise<{ queued: boolean; erased?: boolean }>;
  /** Audio archiving (AUDIO_ARCHIVE); without it the audio queue is left alone. */
  audio?: { api: ThreeToneAudioApi; archive: AudioArchive };
  /** The API key is missing or refused (see api-key-wait.ts): the run stops and everything waits. */
  onApiKeyMissing?: (problem: ApiKeyProblem) => Promise<void>;
  config: Pick<EnrichmentConfig, 'giveUpHours'>;
  /** Waits; tests shorten them. */
  timing?: { leaseMs?: number; refetchNonFinalMs?: number; backoffBaseMs?: number; backoffMaxMs?: number };
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  logger?: Logger;
  metrics?: EnricherMetrics;
}

export interface DrainResult {
  enriched: number;
  /** Recordings archived in this run. */
  audioStored: number;
  gaveUp: number;
  failed: number;
  /** The budget refused a request: the run stopped there. */
  budgetExhausted: boolean;
  pending: number;
  oldestAgeSeconds: number;
}

/** Default waits: a lease (a crashed enricher's simply expires), refetch while ThreeTone analyses, backoff. */
const TIMING = { leaseMs: 120_000, refetchNonFinalMs: 5 * 60_000, backoffBaseMs: 30_000, backoffMaxMs: 30 * 60_000 };
const BATCH = 10;

type Step = 'done' | 'failed' | 'stop';

/** ThreeTone has no recording for the conversation (yet): retried with backoff, then given up on. */
export class AudioNotReadyError extends Error {
  override name = 'AudioNotReadyError';
  constructor() {
    super('ThreeTone has no audio for the conversation yet (404)');
  }
}

/** A 429 from ThreeTone (the HTTP client's error, or any error with that status). */
const throttleOf = (err: unknown): { retryAfterMs: number } | null => {
  const e = err as { status?: number; retryAfterMs?: number } | null;
  return e?.status === 429 ? { retryAfterMs: e.retryAfterMs ?? 60_000 } : null;
};

export function createEnricher(deps: EnricherDeps) {
  const { store, api, budget, rebuild } = deps;
  const now = deps.now ?? Date.now;
  const baseLog = deps.logger ?? defaultLogger;
  const giveUpMs = deps.config.giveUpHours * 3_600_000;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const timing = { ...TIMING, ...deps.timing };
  const backoff = (attempts: number) => Math.min(timing.backoffMaxMs, timing.backoffBaseMs * 2 ** Math.max(0, attempts - 1));

  /** One ThreeTone request, paid for first; `ok: false` when the budget refused it. */
  async function paid<T>(request: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false }> {
    const grant = await budget.take();
    if (!grant.granted) return { ok: false };
    return { ok: true, value: await request() };
  }

  /**
   * A missing or refused API key, or a 429: the run stops and the item waits (`defer(notBeforeMs)`),
   * no attempt counted. Null for any other failure.
   */
  async function waitOn(err: unknown, log: Logger, defer: (notBeforeMs: number) => Promise<void>): Promise<'stop' | null> {
    const missingKey = apiKeyNotSet(err);
    if (missingKey) {
      await defer(0);
      await deps.onApiKeyMissing?.(missingKey.problem);
      return 'stop';
    }
    const throttled = throttleOf(err);
    if (throttled) {
      deps.metrics?.throttled();
      await budget.block(throttled.retryAfterMs);
      await defer(now() + throttled.retryAfterMs);
      log.warn('ThreeTone throttled a request the budget allowed; the budget waits', { retry_after_ms: throttled.retryAfterMs });
      return 'stop';
    }
    return null;
  }

  async function enrichOne(item: PendingEnrichment, log: Logger): Promise<Step> {
    const id = item.conversationId;
    if (!(await store.leaseEnrichment(id, now(), timing.leaseMs))) return 'done'; // another enricher has it
    let raw = item.details;
    try {
      if (!raw) {
        const got = await paid(() => api.getConversation(id));
        if (!got.ok) {
          await store.deferEnrichment(id, { notBeforeMs: 0 });
          return 'stop';
        }
        if (got.value === null) throw new DetailsNotFoundError(id);
        raw = got.value;
      }
      const { transcript: inline, ...details } = normalizeDetails(id, raw);
      let turns: TranscriptTurn[] | null = inline;
      if (!turns) {
        const got = await paid(() => api.getTranscript(id));
        if (!got.ok) {
          // Keep the details fetched: the transcript alone waits for budget.
          await store.deferEnrichment(id, { notBeforeMs: 0, details: raw });
          return 'stop';
        }
        turns = normalizeTranscript(got.value);
      }
      const { queued } = await rebuild(id, log, { fetched: { details, turns } });
      // Still queued: ThreeTone's analysis is still running; look again later.
      if (queued) await store.deferEnrichment(id, { notBeforeMs: now() + timing.refetchNonFinalMs, attempts: 0, details: null });
      log.info('conversation enriched', { final: !queued });
      return 'done';
    } catch (err) {
      if (await waitOn(err, log, (notBeforeMs) => store.deferEnrichment(id, { notBeforeMs, details: raw }))) return 'stop';
      const attempts = item.attempts + 1;
      await store.deferEnrichment(id, { notBeforeMs: now() + backoff(attempts), attempts, details: raw });
      log.warn('enrichment failed; it backs off', { attempts, ...errorFields(err) });
      return 'failed';
    }
  }

  /** Archives one conversation's recording: 'done' (stored, or erased meanwhile), 'failed' (deferred or given up), 'stop'. */
  async function archiveAudioOne(item: PendingAudio, log: Logger, audio: NonNullable<EnricherDeps['audio']>): Promise<Step | 'stored'> {
    const id = item.conversationId;
    if (item.erased) {
      // The erasure's second delete, after any upload under way when it ran has ended (idempotent).
      await audio.archive.delete(id);
      await store.audioCleanedUp(id);
      log.info('erased conversation: its recording deleted again');
      return 'done';
    }
    if (!(await store.leaseAudio(id, now(), timing.leaseMs))) return 'done'; // another enricher has it
    try {
      const got = await paid(() => audio.api.getAudio(id));
      if (!got.ok) {
        await store.deferAudio(id, { notBeforeMs: 0 });
        return 'stop';
      }
      if (got.value === null) throw new AudioNotReadyError();
      const { body, contentType } = got.value;
      let stored;
      try {
        stored = await audio.archive.store(id, body, audioContentType(contentType));
      } finally {
        body.destroy(); // a failed store leaves no open download behind
      }
      const { erased } = await rebuild(id, log, { audio: { stored } });
      if (erased) {
        // The erasure came first: what was just uploaded must not stay behind.
        await audio.archive.delete(id);
        log.info('conversation erased while its audio was archived; the audio was deleted');
        return 'done';
      }
      log.info('conversation audio archived', { content_type: stored.contentType, size_bytes: stored.sizeBytes });
      return 'stored';
    } catch (err) {
      if (await waitOn(err, log, (notBeforeMs) => store.deferAudio(id, { notBeforeMs }))) return 'stop';
      const attempts = item.attempts + 1;
      if (now() - Date.parse(item.endedAt) >= giveUpMs) {
        // Only the audio is given up on: the record says so, the details are untouched.
        const { erased } = await rebuild(id, log, { audio: { gaveUp: true } });
        log.warn('audio not archived; given up', { attempts, erased, ...errorFields(err) });
        return 'failed';
      }
      await store.deferAudio(id, { notBeforeMs: now() + backoff(attempts), attempts });
      log.warn('audio not archived; it backs off', { attempts, ...errorFields(err) });
      return 'failed';
    }
  }

  /** Completes, from webhook facts, the conversations that waited too long (no ThreeTone request). */
  async function giveUpOverdue(log: Logger, deadline: number): Promise<number> {
    let count = 0;
    const cutoff = new Date(now() - giveUpMs).toISOString();
    for (const item of await store.overdueEnrichments(cutoff, 100)) {
      if (now() >= deadline) break;
      const child = log.createChild();
      child.appendKeys({ conversation_id: item.conversationId });
      await rebuild(item.conversationId, child, { giveUp: true });
      await store.markEnrichmentGaveUp(item.conversationId);
      child.info('conversation completed from webhook facts after waiting for details', { ended_at: item.endedAt });
      count++;
    }
    return count;
  }

  /**
   * One run. `pollMs`: while nothing is due, look again after this long until the run's time is up
   * (the scheduled Lambda), instead of returning at once (the local interval).
   */
  async function drain(opts: { deadlineMs: number; maxItems?: number; pollMs?: number }): Promise<DrainResult> {
    const started = now();
    const deadline = started + opts.deadlineMs;
    // The last fifth of the run is kept for giving up on overdue conversations, budget or not.
    const fetchDeadline = started + opts.deadlineMs * 0.8;
    const maxItems = opts.maxItems ?? Number.POSITIVE_INFINITY;
    const result: DrainResult = { enriched: 0, audioStored: 0, gaveUp: 0, failed: 0, budgetExhausted: false, pending: 0, oldestAgeSeconds: 0 };
    const tried = new Set<string>(); // each conversation at most once per run
    const triedAudio = new Set<string>(); // likewise on the audio queue
    const attempted = () => tried.size + triedAudio.size;
    /** One batch of due recordings (details come first: only when none is due); false when none was due. */
    const audioBatch = async (): Promise<boolean> => {
      const audio = deps.audio;
      if (!audio) return false;
      const due = (await store.dueAudio(now(), BATCH)).filter((item) => !triedAudio.has(item.conversationId));
      for (const item of due) {
        if (now() >= fetchDeadline || attempted() >= maxItems) break;
        triedAudio.add(item.conversationId);
        const log = baseLog.createChild();
        log.appendKeys({ conversation_id: item.conversationId });
        const step = await archiveAudioOne(item, log, audio);
        if (step === 'stop') {
          result.budgetExhausted = true;
          break;
        }
        if (step === 'stored') result.audioStored++;
        else if (step === 'failed') result.failed++;
      }
      return due.length > 0;
    };
    outer: while (now() < fetchDeadline && attempted() < maxItems) {
      const due = (await store.dueEnrichments(now(), BATCH)).filter((item) => !tried.has(item.conversationId));
      if (due.length === 0) {
        if (await audioBatch()) {
          if (result.budgetExhausted) break;
          continue; // details that came meanwhile go first
        }
        if (!opts.pollMs || now() + opts.pollMs >= fetchDeadline) break;
        await sleep(opts.pollMs);
        continue;
      }
      for (const item of due) {
        if (now() >= fetchDeadline || attempted() >= maxItems) break outer;
        tried.add(item.conversationId);
        const log = baseLog.createChild();
        log.appendKeys({ conversation_id: item.conversationId });
        const step = await enrichOne(item, log);
        if (step === 'stop') {
          result.budgetExhausted = true;
          break outer;
        }
        if (step === 'done') result.enriched++;
        else result.failed++;
      }
    }
    result.gaveUp = await giveUpOverdue(baseLog, deadline);
    const backlog = await store.enrichmentBacklog();
    result.pending = backlog.pending;
    result.oldestAgeSeconds = backlog.oldestEndedAt ? Math.max(0, Math.round((now() - Date.parse(backlog.oldestEndedAt)) / 1000)) : 0;
    deps.metrics?.backlog(result.pending, result.oldestAgeSeconds);
    baseLog.info('enrichment run', { ...result });
    return result;
  }

  return { drain };
}

/** ThreeTone does not (yet) know an ended conversation: retried with backoff, never fatal. */
export class DetailsNotFoundError extends Error {
  override name = 'DetailsNotFoundError';
  constructor(conversationId: string) {
    super(`ThreeTone has no details for conversation ${conversationId} yet`);
  }
}
