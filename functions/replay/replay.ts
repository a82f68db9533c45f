/**
 * Replay: sends stored webhooks (one conversation's, or those accepted in a time range) back to the
 * work queue, each body exactly as it was signed and with its original acceptance time, so they go
 * through the same processor path as on arrival. Idempotent by construction: the processor finds
 * each event already stored (nothing is stored or counted again) and still rebuilds the
 * conversation's record from its event set and stored details, committing only what differs, with
 * the aggregates corrected by the difference. So after a fix in the rebuild, a replay repairs the
 * records; replaying twice changes nothing more.
 *
 * Replay re-runs the rebuild from the stored event facts; it does not re-extract facts from the
 * bodies (a stored event is never rewritten). A body past RAW_EVENT_RETENTION_DAYS cannot be sent:
 * it is counted as `expired` (its facts still take part in the rebuild when another event of the
 * conversation is replayed).
 */
import type { StoredWebhooks, WebhookQueue, WebhookSelection } from '#functions/ports.js';

export interface ReplayDeps {
  readonly webhooks: StoredWebhooks;
  readonly queue: WebhookQueue;
}

export interface ReplayResult {
  /** Stored webhooks the selection matched. */
  readonly selected: number;
  /** Sent to the work queue. */
  readonly enqueued: number;
  /** Matched, but the body is gone (RAW_EVENT_RETENTION_DAYS). */
  readonly expired: number;
}

/** An ISO-8601 instant (or `YYYY-MM-DD`, UTC midnight) as the `received_at` format, or null. */
export function replayInstant(text: string): string | null {
  if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/.test(text)) return null;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

/**
 * The selection a caller asked for: `conversation_id`, or `from` and `to` (inclusive instants).
 * Throws a RangeError naming what is wrong (no payload value in it).
 */
export function replaySelection(params: { conversationId?: string | undefined; from?: string | undefined; to?: string | undefined }): WebhookSelection {
  const { conversationId, from, to } = params;
  if (conversationId !== undefined) {
    if (from !== undefined || to !== undefined) throw new RangeError('give either a conversation id or a from/to range, not both');
    if (conversationId === '' || Buffer.byteLength(conversationId) > 256) throw new RangeError('the conversation id must be 1-256 bytes');
    return { kind: 'conversation', conversationId };
  }
  if (from === undefined || to === undefined) throw new RangeError('give a conversation id, or both from and to');
  const f = replayInstant(from);
  const t = replayInstant(to);
  if (f === null || t === null) throw new RangeError('from and to must be ISO-8601 instants (or YYYY-MM-DD)');
  if (f > t) throw new RangeError('from must not be after to');
  return { kind: 'range', from: f, to: t };
}

export function createReplay(deps: ReplayDeps) {
  return async function replay(selection: WebhookSelection): Promise<ReplayResult> {
    let selected = 0;
    let enqueued = 0;
    let expired = 0;
    for await (const page of deps.webhooks.select(selection)) {
      for (const w of page) {
        selected += 1;
        if (w.body === null) {
          expired += 1;
          continue;
        }
        await deps.queue.send({ body: w.body, receivedAt: w.receivedAt });
        enqueued += 1;
      }
    }
    return { selected, enqueued, expired };
  };
}
