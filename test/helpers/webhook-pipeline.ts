/**
 * The accept-then-process path of one webhook, end to end through the real code: the ingest
 * handler (as API Gateway calls it, body base64-encoded so every byte arrives as sent), then the
 * processor handler on DynamoDB Local (processor harness), with a ThreeTone stand-in that knows
 * each conversation from its accepted webhooks, as the real service does.
 */
import type { SQSEvent } from 'aws-lambda';
import { createDynamoDbQueries } from '#adapters/dynamodb-queries.js';
import { asId } from '#core/envelope.js';
import { parseJson } from '#core/json-text.js';
import { signBody } from '#core/signature.js';
import { createIngestHandler } from '#functions/ingest/ingest.js';
import type { ConversationQueries } from '#functions/ports.js';
import { createQueryHandler } from '#functions/query/query.js';
import { apiGatewayEvent } from './api-gateway.js';
import { createHarness, FakeThreeTone, type Harness, sqsRecord } from './processor-harness.js';

export const SECRET = 'webhook-contract-secret';

/** ThreeTone's REST API answering, for every conversation it was told about, the latest webhook `data` (plain JSON). */
export class MirroringThreeTone extends FakeThreeTone {
  observe(text: string) {
    // ids as ThreeTone knows them (exact digits), the rest as its REST API answers it (plain JSON)
    const id = asId((parseJson(text) as { data?: Record<string, unknown> }).data?.conversation_id);
    const { data } = JSON.parse(text) as { data?: Record<string, unknown> };
    if (id !== null) this.details.set(id, { ...data, conversation_id: id });
  }
}

export interface Outcome {
  status: number;
  /** The JSON error code of a refusal. */
  code?: string;
  message?: string;
  /** What ingest queued (202 only). */
  queued?: string;
  /** Batch item failures of the processor's first delivery (202 only). */
  failures?: number;
}

export interface WebhookPipeline {
  readonly harness: Harness;
  readonly api: MirroringThreeTone;
  readonly queries: ConversationQueries;
  /** Signs `bytes`, posts them to ingest, and on a 202 delivers the queued message to the processor once. */
  send(bytes: Buffer): Promise<Outcome>;
  /** A query API request (e.g. `GET /events/{key}`). */
  get(path: string): Promise<{ status: number; body: string }>;
  close(): Promise<void>;
}

export async function createWebhookPipeline(opts: { now?: number } = {}): Promise<WebhookPipeline> {
  const now = opts.now ?? Date.now();
  const api = new MirroringThreeTone();
  const harness = await createHarness({ api });
  const queued: string[] = [];
  const ingest = createIngestHandler({
    queue: { send: async (m) => void queued.push(m.body) },
    secrets: { get: async () => [SECRET] },
    config: { signature: { header: 'x-threetone-signature', prefix: 'sha256=' }, replayWindowSeconds: 86_400 },
    now: () => now,
  });
  const queries = createDynamoDbQueries(harness.table.doc, harness.table.tableName);
  const query = createQueryHandler({ queries, config: { tableName: harness.table.tableName, apiKey: undefined } });

  return {
    harness,
    api,
    queries,
    async send(bytes) {
      queued.length = 0;
      const res = await ingest(
        apiGatewayEvent('POST', '/webhooks/threetone', {
          headers: { 'x-threetone-signature': signBody(bytes, SECRET) },
          body: bytes.toString('base64'),
          isBase64Encoded: true,
        }),
      );
      const status = res.statusCode ?? 0;
      if (status !== 202) {
        const { error } = JSON.parse(String(res.body)) as { error: { code: string; message: string } };
        return { status, code: error.code, message: error.message, ...(queued.length ? { queued: queued[0] } : {}) };
      }
      const text = queued[0]!;
      api.observe(text);
      const event: SQSEvent = { Records: [sqsRecord(text, 1)] };
      const out = await harness.handler(event);
      return { status, queued: text, failures: out.batchItemFailures.length };
    },
    async get(path) {
      const res = await query(apiGatewayEvent('GET', path));
      return { status: res.statusCode ?? 0, body: String(res.body) };
    },
    close: () => harness.close(),
  };
}
