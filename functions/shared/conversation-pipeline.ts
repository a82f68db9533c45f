/**
 * Wiring shared by the processor's and the enricher's Lambda entry files (both rebuild records with
 * the processor's code), built once per cold start from the function's environment.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDynamoDbConversationStore } from '#adapters/dynamodb-conversation-store.js';
import { createDynamoDbRequestBudget } from '#adapters/dynamodb-request-budget.js';
import { emfEnricherMetrics, emitCount } from '#adapters/emf-metrics.js';
import { createEventBridgePublisher } from '#adapters/eventbridge-publisher.js';
import { callerHashKey, threeToneApiKey } from '#adapters/secret-source.js';
import { createThreeToneHttpClient } from '#adapters/threetone-http.js';
import { type Env, loadProcessorConfig, loadThreeToneClientConfig, requireEnv } from '#functions/config.js';
import { apiKeyAlert, guardApiKey } from '#functions/enricher/api-key-wait.js';
import { createEnricher } from '#functions/enricher/enricher.js';
import { createProcessor, type ProcessorDeps } from '#functions/processor/processor.js';
import type { AudioArchive } from '#functions/ports.js';

/** The processor as deployed: records from webhook facts; it never calls ThreeTone. */
export function deployedProcessor(env: Env = process.env, opts: { storesWebhooks?: boolean } = {}) {
  const config = loadProcessorConfig(env);
  const ns = env.POWERTOOLS_METRICS_NAMESPACE ?? 'ThreeTonePipeline';
  const service = env.POWERTOOLS_SERVICE_NAME ?? 'threetone-pipeline';
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } });
  const store = createDynamoDbConversationStore(doc, config.tableName, { retention: config.retention });
  const publisher = createEventBridgePublisher(new EventBridgeClient({}), requireEnv(env, 'EVENT_BUS_NAME'));
  const deps: ProcessorDeps = {
    store,
    publisher,
    config,
    metrics: {
      conversationCompleted: () => emitCount('ConversationsCompleted', ns, service),
      conversationAlert: () => emitCount('ConversationAlerts', ns, service),
      deadLettered: () => emitCount('DeadLettered', ns, service),
      erasedDropped: () => emitCount('ErasedWebhooksDropped', ns, service),
    },
    ...(opts.storesWebhooks && { callerHashKey: callerHashKey(env) }),
  };
  return { deps, processor: createProcessor(deps), doc, config, ns, service };
}

/**
 * The enricher as deployed: the processor's rebuild, ThreeTone's client and the shared budget, and,
 * when AUDIO_ARCHIVE is on, the archive recordings go to (built by the caller: the S3 code stays out
 * of the processor's bundle).
 */
export function deployedEnricher(env: Env = process.env, opts: { audioArchive?: () => AudioArchive } = {}) {
  const { deps, processor, doc, config, ns, service } = deployedProcessor(env);
  const key = guardApiKey(threeToneApiKey(env));
  // Every request is paid for from the budget: the client itself never retries (the enricher backs off).
  const client = createThreeToneHttpClient({ ...loadThreeToneClientConfig(env), maxRetries: 0 }, { apiKey: key.apiKey });
  return createEnricher({
    store: deps.store,
    api: key.api(client),
    ...(config.audioArchive && opts.audioArchive && { audio: { api: key.audioApi(client), archive: opts.audioArchive() } }),
    budget: createDynamoDbRequestBudget(doc, config.tableName, config.enrichment.budget),
    rebuild: processor.rebuildConversation,
    config: config.enrichment,
    metrics: emfEnricherMetrics(ns, service),
    onApiKeyMissing: apiKeyAlert({
      publisher: deps.publisher,
      setting: `the secret ${requireEnv(env, 'THREETONE_API_KEY_SECRET_ARN')}`,
      onWaiting: () => emitCount('ThreeToneApiKeyMissing', ns, service),
    }),
  });
}
