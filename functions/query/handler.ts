/**
 * Query API Lambda: wiring only. Clients are built once per cold start; the logic is in query.ts,
 * which the local server and the tests run with their own adapters.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDynamoDbQueries } from '#adapters/dynamodb-queries.js';
import { loadQueryConfig } from '#functions/config.js';
import { createQueryHandler } from './query.js';

const config = loadQueryConfig();
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } });

export const handler = createQueryHandler({ queries: createDynamoDbQueries(doc, config.tableName), config });
