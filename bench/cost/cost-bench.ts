/**
 * The cost benchmark (issue 10): typical conversations through the real code — the ingest handler,
 * the processor handler in SQS batches, the enricher against the ThreeTone simulator over HTTP, the
 * table's change-stream publisher — on DynamoDB Local with `ReturnConsumedCapacity` on every call.
 * It counts what AWS bills (requests, capacity units, events, invocations with their measured handler
 * time, log bytes) and prices them with bench/cost/prices.ts; and it tabulates write units per
 * partition key (table and each index), multiplied out at 200 conversations/s: system-wide (many
 * agents) and for a single agent.
 *
 * A typical conversation (issue 10's): call_started, conversation_started, conversation_ended,
 * call_ended (each carrying the conversation id), then ThreeTone's details with a 30-turn transcript.
 * With `audio`, its recording is archived too (the simulator's 2-second WAV), as AUDIO_ARCHIVE does.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { SQSEvent } from 'aws-lambda';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDynamoDbConversationStore } from '#adapters/dynamodb-conversation-store.js';
import { createDynamoDbRequestBudget } from '#adapters/dynamodb-request-budget.js';
import { createThreeToneHttpClient } from '#adapters/threetone-http.js';
import { TABLE } from '#adapters/table-schema.js';
import type { BusEvent } from '#core/bus-events.js';
import { signBody } from '#core/signature.js';
import { loadIngestConfig, loadProcessorConfig, loadThreeToneClientConfig } from '#functions/config.js';
import { createEnricher } from '#functions/enricher/enricher.js';
import { createIngestHandler } from '#functions/ingest/ingest.js';
import { createProcessor, createProcessorHandler } from '#functions/processor/processor.js';
import type { AudioArchive, EventPublisher } from '#functions/ports.js';
import { createFileAudioArchive } from '#local/file-audio-archive.js';
import { ensureTable, localDynamoDbClient, startDynamoDbLocal } from '#local/dynamodb-local.js';
import { createStreamPump } from '#local/stream-pump.js';
import { createOutboxPublisher, outboxOf } from '#functions/outbox-publisher/outbox-publisher.js';
import { startThreeToneSimulator } from '#local/threetone-simulator.js';
import { conversationEvents, createRng } from '#local/traffic.js';
import { type IndexShape, meterDynamoDb } from './capacity-meter.js';
import { LAMBDA_PLATFORM_LOG_BYTES, LOG_EVENT_OVERHEAD_BYTES, PRICES } from './prices.js';
import { ACCESS_LOG_FIELDS } from '#lib/constructs/pipeline-api.js';
import { OUTBOX_BATCH_SIZE } from '#lib/constructs/outbox-publisher.js';
import { SystemLogLevel } from 'aws-cdk-lib/aws-lambda';
import { SYSTEM_LOG_LEVEL } from '#lib/constructs/node-function.js';

export interface CostOptions {
  /** Conversations per scenario (after a warm-up). */
  conversations: number;
  /** Messages per processor invocation (the event source's batch size). */
  batchSize: number;
  /** Lambda memory of each function, MB. */
  memoryMb: number;
  /** Conversations per second the key-heat table multiplies out to. */
  rate: number;
  /** AUDIO_ARCHIVE: each conversation's recording is archived (S3 priced). */
  audio: boolean;
}

/** Records per invocation of the outbox publisher: its event source's batch size, full at production rates. */
const STREAM_BATCH = OUTBOX_BATCH_SIZE;

/**
 * The access log line the HTTP API writes for one webhook (lib/constructs/pipeline-api.ts), with
 * typical values; API Gateway writes `-` for an empty one (no caller, no error on a 202).
 */
