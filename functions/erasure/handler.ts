/**
 * Erasure Lambda (IAM-authorized `DELETE /conversations/{id}`, `POST /erasures`): wiring only. Its
 * own function, so the query function keeps read-only access to the table.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDynamoDbErasureStore } from '#adapters/dynamodb-erasure-store.js';
import { createS3AudioArchive } from '#adapters/s3-audio-archive.js';
import { callerHashKey } from '#adapters/secret-source.js';
import { AUDIO_BUCKET_ENV, loadErasureConfig, requireEnv } from '#functions/config.js';
import { createErasure, createErasureHandler } from './erasure.js';

const config = loadErasureConfig();
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } });
const erasure = createErasure({
  store: createDynamoDbErasureStore(doc, config.tableName, { tombstoneDays: config.tombstoneDays }),
  callerHashKey: callerHashKey(process.env),
  audio: createS3AudioArchive(new S3Client({}), requireEnv(process.env, AUDIO_BUCKET_ENV)),
});

export const handler = createErasureHandler({ erasure, apiKey: config.apiKey });
