/**
 * EventPublisher on EventBridge. PutEvents takes at most 10 entries and 256 KB per call, and a 200
 * can still carry per-entry failures (`FailedEntryCount`): only the failed entries are resent, with
 * backoff; what still fails is returned to the caller, whose outbox keeps it for a later attempt.
 */
import { type EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { type BusEvent, detailJson, EVENT_SOURCE, putEventsCalls } from '#core/bus-events.js';
import type { EventPublisher } from '#functions/ports.js';

export interface EventBridgePublisherOptions {
  /** Resends of failed entries within one publish call. @default 2 */
  retries?: number;
  baseDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

export function createEventBridgePublisher(client: EventBridgeClient, busName: string, opts: EventBridgePublisherOptions = {}): EventPublisher {
  const retries = opts.retries ?? 2;
  const baseDelay = opts.baseDelayMs ?? 100;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));

  const toEntry = (e: BusEvent): PutEventsRequestEntry => ({
    EventBusName: busName,
    Source: EVENT_SOURCE,
    DetailType: e.detailType,
    Detail: detailJson(e),
    Time: new Date(e.time),
    Resources: [],
  });

  async function putOnce(events: BusEvent[]): Promise<BusEvent[]> {
    const out = await client.send(new PutEventsCommand({ Entries: events.map(toEntry) }));
    if (!out.FailedEntryCount) return [];
    return events.filter((_, i) => out.Entries?.[i]?.ErrorCode || !out.Entries?.[i]?.EventId);
  }

  return {
    async publish(events) {
      const { calls, oversized } = putEventsCalls(events);
      const failed: BusEvent[] = [...oversized];
      for (const call of calls) {
        let pending = call;
        for (let attempt = 0; pending.length && attempt <= retries; attempt++) {
          if (attempt > 0) await sleep(baseDelay * 2 ** (attempt - 1) * (0.5 + Math.random() / 2));
          try {
            pending = await putOnce(pending);
          } catch {
            // Throttling or a network error on the whole call: none of it is known to be published,
            // so all of it stays pending (a resend is deduped by consumers on event_id).
          }
        }
        failed.push(...pending);
      }
      return { failed };
    },
  };
}
