import { createDynamoDbRequestBudget } from '#adapters/dynamodb-request-budget.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDynamoDbConversationStore } from '#adapters/dynamodb-conversation-store.js';
import { busEvent, DetailType } from '#core/bus-events.js';
import { createReconciler } from '#functions/reconciler/reconciler.js';
import type { ConversationSummary } from '#functions/ports.js';
import { body, createHarness, type Harness } from '#test/helpers/processor-harness.js';

const NOW = Date.parse('2026-11-20T12:00:00Z');

function summary(id: string, status: string, startUnix: number, duration: number): ConversationSummary {
  return { conversation_id: id, agent_id: 'agent-r', status, start_time_unix_secs: startUnix, raw: { conversation_id: id, call_duration_secs: duration } };
}

describe('reconciler', () => {
  let h: Harness;
  const sent: string[] = [];
  beforeEach(async () => {
    h = await createHarness();
    sent.length = 0;
  });
  afterEach(() => h.close());

  function reconciler(list: ConversationSummary[]) {
    const store = createDynamoDbConversationStore(h.table.doc, h.table.tableName, { retention: { rawEventDays: 0, transcriptDays: 0, recordDays: 0 }, now: () => NOW });
    h.api.listConversations = async () => ({ conversations: list, nextCursor: null });
    return createReconciler({
      api: h.api,
      budget: createDynamoDbRequestBudget(h.table.doc, h.table.tableName, { perMinute: 100, perHour: 1000 }),
      store,
      queue: { send: async (m) => void sent.push(m.body) },
      config: { lookbackHours: 6, reconcileGraceSeconds: 300 },
      now: () => NOW,
    });
  }

  it('enqueues a missed finished conversation, which the processor then completes and counts once', async () => {
    const start = NOW / 1000 - 3600;
    h.api.details.set('missed', { conversation_id: 'missed', agent_id: 'agent-r', duration_seconds: 90, resolution_status: 'resolved' });
    const run = reconciler([summary('missed', 'done', start, 90), summary('live', 'in-progress', start, 0)]);

    const first = await run();
    const second = await run();
    await h.deliver([...sent]);

    expect(first).toMatchObject({ checked: 1, enqueued: 1 });
    expect(second.enqueued).toBe(1);
    expect(sent[0]).toBe(sent[1]); // same synthetic event: the processor dedupes it
    const [day] = await h.agentDays('agent-r');
    expect(day?.counters.conversations).toBe(1);
    expect(h.bus.distinct(DetailType.ConversationCompleted)).toHaveLength(1);
    // the synthetic end estimates ended_at from the listing when no webhook said better
    expect(h.bus.distinct(DetailType.ConversationCompleted)[0]!.detail).toMatchObject({ ended_at: new Date((start + 90) * 1000).toISOString() });
  });

  it('leaves alone conversations already stored and those that ended within the grace period', async () => {
    h.api.details.set('known', { conversation_id: 'known', agent_id: 'agent-r', duration_seconds: 10 });
    await h.deliver([body({ event: 'conversation_ended', timestamp: '2026-11-20T11:00:00Z', data: { conversation_id: 'known' } })]);
    const run = reconciler([summary('known', 'done', NOW / 1000 - 3600, 10), summary('fresh', 'done', NOW / 1000 - 60, 30)]);

    const result = await run();

    expect(result).toMatchObject({ checked: 2, enqueued: 0 });
    expect(sent).toEqual([]);
  });

  it('a real end webhook wins over the synthetic estimate, whatever the order', async () => {
    h.api.details.set('both', { conversation_id: 'both', agent_id: 'agent-r', resolution_status: 'resolved' });
    const start = NOW / 1000 - 7200;
    await reconciler([summary('both', 'done', start, 60)])();
    const real = body({ event: 'conversation_ended', timestamp: new Date((start + 30) * 1000).toISOString(), data: { conversation_id: 'both' } });

    await h.deliver([...sent, real]);

    const completed = h.bus.distinct(DetailType.ConversationCompleted);
    const updated = h.bus.distinct(DetailType.ConversationUpdated);
    const latest = updated.length ? updated[updated.length - 1]! : completed[0]!;
    expect(latest.detail).toMatchObject({ ended_at: new Date((start + 30) * 1000).toISOString() });
  });

  it('leaves a conversation known to have ended to the enricher, and pays for each listing page from the budget', async () => {
    await h.deliver([body({ event: 'conversation_ended', timestamp: '2026-11-20T10:00:00Z', data: { conversation_id: 'slow' } })]);
    const run = reconciler([summary('slow', 'done', NOW / 1000 - 7200, 20)]);

    const result = await run();

    expect(result.enqueued).toBe(0);
    expect(sent).toEqual([]);
  });
});
