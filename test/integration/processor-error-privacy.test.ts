/**
 * Class 8 of "a 202 is a promise": errors, logs and alerts carry codes and ids, never payload values.
 * A store failure whose message quotes a payload value (as the DynamoDB marshaller quoted a phone
 * number it could not represent) must not reach the log lines nor the dead-letter Platform Alert.
 */
import type { SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoDbConversationStore } from '#adapters/dynamodb-conversation-store.js';
import { DetailType } from '#core/bus-events.js';
import { createProcessorHandler } from '#functions/processor/processor.js';
import type { ConversationStore } from '#functions/ports.js';
import type { Logger } from '#functions/shared/logger.js';
import { errorFields } from '#functions/shared/logger.js';
import { createTestTable, type TestTable } from '#test/helpers/dynamodb.js';
import { FakeThreeTone, RecordingBus, sqsRecord, THRESHOLDS } from '#test/helpers/processor-harness.js';

const PHONE = '987654321098765432';

/** A logger that keeps every line it is given, children included. */
function recordingLogger(lines: string[]): Logger {
  const log = {
    appendKeys: (keys: unknown) => void lines.push(JSON.stringify(keys)),
    createChild: () => log,
    debug: (...args: unknown[]) => void lines.push(JSON.stringify(args)),
    info: (...args: unknown[]) => void lines.push(JSON.stringify(args)),
    warn: (...args: unknown[]) => void lines.push(JSON.stringify(args)),
    error: (...args: unknown[]) => void lines.push(JSON.stringify(args)),
  };
  return log as unknown as Logger;
}

describe('no payload values in errors, logs or alerts', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable();
  });
  afterAll(() => table.drop());

  it('a failure quoting a payload value is logged and alerted by name only', async () => {
    const real = createDynamoDbConversationStore(table.doc, table.tableName, { retention: { rawEventDays: 30, transcriptDays: 0, recordDays: 0 } });
    const store: ConversationStore = {
      ...real,
      async insertEvent() {
        throw new Error(`Number ${PHONE} is greater than Number.MAX_SAFE_INTEGER`);
      },
    };
    const bus = new RecordingBus();
    const lines: string[] = [];
    const handler = createProcessorHandler({
      store,
      api: new FakeThreeTone(),
      publisher: bus,
      config: { alerts: THRESHOLDS, maxReceiveCount: 3, redactFields: ['phone_number'] },
      logger: recordingLogger(lines),
      sleep: async () => undefined,
    });
    const body = `{"event":"conversation_started","timestamp":"2026-11-20T10:00:00Z","data":{"conversation_id":"priv-1","phone_number":${PHONE}}}`;

    const event: SQSEvent = { Records: [sqsRecord(body, 3)] };
    const out = await handler(event);

    expect(out.batchItemFailures).toHaveLength(1);
    const alert = bus.ofType(DetailType.PlatformAlert)[0]!;
    expect(alert.detail).toMatchObject({ alert_type: 'dead_lettered', source: { conversation_id: 'priv-1', receive_count: 3 } });
    expect(String(alert.detail.message)).toContain('Error');
    expect(JSON.stringify(alert.detail)).not.toContain(PHONE);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('\n')).not.toContain(PHONE);
    expect(lines.join('\n')).toContain('priv-1');
  });

  it("keeps the messages this service writes (codes and ids), and withholds everyone else's", () => {
    const own = new Error('ThreeTone has no details for conversation c-1 yet');
    own.name = 'DetailsNotFoundError';
    expect(errorFields(own)).toEqual({ error: 'DetailsNotFoundError', reason: own.message });
    const foreign = new TypeError(`cannot read ${PHONE}`);
    expect(errorFields(foreign)).toEqual({ error: 'TypeError', reason: 'message withheld' });
    expect(errorFields(PHONE)).toEqual({ error: 'Error', reason: 'non-error thrown' });
  });
});
