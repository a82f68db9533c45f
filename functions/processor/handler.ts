/** Processor Lambda: wiring only. Clients and config are built once per cold start. */
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDynamoDbConversationStore } from '#adapters/dynamodb-conversation-store.js';
import { emitCount } from '#adapters/emf-metrics.js';
import { createEventBridgePublisher } from '#adapters/eventbridge-publisher.js';
import { threeToneApiKey } from '#adapters/secret-source.js';
import { createSqsQueue } from '#adapters/sqs-queue.js';
import { createThreeToneHttpClient } from '#adapters/threetone-http.js';
import { loadProcessorConfig, loadThreeToneClientConfig, requireEnv } from '#functions/config.js';
import { guardApiKey, waitForApiKey } from './api-key-wait.js';
import { createProcessorHandler } from './processor.js';

const config = loadProcessorConfig();
const busName = requireEnv(process.env, 'EVENT_BUS_NAME');
const ns = process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'ThreeTonePipeline';
const service = process.env.POWERTOOLS_SERVICE_NAME ?? 'threetone-pipeline';
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } });
const publisher = createEventBridgePublisher(new EventBridgeClient({}), busName);
const key = guardApiKey(threeToneApiKey(process.env));

export const handler = createProcessorHandler(
  {
    store: createDynamoDbConversationStore(doc, config.tableName, { retention: config.retention }),
    api: key.api(
      createThreeToneHttpClient(loadThreeToneClientConfig(), {
        apiKey: key.apiKey,
        onThrottled: () => emitCount('ThreeToneThrottled', ns, service),
      }),
    ),
    publisher,
    config,
    metrics: {
      conversationCompleted: () => emitCount('ConversationsCompleted', ns, service),
      conversationAlert: () => emitCount('ConversationAlerts', ns, service),
      deadLettered: () => emitCount('DeadLettered', ns, service),
    },
  },
  (recordHandler) =>
    waitForApiKey(recordHandler, {
      queue: createSqsQueue(new SQSClient({}), requireEnv(process.env, 'QUEUE_URL')),
      publisher,
      setting: `the secret ${requireEnv(process.env, 'THREETONE_API_KEY_SECRET_ARN')}`,
      onWaiting: () => emitCount('ThreeToneApiKeyMissing', ns, service),
    }),
);