const WEBHOOK_CONTEXT: Record<string, string> = {
  '$context.requestId': 'Q1w2E3r4T5y6U7i=',
  '$context.requestTime': '26/Nov/2026:07:10:00 +0000',
  '$context.routeKey': 'POST /webhooks/threetone',
  '$context.status': '202',
  '$context.responseLatency': '38',
  '$context.integrationLatency': '36',
  '$context.responseLength': '64',
  '$context.identity.sourceIp': '203.0.113.10',
};
const WEBHOOK_ACCESS_LOG_BYTES =
  Buffer.byteLength(JSON.stringify(Object.fromEntries(Object.entries(ACCESS_LOG_FIELDS).map(([k, v]) => [k, WEBHOOK_CONTEXT[v] ?? '-'])))) +
  LOG_EVENT_OVERHEAD_BYTES;

export interface ServiceLine {
  service: string;
  what: string;
  perConversation: number;
  dollarsPerMillion: number;
}

export interface HeatLine {
  where: string;
  key: string;
  wcuPerConversation: number;
  wcuPerSecond: number;
}

export interface CostFigures {
  options: CostOptions;
  prices: typeof PRICES;
  lines: ServiceLine[];
  total: number;
  /** The total with DynamoDB Local's reported write units instead of AWS's rules. */
  totalAsReported: number;
  /** What DynamoDB Local reported against what the meter estimated (write units per conversation). */
  wcuReported: { table: number; indexes: Record<string, number> };
  wcuEstimated: { table: number; indexes: Record<string, number> };
  rruPerConversation: number;
  dynamoCalls: Record<string, number>;
  events: Record<string, number>;
  handlerMs: Record<string, number>;
  heat: { manyAgents: HeatLine[]; oneAgent: HeatLine[] };
  threeToneRequests: number;
  /** Estimated table write units per conversation by item kind and operation. */
  tableItems: { item: string; wcu: number }[];
}

/** Issue 10's typical conversation, and the same with its recording archived. */
export interface CostRun {
  typical: CostFigures;
  withAudio: CostFigures;
}

const SECRET = 'bench-secret';
const GB = 2 ** 30;

/** Keeps one counter per key. */
const tally = () => {
  const m: Record<string, number> = {};
  return { m, add: (k: string, n = 1) => (m[k] = (m[k] ?? 0) + n) };
};

