/** Reconciler Lambda (scheduled): wiring only. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDynamoDbConversationStore } from '#adapters/dynamodb-conversation-store.js';
import { createDynamoDbRequestBudget } from '#adapters/dynamodb-request-budget.js';
import { emitCount } from '#adapters/emf-metrics.js';
import { threeToneApiKey } from '#adapters/secret-source.js';
import { createSqsQueue } from '#adapters/sqs-queue.js';
import { createThreeToneHttpClient } from '#adapters/threetone-http.js';
import { loadEnrichmentConfig, loadReconcilerConfig, loadThreeToneClientConfig, requireEnv } from '#functions/config.js';
import { createReconciler } from './reconciler.js';

const config = loadReconcilerConfig();
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } });

export const handler = createReconciler({
  api: createThreeToneHttpClient(loadThreeToneClientConfig(), {
    apiKey: threeToneApiKey(process.env),
    onThrottled: () =>
      emitCount('ThreeToneThrottled', process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'ThreeTonePipeline', process.env.POWERTOOLS_SERVICE_NAME ?? 'threetone-pipeline'),
  }),
  budget: createDynamoDbRequestBudget(doc, config.tableName, loadEnrichmentConfig().budget),
  // Retention only applies to writes; the reconciler only reads records.
  store: createDynamoDbConversationStore(doc, config.tableName, { retention: { rawEventDays: 0, transcriptDays: 0, recordDays: 0 } }),
  queue: createSqsQueue(new SQSClient({}), requireEnv(process.env, 'QUEUE_URL')),
  config,
});
