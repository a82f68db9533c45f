import { randomUUID } from 'node:crypto';
import { DeleteTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { inject } from 'vitest';
import { ensureTable, localDynamoDbClient } from '#local/dynamodb-local.js';
import { createStreamPump, type StreamPump } from '#local/stream-pump.js';
import { createOutboxPublisher } from '#functions/outbox-publisher/outbox-publisher.js';
import type { EventPublisher } from '#functions/ports.js';

export interface TestTable {
  readonly tableName: string;
  readonly client: DynamoDBClient;
  readonly doc: DynamoDBDocumentClient;
  drop(): Promise<void>;
}

/** A fresh table with the production schema on the run's DynamoDB Local. */
export async function createTestTable(): Promise<TestTable> {
  const client = localDynamoDbClient(inject('dynamoEndpoint'));
  const tableName = `test-${randomUUID()}`;
  await ensureTable(client, tableName);
  const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  return {
    tableName,
    client,
    doc,
    async drop() {
      await client.send(new DeleteTableCommand({ TableName: tableName })).catch(() => undefined);
      client.destroy();
    },
  };
}

/**
 * The table's outbox publisher as the local runtime runs it (D30): the change stream read by the pump
 * and handed to the publisher Lambda's handler, publishing to `publisher`. `drain()` publishes what
 * was committed so far.
 */
export async function createOutboxPump(table: TestTable, publisher: EventPublisher): Promise<StreamPump & { close(): Promise<void> }> {
  const pump = await createStreamPump({ client: table.client, streams: { endpoint: inject('dynamoEndpoint') }, tableName: table.tableName, handler: createOutboxPublisher({ publisher }) });
  return { ...pump, close: () => pump.stop() };
}