export async function costBench(opts: CostOptions, indexes: readonly IndexShape[]): Promise<CostFigures> {
  const ddb = await startDynamoDbLocal();
  const sim = await startThreeToneSimulator({ rateLimitPerMinute: 0, seed: 7 });
  const logBytes = { n: 0 };
  let audioDir: string | undefined;
  let stopPump: (() => Promise<void>) | undefined;
  const origWrite = process.stdout.write.bind(process.stdout);
  try {
    const client = localDynamoDbClient(ddb.endpoint);
    const tableName = `cost-${Date.now()}`;
    await ensureTable(client, tableName);
    const meter = meterDynamoDb(client, ddb.endpoint, indexes);
    const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
    const env = { TABLE_NAME: tableName, THREETONE_API_URL: sim.url, AUDIO_ARCHIVE: String(opts.audio) };
    const config = loadProcessorConfig(env);
    const store = createDynamoDbConversationStore(doc, tableName, { retention: config.retention });

    const events = tally();
    const eventChunks = { n: 0 };
    const publisher: EventPublisher = {
      async publish(list: readonly BusEvent[]) {
        for (const e of list) {
          events.add(e.detailType);
          eventChunks.n += Math.max(1, Math.ceil(Buffer.byteLength(JSON.stringify(e.detail)) / 65_536));
        }
        return { failed: [] };
      },
    };
    const queued: { body: string; receivedAt: string }[] = [];
    const sqs = { sends: 0, receives: 0, deletes: 0 };
    const ingest = createIngestHandler({
      queue: {
        async send(m) {
          sqs.sends += Math.max(1, Math.ceil(Buffer.byteLength(m.body) / 65_536));
          queued.push(m);
        },
      },
      secrets: { get: async () => [SECRET] },
      config: loadIngestConfig({}),
    });
    // The table's change stream, read as Lambda's event source would hand it to the outbox publisher.
    const stream = { records: 0, ms: 0 };
    const outboxHandler = createOutboxPublisher({ publisher });
    const pump = await createStreamPump({
      client,
      streams: { endpoint: ddb.endpoint },
      tableName,
      handler: async (event) => {
        // Lambda's filter lets through only changes that carry events; the handler's time is measured.
        stream.records += event.Records.filter((r) => outboxOf(r).length > 0).length;
        const t = performance.now();
        try {
          return await outboxHandler(event);
        } finally {
          stream.ms += performance.now() - t;
        }
      },
    });
    stopPump = () => pump.stop();
    const processor = createProcessor({ store, publisher, config, callerHashKey: async () => 'bench-caller-key' });
    const handler = createProcessorHandler({ store, publisher, config }, processor);
    // Audio archiving as `npm start` does it (files), counting what S3 would bill: a recording under
    // 5 MiB is one PutObject; above, one request per 5 MiB part plus create and complete.
    audioDir = await mkdtemp(join(os.tmpdir(), 'threetone-cost-audio-'));
    const files = await createFileAudioArchive(audioDir);
    const s3 = { puts: 0, bytes: 0 };
    const archive: AudioArchive = {
      async store(id, body, contentType) {
        const stored = await files.store(id, body, contentType);
        const parts = Math.ceil(stored.sizeBytes / (5 * 2 ** 20));
        s3.puts += parts <= 1 ? 1 : parts + 2;
        s3.bytes += stored.sizeBytes;
        return stored;
      },
      delete: (id) => files.delete(id),
    };
    const threeTone = createThreeToneHttpClient({ ...loadThreeToneClientConfig(env), maxRetries: 0 }, { apiKey: async () => 'bench' });
    const enricher = createEnricher({
      store,
      api: threeTone,
      ...(opts.audio && { audio: { api: threeTone, archive } }),
      budget: createDynamoDbRequestBudget(doc, tableName, { perMinute: 1_000_000, perHour: 1_000_000 }),
      rebuild: processor.rebuildConversation,
      config: { giveUpHours: config.enrichment.giveUpHours },
    });

    const handlerMs = tally();
    const invocations = tally();
    const timed = async <T>(fn: string, f: () => Promise<T>): Promise<T> => {
      const t = performance.now();
      try {
        return await f();
      } finally {
        handlerMs.add(fn, performance.now() - t);
        invocations.add(fn);
      }
    };

    const rng = createRng(42);
    let seq = 0;
    /** Drives `n` conversations of the given agents through ingest, processor (batches) and enricher. */
    async function run(n: number, agentOf: (i: number) => string) {
      const now = Date.now();
      const all: { at: number; body: string }[] = [];
      for (let i = 0; i < n; i++) {
        const id = `conv_cost_${++seq}`;
        const envs = conversationEvents({
          conversationId: id,
          agentId: agentOf(i),
          start: new Date(now - 600_000 + i * 10),
          durationSeconds: 240,
          withCall: true,
          escalate: false,
          direction: 'inbound',
          rng,
        });
        for (const e of envs) sim.observe({ event: e.event, timestamp: String(e.timestamp), data: { ...e.data, turn_count: 30 } });
        all.push(...envs.map((e) => ({ at: Date.parse(String(e.timestamp)), body: JSON.stringify(e) })));
      }
      // In time order, as ThreeTone sends them: a conversation's webhooks minutes apart, among others'.
      const bodies = all.sort((a, b) => a.at - b.at).map((x) => x.body);
      for (const body of bodies) {
        const res = await timed('ingest', () =>
          ingest({
            body,
            isBase64Encoded: false,
            headers: { 'content-type': 'application/json', 'x-threetone-signature': signBody(body, SECRET, 'sha256=') },
            requestContext: { http: { method: 'POST', path: '/webhooks/threetone' }, timeEpoch: Date.now() },
            rawPath: '/webhooks/threetone',
          } as never),
        );
        if (res.statusCode !== 202) throw new Error(`ingest answered ${res.statusCode}`);
      }
      // The event source: batches of `batchSize` in arrival order (a conversation's webhooks interleave with others').
      while (queued.length) {
        const batch = queued.splice(0, opts.batchSize);
        sqs.receives++;
        sqs.deletes++;
        const event: SQSEvent = {
          Records: batch.map((m, i) => ({
            messageId: `m${seq}-${i}-${Math.random()}`,
            receiptHandle: 'r',
            body: m.body,
            attributes: { ApproximateReceiveCount: '1', SentTimestamp: String(Date.now()), SenderId: 'b', ApproximateFirstReceiveTimestamp: String(Date.now()) },
            messageAttributes: { receivedAt: { stringValue: m.receivedAt, dataType: 'String' } },
            md5OfBody: '',
            eventSource: 'aws:sqs',
            eventSourceARN: 'arn:aws:sqs:local:0:q',
            awsRegion: 'local',
          })),
        };
        const out = await timed('processor', () => handler(event));
        if (out.batchItemFailures.length) throw new Error('a processor batch failed');
        await pump.drain();
      }
      // The enricher: one run takes what is due (on AWS a scheduled run polls; its idle time is a fixed cost).
      for (let round = 0; round < 20; round++) {
        const r = await timed('enricher', () => enricher.drain({ deadlineMs: 60_000, maxItems: n }));
        await pump.drain();
        if (r.enriched + r.failed + r.audioStored === 0) break;
      }
    }

    const silence = () => {
      process.stdout.write = ((chunk: string | Uint8Array) => {
        const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
        logBytes.n += Buffer.byteLength(text);
        // CloudWatch Logs bills each event's bytes plus 26 bytes of metadata.
        logBytes.n += (text.match(/\n/g)?.length ?? 0) * LOG_EVENT_OVERHEAD_BYTES;
        return true;
      }) as typeof process.stdout.write;
    };
    silence();

    // Warm-up (JIT, connections), not counted.
    await run(5, () => 'agent_warm');
    const resetAll = () => {
      meter.reset();
      for (const t of [events, handlerMs, invocations]) for (const k of Object.keys(t.m)) delete t.m[k];
      eventChunks.n = 0;
      stream.records = stream.ms = 0;
      sqs.sends = sqs.receives = sqs.deletes = 0;
      s3.puts = s3.bytes = 0;
      logBytes.n = 0;
    };
    const simBefore = () => sim.requests.filter((r) => r.path.startsWith('/v1/')).length;

    // Scenario 1: many agents (the cost figures and the system-wide heat).
    resetAll();
    const s0 = simBefore();
    const n = opts.conversations;
    await run(n, (i) => `agent_${String(i % 50).padStart(2, '0')}`);
    const threeToneRequests = (simBefore() - s0) / n;
    const per = (x: number) => x / n;
    const reported = { table: 0, indexes: {} as Record<string, number> };
    let rru = 0;
    const calls = tally();
    for (const c of meter.calls) {
      calls.add(c.command.replace(/Command$/, ''));
      if (c.kind === 'read') {
        rru += c.tableUnits + Object.values(c.indexUnits).reduce((a, b) => a + b, 0);
        continue;
      }
      reported.table += c.tableUnits;
      for (const [ix, u] of Object.entries(c.indexUnits)) reported.indexes[ix] = (reported.indexes[ix] ?? 0) + u;
    }
    const estimated = { table: 0, indexes: {} as Record<string, number> };
    for (const h of meter.heat) {
      if (h.where === 'table') estimated.table += h.wcu;
      else estimated.indexes[h.where] = (estimated.indexes[h.where] ?? 0) + h.wcu;
    }
    const heatMany = heatTable(meter.heat, n, opts.rate);
    const items = new Map<string, number>();
    for (const h of meter.heat) {
      if (h.where !== 'table') continue;
      const cls = `${classOf(h.pk)} ${classOf(h.sk ?? '')}`;
      items.set(cls, (items.get(cls) ?? 0) + h.wcu / n);
    }
    const tableItems = [...items.entries()].sort((a, b) => b[1] - a[1]).map(([item, wcu]) => ({ item, wcu }));
    const wru = per(reported.table + Object.values(reported.indexes).reduce((a, b) => a + b, 0));
    const eventsPer = per(eventChunks.n);
    const logsPer = per(logBytes.n);
    const inv = (fn: string) => per(invocations.m[fn] ?? 0);
    const sec = (fn: string) => per((handlerMs.m[fn] ?? 0) / 1000);
    const gbs = (fn: string) => sec(fn) * (opts.memoryMb / 1024);
    const lines: ServiceLine[] = [];
    const line = (service: string, what: string, perConversation: number, price: number) =>
      lines.push({ service, what, perConversation, dollarsPerMillion: perConversation * price * 1e6 });
    line('API Gateway (HTTP API)', 'webhook requests', per(invocations.m.ingest ?? 0), PRICES.httpApiRequest);
    line('SQS', 'SendMessage', per(sqs.sends), PRICES.sqsRequest);
    line('SQS', 'ReceiveMessage + DeleteMessageBatch (by the event source, per batch)', per(sqs.receives + sqs.deletes), PRICES.sqsRequest);
    for (const fn of ['ingest', 'processor', 'enricher']) {
      line('Lambda', `${fn}: invocations`, inv(fn), PRICES.lambdaRequest);
      line('Lambda', `${fn}: GB-s (${opts.memoryMb} MB × measured handler time)`, gbs(fn), PRICES.lambdaGbSecondArm);
    }
    const streamInvocations = per(stream.records) / STREAM_BATCH;
    line('Lambda', `outbox publisher: invocations (${num2(per(stream.records))} changes with events per conversation, ${STREAM_BATCH} a batch)`, streamInvocations, PRICES.lambdaRequest);
    line('Lambda', `outbox publisher: GB-s (${opts.memoryMb} MB × measured handler time)`, per(stream.ms / 1000) * (opts.memoryMb / 1024), PRICES.lambdaGbSecondArm);
    line('DynamoDB Streams', 'reads by the Lambda event source (free)', 0, 0);
    const wruRules = per(estimated.table + Object.values(estimated.indexes).reduce((a, b) => a + b, 0));
    line('DynamoDB', 'write request units (table + indexes, by AWS\'s rules)', wruRules, PRICES.dynamoWru);
    line('DynamoDB', 'read request units (reads as reported + transactional condition checks)', per(rru + meter.checkReadUnits), PRICES.dynamoRru);
    line('S3', 'audio uploads (PUT requests; a multipart upload: one per 5 MiB part, plus two)', per(s3.puts), PRICES.s3PutRequest);
    line('S3', `audio storage for a month (${Math.round(per(s3.bytes) / 1024)} KiB recordings, AUDIO_RETENTION_DAYS 90: three months each)`, (per(s3.bytes) / GB) * 3, PRICES.s3StorageGbMonth);
    line('EventBridge', `events published (${Object.entries(events.m).map(([k, v]) => `${k} ${+(v / n).toFixed(2)}`).join(', ')})`, eventsPer, PRICES.eventBridgeEvent);
    // Lambda's START/END/REPORT lines, unless the functions' system log level drops them (lib/constructs/node-function.ts).
    const platformLogs = [SystemLogLevel.INFO, SystemLogLevel.DEBUG].includes(SYSTEM_LOG_LEVEL) ? (inv('ingest') + inv('processor') + inv('enricher') + streamInvocations) * LAMBDA_PLATFORM_LOG_BYTES : 0;
    line('CloudWatch Logs', `bytes ingested: function lines at INFO${platformLogs > 0 ? ' + Lambda START/END/REPORT' : ` (Lambda's own lines at ${SYSTEM_LOG_LEVEL}: none)`}`, logsPer + platformLogs, PRICES.logsIngestedGb / GB);
    line('CloudWatch Logs', 'bytes ingested: the HTTP API\'s access log line of each webhook', per(invocations.m.ingest ?? 0) * WEBHOOK_ACCESS_LOG_BYTES, PRICES.logsIngestedGb / GB);
    const total = lines.reduce((s, l) => s + l.dollarsPerMillion, 0);
    const reportedTotal = wru * PRICES.dynamoWru * 1e6;
    const totalAsReported = total - lines.find((l) => l.service === 'DynamoDB' && l.what.startsWith('write'))!.dollarsPerMillion + reportedTotal;

    // Scenario 2: one agent (its keys' heat).
    resetAll();
    await run(n, () => 'agent_busy');
    const heatOne = heatTable(meter.heat, n, opts.rate);

    return {
      options: opts,
      prices: PRICES,
      lines,
      total,
      totalAsReported,
      wcuReported: { table: per(reported.table), indexes: Object.fromEntries(Object.entries(reported.indexes).map(([k, v]) => [k, per(v)])) },
      wcuEstimated: { table: per(estimated.table), indexes: Object.fromEntries(Object.entries(estimated.indexes).map(([k, v]) => [k, per(v)])) },
      rruPerConversation: per(rru),
      dynamoCalls: Object.fromEntries(Object.entries(calls.m).map(([k, v]) => [k, per(v)])),
      events: Object.fromEntries(Object.entries(events.m).map(([k, v]) => [k, per(v)])),
      handlerMs: Object.fromEntries(Object.entries(handlerMs.m).map(([k, v]) => [k, per(v)])),
      heat: { manyAgents: heatMany, oneAgent: heatOne },
      tableItems,
      threeToneRequests,
    };
  } finally {
    process.stdout.write = origWrite;
    if (audioDir) await rm(audioDir, { recursive: true, force: true }).catch(() => undefined);
    await stopPump?.();
    await sim.close();
    await ddb.stop();
  }
}

/**
 * Write units per partition key class: keys touched by one conversation only (`CONV#…`, `EVT#…`)
 * are one class whose hottest member is reported; keys shared across conversations (an agent, a
 * time index partition) carry their measured total, so at `rate` conversations/s they take
 * `rate × their share`.
 */
function heatTable(heat: { where: string; pk: string; wcu: number }[], n: number, rate: number): HeatLine[] {
  const byKey = new Map<string, { where: string; pk: string; wcu: number }>();
  for (const h of heat) {
    const k = `${h.where}\u0000${h.pk}`;
    const e = byKey.get(k) ?? { where: h.where, pk: h.pk, wcu: 0 };
    e.wcu += h.wcu;
    byKey.set(k, e);
  }
  // A key class: the pk with ids replaced, so per-conversation keys group together.
  const classes = new Map<string, { where: string; key: string; max: number; sum: number; members: number }>();
  for (const e of byKey.values()) {
    const cls = classOf(e.pk);
    const k = `${e.where}\u0000${cls}`;
    const c = classes.get(k) ?? { where: e.where, key: cls, max: 0, sum: 0, members: 0 };
    c.max = Math.max(c.max, e.wcu);
    c.sum += e.wcu;
    c.members++;
    classes.set(k, c);
  }
  const lines: HeatLine[] = [];
  for (const c of classes.values()) {
    // A class with one member per conversation (or more) is per-conversation: its hottest key sees
    // one conversation's writes, however many conversations run. Otherwise the key is shared.
    const perConversationKeys = c.members >= n;
    const wcuPerConversation = perConversationKeys ? c.max : c.max / n;
    lines.push({ where: c.where, key: c.key, wcuPerConversation, wcuPerSecond: perConversationKeys ? c.max : (c.max / n) * rate });
  }
  return lines.sort((a, b) => b.wcuPerSecond - a.wcuPerSecond);
}

/** A key with its ids replaced, so keys of one kind group together. */
function classOf(key: string): string {
  return key
    .replace(/conv_cost_\d+/g, '<conversation>')
    .replace(/call_[0-9a-f]{16}/g, '<call>')
    .replace(/#[0-9a-f]{32,64}/g, '#<hash>')
    .replace(/OUTBOX#[0-9a-f-]{36}/g, 'OUTBOX#<event-id>')
    .replace(/AGENT#agent_\d+/g, 'AGENT#<agent>')
    .replace(/(MINUTE|HOUR)#\d+/, '$1#<n>')
    .replace(/DAY#[0-9-]+/, 'DAY#<date>');
}

export { TABLE };

const num2 = (x: number) => +x.toFixed(2);
