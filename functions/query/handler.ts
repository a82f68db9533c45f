/**
 * Query API Lambda: wiring only. Clients are built once per cold start; the logic is in query.ts,
 * which the local server and the tests run with their own adapters.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDynamoDbQueries } from '#adapters/dynamodb-queries.js';
import { createS3AudioLinks } from '#adapters/s3-audio-links.js';
import { AUDIO_BUCKET_ENV, loadQueryConfig, requireEnv } from '#functions/config.js';
import { createQueryHandler } from './query.js';

const config = loadQueryConfig();
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } });

const audio = createS3AudioLinks(new S3Client({}), requireEnv(process.env, AUDIO_BUCKET_ENV));

export const handler = createQueryHandler({ queries: createDynamoDbQueries(doc, config.tableName), config, audio });
