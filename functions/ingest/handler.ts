/**
 * Lambda entry for `POST /webhooks/threetone`: wiring only. Clients and configuration are built
 * once per cold start; a missing setting fails the cold start with a message naming it.
 */
import { SQSClient } from '@aws-sdk/client-sqs';
import { emfIngestMetrics } from '#adapters/emf-metrics.js';
import { envSecretSource, secretsManagerSource } from '#adapters/secret-source.js';
import { createSqsQueue } from '#adapters/sqs-queue.js';
import { loadIngestConfig, optionalEnv, requireEnv } from '#functions/config.js';
import { createIngestHandler } from './ingest.js';

const secretArn = optionalEnv(process.env, 'WEBHOOK_SECRET_ARN');

export const handler = createIngestHandler({
  queue: createSqsQueue(new SQSClient({}), requireEnv(process.env, 'QUEUE_URL')),
  // Secrets Manager on AWS; a plain env value only for hosting outside AWS.
  secrets: secretArn ? secretsManagerSource(secretArn) : envSecretSource(process.env.THREETONE_WEBHOOK_SECRET),
  config: loadIngestConfig(),
  metrics: emfIngestMetrics(),
});
