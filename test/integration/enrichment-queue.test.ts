/**
 * The enrichment queue's reads page past items that do not qualify: a long head of deferred or
 * given-up conversations never hides the due ones behind it, and the backlog's age ignores those
 * already completed from webhook facts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoDbConversationStore } from '#adapters/dynamodb-conversation-store.js';
import type { ConversationRecord } from '#core/types.js';
import type { ConversationStore } from '#functions/ports.js';
import { createTestTable, type TestTable } from '#test/helpers/dynamodb.js';

const NOW = Date.UTC(2026, 10, 20, 12, 0, 0);
const endedAt = (i: number) => new Date(NOW - 3_600_000 + i * 1000).toISOString();

let table: TestTable;
let store: ConversationStore;
beforeAll(async () => {
  table = await createTestTable();
  store = createDynamoDbConversationStore(table.doc, table.tableName, { retention: { rawEventDays: 0, transcriptDays: 0, recordDays: 0 }, now: () => NOW });
  // 260 ended conversations join the queue through the record's own commit, as the processor does.
  for (let i = 0; i < 260; i++) {
    const id = `q-${String(i).padStart(3, '0')}`;
    await store.commit({
      conversationId: id,
      expectedRev: null,
      record: { conversation_id: id, agent_id: 'a', status: 'ended', ended_at: endedAt(i) } as ConversationRecord,
      state: { details: null, transcript: null, contribution: null, published: { started: true, ended: true, completed: false, escalations: [], alerts: [] }, enrichment_queued: true },
      sortTime: endedAt(i),
      aggregateDeltas: [],
      outbox: [],
      enrichmentQueue: { op: 'add', endedAt: endedAt(i) },
    });
  }
  // The 250 oldest back off for an hour (ThreeTone keeps failing them); the 10 youngest are due.
  for (let i = 0; i < 250; i++) await store.deferEnrichment(`q-${String(i).padStart(3, '0')}`, { notBeforeMs: NOW + 3_600_000, attempts: 3 });
}, 120_000);
afterAll(() => table.drop());

describe('enrichment queue reads', () => {
  it('finds the due conversations behind a long head of deferred ones, oldest first', async () => {
    const due = await store.dueEnrichments(NOW, 10);
    expect(due.map((d) => d.conversationId)).toEqual(Array.from({ length: 10 }, (_, i) => `q-${250 + i}`));
  });

  it('finds overdue conversations behind a long head of given-up ones, and the backlog age skips those given up', async () => {
    for (let i = 0; i < 250; i++) await store.markEnrichmentGaveUp(`q-${String(i).padStart(3, '0')}`);
    const overdue = await store.overdueEnrichments(new Date(NOW).toISOString(), 100);
    expect(overdue.map((d) => d.conversationId)).toEqual(Array.from({ length: 10 }, (_, i) => `q-${250 + i}`));
    expect(await store.enrichmentBacklog()).toEqual({ pending: 260, oldestEndedAt: endedAt(250) });
  });
});
