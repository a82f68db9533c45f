import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDynamoDbConversationStore } from '#adapters/dynamodb-conversation-store.js';
import { ThreeToneError } from '#adapters/threetone-http.js';
import { DetailType } from '#core/bus-events.js';
import { THREETONE_API_KEY_PLACEHOLDER } from '#functions/config.js';
import type { ThreeToneApi, WebhookQueue } from '#functions/ports.js';
import { API_KEY_WAIT_SECONDS, ApiKeyNotSetError, guardApiKey, waitForApiKey } from '#functions/processor/api-key-wait.js';
import { createProcessorHandler } from '#functions/processor/processor.js';
import { createTestTable, type TestTable } from '#test/helpers/dynamodb.js';
import { FakeThreeTone, RecordingBus, sqsRecord, THRESHOLDS } from '#test/helpers/processor-harness.js';

const GOOD_KEY = 'tt-live-key';
const ended = (id: string) =>
  JSON.stringify({ event: 'conversation_ended', timestamp: new Date().toISOString(), data: { conversation_id: id, agent_id: 'agent-1' } });

describe('a missing ThreeTone API key: messages wait, never dead-letter, one alert', () => {
  let table: TestTable;
  let key: string;
  let calls: number;
  let sent: { body: string; receivedAt: string; delaySeconds?: number }[];
  let waiting: number;
  let bus: RecordingBus;
  let handler: ReturnType<typeof createProcessorHandler>;

  beforeEach(async () => {
    table = await createTestTable();
    key = THREETONE_API_KEY_PLACEHOLDER;
    calls = 0;
    sent = [];
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
    const queue: WebhookQueue = { send: async (m) => void sent.push(m) };
    const store = createDynamoDbConversationStore(table.doc, table.tableName, { retention: { rawEventDays: 30, transcriptDays: 0, recordDays: 0 } });
    handler = createProcessorHandler(
      { store, api: guarded.api(api), publisher: bus, config: { alerts: THRESHOLDS, maxReceiveCount: 5, redactFields: [] }, sleep: async () => undefined },
      (h) => waitForApiKey(h, { queue, publisher: bus, setting: 'the secret arn:aws:secretsmanager:eu-west-1:123456789012:secret:key-AbC123', onWaiting: () => waiting++ }),
    );
  });
  afterEach(() => table.drop());

  it('re-queues the message with a delay and consumes it, even on its last delivery: no DLQ, no dead-letter alert', async () => {
    const record = sqsRecord(ended('c-1'), 5);
    const res = await handler({ Records: [record] });

    expect(res.batchItemFailures).toEqual([]); // consumed: the copy waits instead
    expect(sent).toEqual([{ body: record.body, receivedAt: record.messageAttributes.receivedAt!.stringValue, delaySeconds: API_KEY_WAIT_SECONDS }]);
    expect(calls).toBe(0); // the placeholder is never sent to ThreeTone
    expect(waiting).toBe(1);
    const alerts = bus.ofType(DetailType.PlatformAlert);
    expect(alerts.map((a) => a.detail.alert_type)).toEqual(['threetone_api_key_missing']);
    expect(alerts[0]!.detail.message).toContain('arn:aws:secretsmanager:eu-west-1:123456789012:secret:key-AbC123');
    expect(JSON.stringify(alerts[0])).not.toContain(THREETONE_API_KEY_PLACEHOLDER);
  });

  it('raises the alert once, and counts every waiting message', async () => {
    await handler({ Records: [sqsRecord(ended('c-1'))] });
    await handler({ Records: [sqsRecord(ended('c-1')), sqsRecord(ended('c-1'))] });
    expect(sent).toHaveLength(3);
    expect(waiting).toBe(3);
    expect(bus.ofType(DetailType.PlatformAlert)).toHaveLength(1);
  });

  it('a key ThreeTone refuses (401) waits too, and is not sent again until the secret changes', async () => {
    key = 'revoked-key';
    await handler({ Records: [sqsRecord(ended('c-1'))] });
    expect(calls).toBe(1);
    expect(sent).toHaveLength(1);
    await handler({ Records: [sqsRecord(ended('c-1'))] });
    expect(calls).toBe(1); // known refused: no call
    expect(sent).toHaveLength(2);

    key = GOOD_KEY;
    const res = await handler({ Records: [sqsRecord(sent[1]!.body)] });
    expect(res.batchItemFailures).toEqual([]);
    expect(sent).toHaveLength(2);
    expect(bus.ofType(DetailType.ConversationCompleted)).toHaveLength(1);
  });

  it('other failures still fail the record (and dead-letter as before)', async () => {
    key = GOOD_KEY;
    const record = sqsRecord('not json', 5);
    // Reported as a record failure, not a failed invocation (which the ProcessorErrors alarm counts).
    const res = await handler({ Records: [record] });
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: record.messageId }]);
    expect(sent).toEqual([]);
    expect(bus.ofType(DetailType.PlatformAlert).map((a) => a.detail.alert_type)).toEqual(['dead_lettered']);
  });

  it('recognises an empty key and the placeholder without calling anything', async () => {
    for (const k of ['', '  ', THREETONE_API_KEY_PLACEHOLDER]) {
      await expect(guardApiKey(async () => k).apiKey()).rejects.toBeInstanceOf(ApiKeyNotSetError);
    }
    await expect(guardApiKey(async () => GOOD_KEY).apiKey()).resolves.toBe(GOOD_KEY);
  });
});
