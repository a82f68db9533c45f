/**
 * Enricher Lambda (every minute): wiring only. Drains the enrichment queue within ThreeTone's quota
 * for up to ENRICHER_RUN_SECONDS, so the backlog moves when no webhooks arrive (the processor also
 * drains briefly after each batch).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDynamoDbConversationStore } from '#adapters/dynamodb-conversation-store.js';
import { createDynamoDbRequestBudget } from '#adapters/dynamodb-request-budget.js';
import { emfEnricherMetrics, emitCount } from '#adapters/emf-metrics.js';
import { createEventBridgePublisher } from '#adapters/eventbridge-publisher.js';
import { threeToneApiKey } from '#adapters/secret-source.js';
import { createThreeToneHttpClient } from '#adapters/threetone-http.js';
import { loadProcessorConfig, loadThreeToneClientConfig, numEnv, requireEnv } from '#functions/config.js';
import { createProcessor } from '#functions/processor/processor.js';
import { apiKeyAlert, guardApiKey } from './api-key-wait.js';
import { createEnricher } from './enricher.js';

const config = loadProcessorConfig();
const ns = process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'ThreeTonePipeline';
const service = process.env.POWERTOOLS_SERVICE_NAME ?? 'threetone-pipeline';
const runMs = numEnv(process.env, 'ENRICHER_RUN_SECONDS', 50, { min: 1 }) * 1000;
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } });
const store = createDynamoDbConversationStore(doc, config.tableName, { retention: config.retention });
const publisher = createEventBridgePublisher(new EventBridgeClient({}), requireEnv(process.env, 'EVENT_BUS_NAME'));
const key = guardApiKey(threeToneApiKey(process.env));
const processor = createProcessor({
  store,
  publisher,
  config,
  metrics: {
    conversationCompleted: () => emitCount('ConversationsCompleted', ns, service),
    conversationAlert: () => emitCount('ConversationAlerts', ns, service),
    deadLettered: () => undefined, // the enricher handles no queue messages
  },
});
const enricher = createEnricher({
  store,
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

export const handler = () => enricher.drain({ deadlineMs: runMs });
