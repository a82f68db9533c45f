import { DescribeTableCommand, DescribeTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TABLE } from '#adapters/table-schema.js';
import { ensureTable } from '#local/dynamodb-local.js';
import { createTestTable, type TestTable } from '#test/helpers/dynamodb.js';

describe('local table (DynamoDB Local)', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable();
  });
  afterAll(() => table.drop());

  it('has the production keys, both indexes and TTL on expires_at', async () => {
    const { Table } = await table.client.send(new DescribeTableCommand({ TableName: table.tableName }));
    expect(Table?.KeySchema).toEqual([
      { AttributeName: TABLE.partitionKey, KeyType: 'HASH' },
      { AttributeName: TABLE.sortKey, KeyType: 'RANGE' },
    ]);
    expect(Table?.GlobalSecondaryIndexes?.map((i) => i.IndexName).sort()).toEqual([TABLE.byAgentIndex.name, TABLE.byTimeIndex.name].sort());
    const ttl = await table.client.send(new DescribeTimeToLiveCommand({ TableName: table.tableName }));
    expect(ttl.TimeToLiveDescription).toMatchObject({ AttributeName: TABLE.ttlAttribute, TimeToLiveStatus: 'ENABLED' });
  });

  it('ensureTable is idempotent (a restart of npm start finds its table)', async () => {
    await expect(ensureTable(table.client, table.tableName)).resolves.toBeUndefined();
  });
});
