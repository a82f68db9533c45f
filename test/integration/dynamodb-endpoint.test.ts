/**
 * `npm start` with DYNAMODB_ENDPOINT: the local runtime on an existing DynamoDB (here the test run's
 * shared DynamoDB Local) instead of its own, creating its table there when it is missing.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DeleteTableCommand, DescribeTableCommand, DescribeTimeToLiveCommand, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TABLE } from '#adapters/table-schema.js';
import { ConfigError } from '#functions/config.js';
import { localDynamoDbClient } from '#local/dynamodb-local.js';
import { startLocalRuntime, type LocalRuntime } from '#local/runtime.js';
import { signedRequest } from '#local/traffic.js';
import { conversationScript } from '#test/helpers/envelopes.js';

const SECRET = 'endpoint-test-secret';
const API_KEY = 'endpoint-test-key';
const CONVERSATION = 'conv_dynamodb_endpoint_1';

const endpoint = inject('dynamoEndpoint');
const admin = localDynamoDbClient(endpoint);
const tableName = `endpoint-it-${randomUUID()}`;
const otherTables: string[] = [];
const dataDirs: string[] = [];
let rt: LocalRuntime | null = null;

const newDataDir = async () => {
  const dir = await mkdtemp(join(tmpdir(), 'threetone-endpoint-'));
  dataDirs.push(dir);
  return dir;
};

const envFor = (dataDir: string, extra: Record<string, string> = {}) => ({
  ...process.env,
  PORT: '0',
  DATA_DIR: dataDir,
  RECONCILE_INTERVAL_SECONDS: '0',
  THREETONE_WEBHOOK_SECRET: SECRET,
  QUERY_API_KEY: API_KEY,
  DYNAMODB_ENDPOINT: endpoint,
  TABLE_NAME: tableName,
  ...extra,
});

async function get(path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${rt!.url}${path}`, { headers: { 'x-api-key': API_KEY } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  await expect(admin.send(new DescribeTableCommand({ TableName: tableName }))).rejects.toBeInstanceOf(ResourceNotFoundException);
});

afterAll(async () => {
  await rt?.stop();
  for (const t of [tableName, ...otherTables]) await admin.send(new DeleteTableCommand({ TableName: t })).catch(() => undefined);
  admin.destroy();
  for (const d of dataDirs) await rm(d, { recursive: true, force: true });
}, 60_000);

describe('npm start on an existing DynamoDB (DYNAMODB_ENDPOINT)', () => {
  it('creates the missing table there, starts no DynamoDB of its own, and processes a signed conversation', async () => {
    // Arrange
    const dataDir = await newDataDir();

    // Act
    rt = await startLocalRuntime(envFor(dataDir));
    const bodies = conversationScript({ conversationId: CONVERSATION, agentId: 'agent-endpoint', start: Date.now() - 300_000, durationSeconds: 90 }).map((e) => JSON.stringify(e));
    for (const body of bodies) {
      const res = await fetch(`${rt.url}/webhooks/threetone`, { method: 'POST', headers: signedRequest(body, SECRET), body });
      expect(res.status).toBe(202);
    }
    await rt.queue.drained();

    // Assert: the table, with the pipeline's layout and TTL
    const { Table: table } = await admin.send(new DescribeTableCommand({ TableName: tableName }));
    expect(table?.TableStatus).toBe('ACTIVE');
    expect(table?.GlobalSecondaryIndexes?.map((ix) => ix.IndexName).sort()).toEqual([TABLE.byAgentIndex.name, TABLE.byTimeIndex.name].sort());
    const ttl = await admin.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
    expect(ttl.TimeToLiveDescription).toMatchObject({ TimeToLiveStatus: 'ENABLED', AttributeName: TABLE.ttlAttribute });
    // No DynamoDB Local of its own: no state folder for one
    expect(await readdir(dataDir)).not.toContain('dynamodb');
    // Which DynamoDB it uses, in /health: host and table only
    const health = await fetch(`${rt.url}/health`);
    const healthBody = await health.text();
    expect(health.status).toBe(200);
    expect(JSON.parse(healthBody)).toMatchObject({ status: 'ok', dynamodb: { embedded: false, host: new URL(endpoint).host, table: tableName } });
    expect(healthBody).not.toMatch(/accessKey|secret|credential/i);
    expect(rt.dynamoDb).toEqual({ embedded: false, host: new URL(endpoint).host, table: tableName });
    // The conversation, through the query API, once ThreeTone's details are in
    // (and its recording archived: nothing is still in flight when the next test restarts the runtime)
    await expect.poll(async () => (await get(`/conversations/${CONVERSATION}`)).body.enrichment, { timeout: 20_000 }).toBe('done');
    await expect.poll(async () => ((await get(`/conversations/${CONVERSATION}`)).body.audio as { status?: string } | undefined)?.status, { timeout: 20_000 }).toBe('stored');
    expect((await get(`/conversations/${CONVERSATION}`)).body).toMatchObject({ conversation_id: CONVERSATION, agent_id: 'agent-endpoint', status: 'ended', duration_seconds: 90 });
  }, 60_000);

  it('reuses the existing table on the next start (even from an empty DATA_DIR): the data is still there', async () => {
    // Arrange
    const before = await get(`/conversations/${CONVERSATION}`);
    expect(before.status).toBe(200);
    await rt!.stop();
    rt = null;

    // Act
    rt = await startLocalRuntime(envFor(await newDataDir()));

    // Assert
    const after = await get(`/conversations/${CONVERSATION}`);
    expect(after).toEqual(before);
    const list = await get('/conversations?agent_id=agent-endpoint');
    expect(list.status).toBe(200);
    expect(JSON.stringify(list.body)).toContain(CONVERSATION);
  }, 60_000);

  it('refuses an existing table that is not laid out for the pipeline, naming the setting, and starts nothing', async () => {
    // Arrange: someone else's table
    const foreign = `endpoint-it-foreign-${randomUUID()}`;
    otherTables.push(foreign);
    await admin.send(
      new CreateTableCommand({
        TableName: foreign,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      }),
    );
    const dataDir = await newDataDir();

    // Act
    const start = startLocalRuntime(envFor(dataDir, { TABLE_NAME: foreign }));

    // Assert: refused, and nothing of the pipeline written into it
    await expect(start).rejects.toThrow(/DYNAMODB_ENDPOINT.*TABLE_NAME.*not laid out for this pipeline: its key is/);
    const { Table: table } = await admin.send(new DescribeTableCommand({ TableName: foreign }));
    expect(table?.ItemCount).toBe(0);
    expect(table?.GlobalSecondaryIndexes).toBeUndefined();
  });

  it.each([
    ['localhost:8000', /DYNAMODB_ENDPOINT must be an http\(s\) URL/],
    ['http://user:hunter2@localhost:8000', /DYNAMODB_ENDPOINT must not hold credentials/],
  ])('fails fast with a ConfigError on DYNAMODB_ENDPOINT=%s, before creating anything', async (value, message) => {
    const dataDir = await newDataDir();

    const start = startLocalRuntime(envFor(dataDir, { DYNAMODB_ENDPOINT: value }));

    await expect(start).rejects.toBeInstanceOf(ConfigError);
    await expect(start).rejects.toThrow(message);
    await expect(start).rejects.not.toThrow(/hunter2/);
    expect(await readdir(dataDir)).toEqual([]);
  });

  it('names the endpoint it could not reach', async () => {
    const start = startLocalRuntime(envFor(await newDataDir(), { DYNAMODB_ENDPOINT: 'http://127.0.0.1:9' }));

    await expect(start).rejects.toThrow(/^DynamoDB at 127\.0\.0\.1:9 \(DYNAMODB_ENDPOINT\), table endpoint-it-.* \(TABLE_NAME\): /);
  });
});
