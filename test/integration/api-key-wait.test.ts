/**
 * A missing ThreeTone API key: webhooks are still recorded (facts first), enrichment waits on its
 * queue without counting attempts, nothing dead-letters, one alert names the secret.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDynamoDbConversationStore } from '#adapters/dynamodb-conversation-store.js';
import { createDynamoDbQueries } from '#adapters/dynamodb-queries.js';
import { createDynamoDbRequestBudget } from '#adapters/dynamodb-request-budget.js';
import { ThreeToneError } from '#adapters/threetone-http.js';
import { DetailType } from '#core/bus-events.js';
import { THREETONE_API_KEY_PLACEHOLDER } from '#functions/config.js';
import { apiKeyAlert, ApiKeyNotSetError, guardApiKey } from '#functions/enricher/api-key-wait.js';
import { createEnricher } from '#functions/enricher/enricher.js';
import type { ThreeToneApi } from '#functions/ports.js';
import { createProcessor, createProcessorHandler } from '#functions/processor/processor.js';
import { createOutboxPump, createTestTable, type TestTable } from '#test/helpers/dynamodb.js';
import { FakeThreeTone, HARNESS_NOW, RecordingBus, sqsRecord, THRESHOLDS } from '#test/helpers/processor-harness.js';

const GOOD_KEY = 'tt-live-key';
const SECRET = 'the secret arn:aws:secretsmanager:eu-west-1:123456789012:secret:key-AbC123';
const ended = (id: string) =>
  JSON.stringify({ event: 'conversation_ended', timestamp: new Date(HARNESS_NOW - 60_000).toISOString(), data: { conversation_id: id, agent_id: 'agent-1' } });

describe('a missing ThreeTone API key: facts are recorded, enrichment waits, one alert', () => {
  let table: TestTable;
  let key: string;
  let calls: number;
  let waiting: number;
  let bus: RecordingBus;
  let handler: ReturnType<typeof createProcessorHandler>;
  let enricher: ReturnType<typeof createEnricher>;
  let queries: ReturnType<typeof createDynamoDbQueries>;
  let outbox: Awaited<ReturnType<typeof createOutboxPump>>;

  beforeEach(async () => {
    table = await createTestTable();
    key = THREETONE_API_KEY_PLACEHOLDER;
    calls = 0;
    waiting = 0;
    bus = new RecordingBus();
    const fake = new FakeThreeTone();
    fake.details.set('c-1', { conversation_id: 'c-1', agent_id: 'agent-1', duration_seconds: 42, transcript: [] });
    const guarded = guardApiKey(async () => key);
    // ThreeTone as the HTTP client sees it: the key is read first, a wrong one gets 401.
    const withKey = <A extends unknown[], R>(call: (...args: A) => Promise<R>) => async (...args: A) => {
      const k = await guarded.apiKey();
      calls++;
      if (k !== GOOD_KEY) throw new ThreeToneError('ThreeTone GET /v1/voiceai/conversations/c-1: HTTP 401', { retryable: false, status: 401 });
      return call(...args);
    };
    const api: ThreeToneApi = {
      getConversation: withKey((id: string) => fake.getConversation(id)),
      getTranscript: withKey((id: string) => fake.getTranscript(id)),
      listConversations: withKey(() => fake.listConversations()),
    };
    const store = createDynamoDbConversationStore(table.doc, table.tableName, { retention: { rawEventDays: 30, transcriptDays: 0, recordDays: 0 } });
    const deps = {
      store,
      publisher: bus,
      config: { alerts: THRESHOLDS, maxReceiveCount: 5, redactFields: [], enrichment: { maxAgeDays: 7 } },
      sleep: async () => undefined,
      now: () => HARNESS_NOW,
    };
    const processor = createProcessor(deps);
    enricher = createEnricher({
      store,
      api: guarded.api(api),
      budget: createDynamoDbRequestBudget(table.doc, table.tableName, { perMinute: 1000, perHour: 10_000, now: () => HARNESS_NOW }),
      rebuild: processor.rebuildConversation,
      config: { giveUpHours: 6 },
      timing: { backoffBaseMs: 0 },
      now: () => HARNESS_NOW,
      onApiKeyMissing: apiKeyAlert({ publisher: bus, setting: SECRET, onWaiting: () => waiting++ }),
    });
    handler = createProcessorHandler({ ...deps, afterBatch: () => enricher.drain({ deadlineMs: 10_000 }) }, processor);
    queries = createDynamoDbQueries(table.doc, table.tableName);
    outbox = await createOutboxPump(table, bus);
  });
  afterEach(async () => {
    await outbox.close();
    await table.drop();
  });

  it('records the conversation from its webhook, sends no placeholder, and waits without a failure: no DLQ, no dead-letter alert', async () => {
    const record = sqsRecord(ended('c-1'), 5); // even on its last delivery
    const res = await handler({ Records: [record] });

    expect(res.batchItemFailures).toEqual([]);
    expect(await queries.getRecord('c-1')).toMatchObject({ status: 'ended', enrichment: 'pending' });
    expect(calls).toBe(0); // the placeholder is never sent to ThreeTone
    expect(waiting).toBe(1);
    const alerts = bus.ofType(DetailType.PlatformAlert);
    expect(alerts.map((a) => a.detail.alert_type)).toEqual(['threetone_api_key_missing']);
    expect(alerts[0]!.detail.message).toContain('arn:aws:secretsmanager:eu-west-1:123456789012:secret:key-AbC123');
    expect(JSON.stringify(alerts[0])).not.toContain(THREETONE_API_KEY_PLACEHOLDER);
  });

  it('raises the alert once, counts every waiting run, and counts no attempt against the conversation', async () => {
    await handler({ Records: [sqsRecord(ended('c-1'))] });
    await enricher.drain({ deadlineMs: 10_000 });
    await enricher.drain({ deadlineMs: 10_000 });
    expect(waiting).toBe(3);
    expect(bus.ofType(DetailType.PlatformAlert)).toHaveLength(1);
    key = GOOD_KEY;
    const run = await enricher.drain({ deadlineMs: 10_000 });
    expect(run).toMatchObject({ enriched: 1, failed: 0, pending: 0 });
  });

  it('a key ThreeTone refuses (401) waits too, is not sent again until the secret changes, then enrichment resumes', async () => {
    key = 'revoked-key';
    await handler({ Records: [sqsRecord(ended('c-1'))] });
    expect(calls).toBe(1);
    await enricher.drain({ deadlineMs: 10_000 });
    expect(calls).toBe(1); // known refused: no call

    key = GOOD_KEY;
    await enricher.drain({ deadlineMs: 10_000 });
    expect(await queries.getRecord('c-1')).toMatchObject({ enrichment: 'done', duration_seconds: 42 });
    await outbox.drain();
    expect(bus.ofType(DetailType.ConversationCompleted)).toHaveLength(1);
  });

  it('other failures still fail the record (and dead-letter as before)', async () => {
    key = GOOD_KEY;
    const record = sqsRecord('not json', 5);
    // Reported as a record failure, not a failed invocation (which the ProcessorErrors alarm counts).
    const res = await handler({ Records: [record] });
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: record.messageId }]);
    expect(bus.ofType(DetailType.PlatformAlert).map((a) => a.detail.alert_type)).toEqual(['dead_lettered']);
  });

  it('recognises an empty key and the placeholder without calling anything', async () => {
    for (const k of ['', '  ', THREETONE_API_KEY_PLACEHOLDER]) {
      await expect(guardApiKey(async () => k).apiKey()).rejects.toBeInstanceOf(ApiKeyNotSetError);
    }
    await expect(guardApiKey(async () => GOOD_KEY).apiKey()).resolves.toBe(GOOD_KEY);
  });
});
