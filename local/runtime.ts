/**
 * The local runtime: the deployed handler factories wired to local stand-ins for AWS.
 *
 *   HTTP server (API Gateway) → ingest → local queue (SQS: durable, at-least-once, DLQ)
 *   → processor → DynamoDB Local (state under DATA_DIR), or the existing DynamoDB at
 *   DYNAMODB_ENDPOINT, + local bus (DATA_DIR/events.jsonl)
 *   ThreeTone: THREETONE_API_URL, or a built-in simulator that mirrors the accepted webhooks.
 *   Recordings (AUDIO_ARCHIVE): DATA_DIR/audio/, served with ranges by the local server.
 *
 * `startLocalRuntime` is what `npm start` runs; tests start it too (on port 0, in a temp dir).
 */
import { appendFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDynamoDbConversationStore } from '#adapters/dynamodb-conversation-store.js';
import { createDynamoDbQueries, createDynamoDbStoredWebhooks } from '#adapters/dynamodb-queries.js';
import { createDynamoDbRequestBudget } from '#adapters/dynamodb-request-budget.js';
import { createDynamoDbErasureStore } from '#adapters/dynamodb-erasure-store.js';
import { envSecretSource } from '#adapters/secret-source.js';
import { createThreeToneHttpClient } from '#adapters/threetone-http.js';
import { parseEnvelope } from '#core/envelope.js';
import {
  DEV_CALLER_HASH_KEY,
  loadErasureConfig,
  loadIngestConfig,
  loadLocalDynamoDbConfig,
  loadProcessorConfig,
  loadQueryConfig,
  loadReconcilerConfig,
  loadThreeToneClientConfig,
  numEnv,
} from '#functions/config.js';
import { createErasure, createErasureHandler } from '#functions/erasure/erasure.js';
import { createIngestHandler } from '#functions/ingest/ingest.js';
import type { WebhookQueue } from '#functions/ports.js';
import { apiKeyAlert, guardApiKey } from '#functions/enricher/api-key-wait.js';
import { createEnricher } from '#functions/enricher/enricher.js';
import { createProcessor, createProcessorHandler } from '#functions/processor/processor.js';
import { createQueryHandler } from '#functions/query/query.js';
import { createReconciler } from '#functions/reconciler/reconciler.js';
import { createOutboxPublisher } from '#functions/outbox-publisher/outbox-publisher.js';
import { createReplay } from '#functions/replay/replay.js';
import { logger } from '#functions/shared/logger.js';
import { ensureTable, externalDynamoDbClient, localDynamoDbClient, startDynamoDbLocal } from './dynamodb-local.js';
import { createStreamPump } from './stream-pump.js';
import { createAdminHandler } from './admin.js';
import { createLocalAudioDownload } from './audio-download.js';
import { createFileAudioArchive } from './file-audio-archive.js';
import { startHttpServer } from './http-server.js';
import { createLocalBus } from './local-bus.js';
import { livePageFile } from './live-page.js';
import { createLiveStream, type LiveStream } from './live-stream.js';
import { createLocalQueue, type LocalQueue } from './local-queue.js';
import { type SimulatorEnvelope, startThreeToneSimulator, type ThreeToneSimulator } from './threetone-simulator.js';

/** Printed at start; use your own with THREETONE_WEBHOOK_SECRET. Never use it outside a laptop. */
export const DEV_WEBHOOK_SECRET = 'local-dev-webhook-secret';
export const DEV_API_KEY = 'local-dev-api-key';

/** Which DynamoDB a run uses: where (host and port only, never credentials) and which table. */
export interface DynamoDbInUse {
  /** True for the DynamoDB Local this run started (state under DATA_DIR/dynamodb). */
  readonly embedded: boolean;
  /** e.g. `127.0.0.1:8000`, `dynamodb.eu-west-1.amazonaws.com`. */
  readonly host: string;
  readonly table: string;
}

export interface LocalRuntime {
  readonly url: string;
  readonly dataDir: string;
  readonly eventsFile: string;
  readonly webhookSecret: string;
  readonly threeToneUrl: string;
  readonly simulator: ThreeToneSimulator | null;
  readonly queue: LocalQueue;
  readonly dynamoDb: DynamoDbInUse;
  /** `ws://…/live`: every event appended to `eventsFile`, as it is appended. */
  readonly liveUrl: string;
  readonly live: LiveStream;
  stop(): Promise<void>;
}

