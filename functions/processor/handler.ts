/** Processor Lambda: wiring only. Clients and config are built once per cold start. */
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDynamoDbConversationStore } from '#adapters/dynamodb-conversation-store.js';
import { createDynamoDbRequestBudget } from '#adapters/dynamodb-request-budget.js';
import { emfEnricherMetrics, emitCount } from '#adapters/emf-metrics.js';
import { createEventBridgePublisher } from '#adapters/eventbridge-publisher.js';
import { callerHashKey, threeToneApiKey } from '#adapters/secret-source.js';
import { createThreeToneHttpClient } from '#adapters/threetone-http.js';
import { apiKeyAlert, guardApiKey } from '#functions/enricher/api-key-wait.js';
import { createEnricher } from '#functions/enricher/enricher.js';
import { loadProcessorConfig, loadThreeToneClientConfig, requireEnv } from '#functions/config.js';
import { createProcessor, createProcessorHandler, type ProcessorDeps } from './processor.js';

const config = loadProcessorConfig();
const busName = requireEnv(process.env, 'EVENT_BUS_NAME');
const ns = process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'ThreeTonePipeline';
const service = process.env.POWERTOOLS_SERVICE_NAME ?? 'threetone-pipeline';
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } });
const store = createDynamoDbConversationStore(doc, config.tableName, { retention: config.retention });
const publisher = createEventBridgePublisher(new EventBridgeClient({}), busName);
const key = guardApiKey(threeToneApiKey(process.env));

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
  callerHashKey: callerHashKey(process.env),
};
const processor = createProcessor(deps);
const enricher = createEnricher({
  store,
  // Every request is paid for from the budget: the client itself never retries (the enricher backs off).
  api: key.api(createThreeToneHttpClient({ ...loadThreeToneClientConfig(), maxRetries: 0 }, { apiKey: key.apiKey })),
  budget: createDynamoDbRequestBudget(doc, config.tableName, config.enrichment.budget),
  rebuild: processor.reconcileConversation,
  config: config.enrichment,
  metrics: emfEnricherMetrics(ns, service),
  onApiKeyMissing: apiKeyAlert({
    publisher,
    setting: `the secret ${requireEnv(process.env, 'THREETONE_API_KEY_SECRET_ARN')}`,
    onWaiting: () => emitCount('ThreeToneApiKeyMissing', ns, service),
  }),
});

/** After each batch, a short drain: details follow quickly while the budget allows. */
export const handler = createProcessorHandler({ ...deps, afterBatch: () => enricher.drain({ deadlineMs: 5_000, maxItems: 10 }) }, processor);
