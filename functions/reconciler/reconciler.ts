/**
 * The reconciler, on a schedule, lists ThreeTone's recent conversations and, for each that has
 * finished but is not ended here (its record is missing or still active: a webhook never arrived, or
 * its processing was dead-lettered), enqueues a synthetic
 * `conversation_ended` that the processor handles like any other. Its timestamp is deterministic,
 * so two runs enqueue the same event and the processor dedupes it; its estimated end time never
 * overrides a real one. Conversations that ended less than RECONCILE_GRACE_SECONDS ago are left to
 * their webhooks. (Events need no sweep: the table's change stream publishes every committed change,
 * docs/decisions.md D30.)
 */
import { SYNTHETIC_SOURCE } from '#core/conversation-state.js';
import type { ReconcilerConfig } from '#functions/config.js';
import type { ConversationStore, RequestBudget, ThreeToneApi, WebhookQueue } from '#functions/ports.js';
import { logger as defaultLogger, type Logger } from '#functions/shared/logger.js';

const FINISHED = new Set(['done', 'completed', 'ended', 'failed', 'finished']);
const MAX_PAGES = 20;

export interface ReconcilerDeps {
  api: ThreeToneApi;
  /** ThreeTone's quota, shared with the enricher: each listing page is paid for first. */
  budget: RequestBudget;
  store: Pick<ConversationStore, 'getRecord'>;
  queue: WebhookQueue;
  config: Pick<ReconcilerConfig, 'lookbackHours' | 'reconcileGraceSeconds'>;
  now?: () => number;
  logger?: Logger;
}

export interface ReconcileSummary {
  checked: number;
  enqueued: number;
}

export function createReconciler(deps: ReconcilerDeps) {
  const now = deps.now ?? Date.now;
  const log = deps.logger ?? defaultLogger;

  async function repairMissed(): Promise<{ checked: number; enqueued: number }> {
    const startAfterUnix = Math.floor(now() / 1000 - deps.config.lookbackHours * 3600);
    let cursor: string | undefined;
    let checked = 0;
    let enqueued = 0;
    for (let page = 0; page < MAX_PAGES; page++) {
      const grant = await deps.budget.take();
      if (!grant.granted) {
        log.info('no ThreeTone budget left for the listing; the next run continues', { retry_after_ms: grant.retryAfterMs });
        break;
      }
      const { conversations, nextCursor } = await deps.api.listConversations({ cursor, pageSize: 100, startAfterUnix });
      for (const c of conversations) {
        if (!c.status || !FINISHED.has(c.status.toLowerCase())) continue;
        checked++;
        const snapshot = await deps.store.getRecord(c.conversation_id);
        // Known to have ended: the enricher owns it (details, refetch while ThreeTone analyses).
        // Missing, or still active here although ThreeTone says it finished: enqueue its end.
        if (snapshot?.record.status === 'ended') continue;
        const duration = Number(c.raw.call_duration_secs ?? c.raw.duration_seconds);
        const endedUnix = c.start_time_unix_secs !== null ? c.start_time_unix_secs + (Number.isFinite(duration) ? duration : 0) : null;
        // Too recent: its webhooks may still be on their way or in the queue.
        if (endedUnix !== null && endedUnix * 1000 > now() - deps.config.reconcileGraceSeconds * 1000) continue;
        const envelope = {
          event: 'conversation_ended',
          timestamp: endedUnix !== null ? new Date(endedUnix * 1000).toISOString() : new Date(now()).toISOString(),
          data: { conversation_id: c.conversation_id, agent_id: c.agent_id, source: SYNTHETIC_SOURCE },
        };
        await deps.queue.send({ body: JSON.stringify(envelope), receivedAt: new Date(now()).toISOString() });
        enqueued++;
        log.info('missed conversation enqueued', { conversation_id: c.conversation_id });
      }
      if (!nextCursor) break;
      cursor = nextCursor;
    }
    return { checked, enqueued };
  }

  return async (): Promise<ReconcileSummary> => {
    const summary = await repairMissed();
    log.info('reconciliation done', { ...summary });
    return summary;
  };
}