type Env = Record<string, string | undefined>;

/**
 * The simulator only knows what it observed: observations are journaled in DATA_DIR so that after
 * a restart it still answers for conversations whose messages are still queued.
 */
async function observingQueue(inner: WebhookQueue, sim: ThreeToneSimulator | null, journal: string): Promise<WebhookQueue> {
  if (!sim) return inner;
  const previous = await readFile(journal, 'utf8').catch(() => '');
  // ThreeTone's REST API answers plain JSON: the simulator reads the webhooks as `JSON.parse` would.
  const observe = (body: string) => {
    const parsed = parseEnvelope(body);
    if (parsed.ok) sim.observe(JSON.parse(body) as SimulatorEnvelope);
    return parsed.ok;
  };
  for (const line of previous.split('\n')) {
    if (!line.trim()) continue;
    try {
      const entry = JSON.parse(line) as unknown;
      if (typeof entry === 'string') observe(entry);
      else sim.observe(entry as SimulatorEnvelope); // a journal written before bodies were kept as text
    } catch {
      // a torn last line after a crash: skip it
    }
  }
  return {
    async send(message) {
      // Journaled as the accepted text itself (a JSON string per line), so nothing is re-serialized.
      if (observe(message.body)) await appendFile(journal, `${JSON.stringify(message.body)}\n`);
      await inner.send(message);
    },
  };
}

/**
 * The DynamoDB of this run, with the pipeline's table in it (created if missing): DynamoDB Local,
 * started here with its state under DATA_DIR, or the existing one at DYNAMODB_ENDPOINT (no Java).
 */
