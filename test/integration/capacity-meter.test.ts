/**
 * The cost benchmark's meter (bench/cost/capacity-meter.ts) on the production table: outside
 * transactions its estimate of write units must equal what DynamoDB Local reports (so it applies
 * the same rules); inside transactions it charges AWS's documented 2 units per KB and a
 * ConditionCheck as a transactional read.
 */
import { DeleteCommand, PutCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TABLE_INDEXES } from '#adapters/table-schema.js';
import { itemSize, type Meter, meterDynamoDb } from '../../bench/cost/capacity-meter.js';
import { createTestTable, type TestTable } from '#test/helpers/dynamodb.js';

let t: TestTable;
let meter: Meter;

beforeAll(async () => {
  t = await createTestTable();
  meter = meterDynamoDb(t.client, inject('dynamoEndpoint'), TABLE_INDEXES);
});
afterAll(() => t.drop());

const estimated = (where: string) => meter.heat.filter((h) => h.where === where).reduce((s, h) => s + h.wcu, 0);
const reported = () => ({
  table: meter.calls.reduce((s, c) => s + c.tableUnits, 0),
  indexes: Object.fromEntries(TABLE_INDEXES.map((ix) => [ix.name, meter.calls.reduce((s, c) => s + (c.indexUnits[ix.name] ?? 0), 0)])),
});

describe('item size', () => {
  it('counts attribute names and values as DynamoDB does', () => {
    expect(itemSize({ pk: { S: 'abc' } })).toBe(5);
    expect(itemSize({ n: { N: '12345' } })).toBe(1 + 4);
    expect(itemSize({ m: { M: { a: { S: 'xy' } } } })).toBe(1 + 3 + 1 + 1 + 2);
    expect(itemSize({ b: { BOOL: true }, z: { NULL: true } })).toBe(4);
  });
});

describe('write units', () => {
  it('outside transactions, equals what DynamoDB Local reports for the table and each index', async () => {
    meter.reset();
    const big = 'x'.repeat(1800);
    await t.doc.send(new PutCommand({ TableName: t.tableName, Item: { pk: 'CONV#m1', sk: 'RECORD', gsi1pk: 'AGENT#a#1', gsi1sk: 's#1', gsi2pk: 'CONVERSATIONS#1', gsi2sk: 's#1', v: big } }));
    await t.doc.send(new UpdateCommand({ TableName: t.tableName, Key: { pk: 'CONV#m1', sk: 'RECORD' }, UpdateExpression: 'SET v = :v', ExpressionAttributeValues: { ':v': `${big}y` } }));
    await t.doc.send(new UpdateCommand({ TableName: t.tableName, Key: { pk: 'CONV#m1', sk: 'RECORD' }, UpdateExpression: 'SET gsi2sk = :k', ExpressionAttributeValues: { ':k': 's#2' } }));
    await t.doc.send(new PutCommand({ TableName: t.tableName, Item: { pk: 'CONV#m2', sk: 'EVT#1', v: 'small' } }));
    await t.doc.send(new DeleteCommand({ TableName: t.tableName, Key: { pk: 'CONV#m1', sk: 'RECORD' } }));
    const r = reported();
    expect(estimated('table')).toBe(r.table);
    for (const ix of TABLE_INDEXES) expect(estimated(ix.name)).toBe(r.indexes[ix.name]);
    expect(estimated('table')).toBeGreaterThan(5);
  });

  it('in a transaction, charges 2 units per KB of each item written and a ConditionCheck as 2 read units', async () => {
    meter.reset();
    await t.doc.send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName: t.tableName, Item: { pk: 'CONV#m3', sk: 'EVT#1', v: 'x'.repeat(1500) } } },
          { Put: { TableName: t.tableName, Item: { pk: 'CONV#m3', sk: 'EVT#2', v: 'small' } } },
          { ConditionCheck: { TableName: t.tableName, Key: { pk: 'ERASED#CONV#m3', sk: 'TOMBSTONE' }, ConditionExpression: 'attribute_not_exists(pk)' } },
        ],
      }),
    );
    expect(meter.heat.map((h) => [h.pk, h.wcu])).toEqual([
      ['CONV#m3', 4],
      ['CONV#m3', 2],
    ]);
    expect(meter.checkReadUnits).toBe(2);
    expect(meter.calls).toHaveLength(1);
  });
});
