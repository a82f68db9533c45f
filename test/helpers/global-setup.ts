/**
 * Vitest global setup: one in-memory DynamoDB Local for the whole run. Each test file creates its
 * own uniquely named table (see dynamodb.ts), so files run in parallel without sharing state.
 */
import type { TestProject } from 'vitest/node';
import { startDynamoDbLocal } from '#local/dynamodb-local.js';

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoEndpoint: string;
  }
}

export default async function setup(project: TestProject) {
  const ddb = await startDynamoDbLocal();
  project.provide('dynamoEndpoint', ddb.endpoint);
  return async () => {
    await ddb.stop();
  };
}