async function connectDynamoDb(
  endpoint: string | undefined,
  table: string,
  dataDir: string,
  env: Env,
  stops: (() => Promise<void>)[],
): Promise<{ client: DynamoDBClient; endpoint: string; dynamoDb: DynamoDbInUse }> {
  if (endpoint === undefined) {
    const ddb = await startDynamoDbLocal({ dbPath: join(dataDir, 'dynamodb') });
    stops.push(() => ddb.stop());
    const client = localDynamoDbClient(ddb.endpoint);
    stops.push(async () => client.destroy());
    await ensureTable(client, table);
    return { client, endpoint: ddb.endpoint, dynamoDb: { embedded: true, host: new URL(ddb.endpoint).host, table } };
  }
  const { client } = await externalDynamoDbClient(endpoint, env);
  stops.push(async () => client.destroy());
  const host = new URL(endpoint).host;
  try {
    await ensureTable(client, table);
  } catch (err) {
    // Named, so the operator sees which setting to check; the SDK's messages carry no secrets.
    throw new Error(`DynamoDB at ${host} (DYNAMODB_ENDPOINT), table ${table} (TABLE_NAME): ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
  }
  return { client, endpoint, dynamoDb: { embedded: false, host, table } };
}

export async function startLocalRuntime(env: Env = process.env): Promise<LocalRuntime> {
  const host = env.HOST?.trim() || '127.0.0.1';
  const port = numEnv(env, 'PORT', 3000, { min: 0, max: 65535, integer: true });
  const dataDir = resolve(env.DATA_DIR?.trim() || '.local');
  await mkdir(dataDir, { recursive: true });
  const webhookSecret = env.THREETONE_WEBHOOK_SECRET?.trim() || DEV_WEBHOOK_SECRET;
  const apiKey = env.THREETONE_API_KEY?.trim() || DEV_API_KEY;
  const visibilityTimeoutMs = numEnv(env, 'LOCAL_VISIBILITY_TIMEOUT_SECONDS', 5, { min: 0 }) * 1000;
  const reconcileEveryMs = numEnv(env, 'RECONCILE_INTERVAL_SECONDS', 300, { min: 0 }) * 1000;
  const enrichEveryMs = numEnv(env, 'LOCAL_ENRICH_INTERVAL_MS', 1000, { min: 10 });
  // A compressed clock for ThreeTone's quota (the budget and the simulator's limits), so an hour of
  // quota passes in a minute (LOCAL_TIME_SCALE=60). Webhook times and enrichment waits stay real:
  // shorten ENRICHMENT_GIVE_UP_HOURS (fractions allowed) to see conversations given up on.
  const timeScale = numEnv(env, 'LOCAL_TIME_SCALE', 1, { min: 1 });
  const origin = Date.now();
  const clock = () => origin + (Date.now() - origin) * timeScale;

  // Validate all configuration before starting anything (fail fast, clear message).
  const ingestConfig = loadIngestConfig(env);
  const dynamoConfig = loadLocalDynamoDbConfig(env);
  const TABLE_NAME = dynamoConfig.tableName;
  const processorConfig = loadProcessorConfig({ ...env, TABLE_NAME });
  // The local queue dead-letters after the same count the processor is told (one setting, as on AWS).
  const { maxReceiveCount } = processorConfig;
  const queryConfig = loadQueryConfig({ ...env, TABLE_NAME });
  const reconcilerConfig = loadReconcilerConfig({ ...env, TABLE_NAME });
  const erasureConfig = loadErasureConfig({ ...env, TABLE_NAME });
  const callerKey = env.CALLER_HASH_KEY?.trim() || DEV_CALLER_HASH_KEY;
  const callerHashKey = async () => callerKey;
  const secrets = envSecretSource(webhookSecret);
  if (env.THREETONE_API_URL?.trim()) loadThreeToneClientConfig(env);

  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  };
  try {
    const { client, endpoint, dynamoDb } = await connectDynamoDb(dynamoConfig.endpoint, TABLE_NAME, dataDir, env, stops);
    const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });

    let simulator: ThreeToneSimulator | null = null;
    let threeToneUrl = env.THREETONE_API_URL?.trim() ?? '';
    if (!threeToneUrl) {
      simulator = await startThreeToneSimulator({
        apiKey,
        seed: numEnv(env, 'SIMULATOR_SEED', 7, { integer: true }),
        // ThreeTone's real limit is 100/min; locally a burst should not stall for minutes (set 100 to feel it).
        rateLimitPerMinute: numEnv(env, 'SIMULATOR_RATE_LIMIT_PER_MINUTE', 100, { min: 0, integer: true }),
        rateLimitPerHour: numEnv(env, 'SIMULATOR_RATE_LIMIT_PER_HOUR', 1000, { min: 0, integer: true }),
        now: clock,
      });
      stops.push(() => simulator!.close());
      threeToneUrl = simulator.url;
    }
    const clientConfig = loadThreeToneClientConfig({ ...env, THREETONE_API_URL: threeToneUrl });
    const key = guardApiKey(async () => apiKey);
    const api = key.api(createThreeToneHttpClient(clientConfig, { apiKey: key.apiKey }));

    const eventsFile = join(dataDir, 'events.jsonl');
    const bus = createLocalBus({ file: eventsFile });
    const live = createLiveStream({ apiKey: queryConfig.apiKey });
    bus.onAppend((events) => live.publish(events));
    const queue = createLocalQueue({ dir: join(dataDir, 'queue'), maxReceiveCount, visibilityTimeoutMs });
    // The table's change stream publishes what commits carry (D30), as the outbox publisher Lambda does.
    const outbox = await createStreamPump({
      client,
      streams: { endpoint },
      tableName: TABLE_NAME,
      handler: createOutboxPublisher({ publisher: bus }),
      checkpointFile: join(dataDir, 'stream-checkpoint.json'),
    });
    outbox.start();
    stops.push(() => outbox.stop());
    const store = createDynamoDbConversationStore(doc, TABLE_NAME, { retention: processorConfig.retention });
    const audioArchive = await createFileAudioArchive(join(dataDir, 'audio'));

    const ingest = createIngestHandler({
      queue: await observingQueue(queue, simulator, join(dataDir, 'simulator-observed.jsonl')),
      secrets,
      config: ingestConfig,
    });
    const processorDeps = { store, publisher: bus, config: processorConfig, callerHashKey };
    const processing = createProcessor(processorDeps);
    const budget = createDynamoDbRequestBudget(doc, TABLE_NAME, { ...processorConfig.enrichment.budget, now: clock });
    // Every request is paid for from the budget: the client itself never retries.
    const enricherClient = createThreeToneHttpClient({ ...clientConfig, maxRetries: 0 }, { apiKey: key.apiKey });
    const enricher = createEnricher({
      store,
      api: key.api(enricherClient),
      ...(processorConfig.audioArchive && { audio: { api: key.audioApi(enricherClient), archive: audioArchive } }),
      budget,
      rebuild: processing.rebuildConversation,
      config: processorConfig.enrichment,
      onApiKeyMissing: apiKeyAlert({ publisher: bus, setting: 'THREETONE_API_KEY' }),
    });
    let backlog = { pending: 0, oldest_age_seconds: 0 };
    let draining: Promise<void> | null = null;
    /** One drain at a time; a kick while one runs is absorbed by it. */
    const drain = () =>
      (draining ??= enricher
        .drain({ deadlineMs: 5_000 })
        .then((r) => {
          backlog = { pending: r.pending, oldest_age_seconds: r.oldestAgeSeconds };
          if (r.enriched + r.audioStored + r.failed > 0) outbox.kick();
        })
        .catch((err: unknown) => logger.warn('enrichment run failed', { error: (err as Error).name }))
        .finally(() => (draining = null)));
    // A kick after each batch, not awaited: the next batch never waits for ThreeTone.
    const processor = createProcessorHandler(
      {
        ...processorDeps,
        afterBatch: async () => {
          outbox.kick();
          void drain();
        },
      },
      processing,
    );
    const enrichTimer = setInterval(() => void drain(), enrichEveryMs);
    enrichTimer.unref();
    stops.push(async () => {
      clearInterval(enrichTimer);
      await draining;
    });
    const queries = createDynamoDbQueries(doc, TABLE_NAME);
    const query = createQueryHandler({ queries, config: queryConfig });
    const erasure = createErasureHandler({
      erasure: createErasure({
        store: createDynamoDbErasureStore(doc, TABLE_NAME, { tombstoneDays: erasureConfig.tombstoneDays }),
        callerHashKey,
        audio: audioArchive,
      }),
      apiKey: erasureConfig.apiKey,
    });

    queue.start((event) => processor(event));
    stops.push(() => queue.stop());

    if (reconcileEveryMs > 0) {
      const reconcile = createReconciler({ api, budget, store, queue, config: reconcilerConfig });
      const timer = setInterval(() => {
        reconcile().catch((err: unknown) => logger.warn('reconciliation failed', { error: (err as Error).name }));
      }, reconcileEveryMs);
      timer.unref();
      stops.push(async () => clearInterval(timer));
    }

    // Replayed bodies go straight to the queue: the simulator already observed them on arrival.
    const replay = createReplay({ webhooks: createDynamoDbStoredWebhooks(doc, TABLE_NAME), queue });
    const admin = createAdminHandler({ redrive: () => queue.redrive(), replay });

    let ready = false;
    const server = await startHttpServer({
      host,
      port,
      ingest,
      query,
      admin,
      erasure,
      isReady: () => ready,
      queryApiKey: queryConfig.apiKey,
      health: () => ({ dynamodb: dynamoDb, enrichment: backlog }),
      upgrade: (req, socket, head) => live.handleUpgrade(req, socket, head),
      download: createLocalAudioDownload({ queries, archive: audioArchive }),
      staticFile: livePageFile,
    });
    stops.push(() => server.close());
    // Runs before server.close (stops run in reverse): WebSocket connections would keep it waiting.
    stops.push(() => live.close());
    ready = true;
    // Lets companion commands (npm run demo/send) find this run and its simulator.
    const infoFile = join(dataDir, 'runtime.json');
    await writeFile(infoFile, JSON.stringify({ url: server.url, liveUrl: `${server.url.replace(/^http/, 'ws')}/live`, threeToneUrl, simulator: simulator !== null, eventsFile, pid: process.pid }, null, 2));
    stops.push(() => rm(infoFile, { force: true }));

    return {
      url: server.url,
      dataDir,
      eventsFile,
      webhookSecret,
      threeToneUrl,
      simulator,
      queue,
      dynamoDb,
      liveUrl: `${server.url.replace(/^http/, 'ws')}/live`,
      live,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

