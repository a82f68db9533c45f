/**
 * The enrichment queue's reads page past items that do not qualify: a long head of deferred or
 * given-up conversations never hides the due ones behind it, and the backlog's age ignores those
 * already completed from webhook facts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { createDynamoDbConversationStore } from '#adapters/dynamodb-conversation-store.js';
import { keys, TABLE } from '#adapters/table-schema.js';
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

  it('a leased conversation is not due to others until its lease ends or is released; the lease is not on the index', async () => {
    // Arrange
    const lease = 120_000;

    // Act
    const took = await store.leaseEnrichment('q-250', NOW, lease);
    const again = await store.leaseEnrichment('q-250', NOW + 1_000, lease);
    const dueWhileHeld = (await store.dueEnrichments(NOW + 1_000, 10)).map((d) => d.conversationId);
    // The held one at the head does not hide the next.
    const dueOneWhileHeld = (await store.dueEnrichments(NOW + 1_000, 1)).map((d) => d.conversationId);
    const dueAfter = (await store.dueEnrichments(NOW + lease, 10)).map((d) => d.conversationId);
    const entry = await table.doc.send(
      new QueryCommand({
        TableName: table.tableName,
        IndexName: TABLE.byTimeIndex.name,
        KeyConditionExpression: 'gsi2pk = :q AND gsi2sk = :sk',
        ExpressionAttributeValues: { ':q': keys.enrichmentQueue, ':sk': `${endedAt(250)}#q-250` },
      }),
    );
    await store.deferEnrichment('q-250', { notBeforeMs: 0 });
    const retaken = await store.leaseEnrichment('q-250', NOW + 2_000, lease);
    await store.deferEnrichment('q-250', { notBeforeMs: 0 });

    // Assert
    expect([took, again, retaken]).toEqual([true, false, true]);
    expect(dueWhileHeld).toEqual(Array.from({ length: 9 }, (_, i) => `q-${251 + i}`));
    expect(dueOneWhileHeld).toEqual(['q-251']);
    expect(dueAfter).toContain('q-250');
    // Taking a lease rewrites the queue item only: its index entry does not carry the lease.
    expect(entry.Items).toHaveLength(1);
    expect(Object.keys(entry.Items![0]!).some((k) => k.includes('held') || k.includes('lease'))).toBe(false);
  });

  it('finds overdue conversations behind a long head of given-up ones, and the backlog age skips those given up', async () => {
    for (let i = 0; i < 250; i++) await store.markEnrichmentGaveUp(`q-${String(i).padStart(3, '0')}`);
    const overdue = await store.overdueEnrichments(new Date(NOW).toISOString(), 100);
    expect(overdue.map((d) => d.conversationId)).toEqual(Array.from({ length: 10 }, (_, i) => `q-${250 + i}`));
    expect(await store.enrichmentBacklog()).toEqual({ pending: 260, oldestEndedAt: endedAt(250) });
  });
});
