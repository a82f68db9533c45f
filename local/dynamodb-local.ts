/**
 * Runs AWS's DynamoDB Local (the jar shipped inside the `amplify-dynamodb-simulator` npm package) as
 * a child process: the embedded DynamoDB engine of `npm start` and of the integration tests. It
 * supports every operation the production adapters use (conditional writes, TransactWriteItems,
 * GSIs, TTL settings), which the pure-JS engines do not. Needs Java 17+ (scripts/ensure-java.mjs).
 * `ensureTable` creates the pipeline's table on it, or on any DynamoDB `externalDynamoDbClient`
 * reaches (`DYNAMODB_ENDPOINT`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  type KeySchemaElement,
  type Projection,
  ListTablesCommand,
  ResourceInUseException,
  type TableDescription,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { type IndexDefinition, TABLE, TABLE_INDEXES } from '#adapters/table-schema.js';
import { logger } from '#functions/shared/logger.js';

export interface DynamoDbLocal {
  readonly endpoint: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? ok(addr.port) : fail(new Error('no port'))));
    });
  });
}

function emulatorDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('amplify-dynamodb-simulator/package.json')), 'emulator');
}

/** A client for the local engine: fixed dummy credentials, region and endpoint. */
export function localDynamoDbClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: 'local',
    credentials: LOCAL_CREDENTIALS,
    maxAttempts: 3,
  });
}

const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Whether an endpoint is on this machine (a DynamoDB Local of your own, for instance). */
export function isLoopbackEndpoint(endpoint: string): boolean {
  return LOOPBACK_HOSTS.has(new URL(endpoint).hostname.toLowerCase());
}

/** `AWS_REGION`, else `AWS_DEFAULT_REGION`, else the region an AWS endpoint names, else us-east-1. */
export function regionFor(endpoint: string, env: Record<string, string | undefined>): string {
  const named = /^dynamodb(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com$/.exec(new URL(endpoint).hostname.toLowerCase())?.[1];
  return env.AWS_REGION?.trim() || env.AWS_DEFAULT_REGION?.trim() || named || 'us-east-1';
}

/**
 * A client for an existing DynamoDB at `endpoint` (a URL origin): credentials from the AWS SDK's
 * default provider chain (environment, shared config and credentials files, SSO, …). For an endpoint
 * on this machine (localhost, 127.0.0.1, ::1), which accepts any credentials, fixed dummy ones when
 * the chain finds none.
 */
export async function externalDynamoDbClient(
  endpoint: string,
  env: Record<string, string | undefined>,
): Promise<{ client: DynamoDBClient; credentials: 'default chain' | 'dummy (local endpoint)' }> {
  const config = { endpoint, region: regionFor(endpoint, env), maxAttempts: 3 };
  if (isLoopbackEndpoint(endpoint)) {
    const probe = new DynamoDBClient(config);
    try {
      await probe.config.credentials();
    } catch {
      return { client: new DynamoDBClient({ ...config, credentials: LOCAL_CREDENTIALS }), credentials: 'dummy (local endpoint)' };
    } finally {
      probe.destroy();
    }
  }
  return { client: new DynamoDBClient(config), credentials: 'default chain' };
}

/**
 * Starts DynamoDB Local. `dbPath` persists state in that folder; without it the engine is in memory.
 */
export async function startDynamoDbLocal(opts: { dbPath?: string; port?: number } = {}): Promise<DynamoDbLocal> {
  // A free port can be taken between the probe and Java binding it: pick another and retry.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts.dbPath, opts.port ?? (await freePort()));
    } catch (err) {
      if (opts.port !== undefined || attempt >= 3) throw err;
    }
  }
}

async function startOnce(dbPath: string | undefined, port: number): Promise<DynamoDbLocal> {
  const opts = { dbPath };
  const dir = emulatorDir();
  const args = [`-Djava.library.path=${join(dir, 'DynamoDBLocal_lib')}`, '-Xms64m', '-jar', join(dir, 'DynamoDBLocal.jar'), '-port', String(port), '-disableTelemetry', '-sharedDb'];
  if (opts.dbPath) {
    const path = resolve(opts.dbPath);
    mkdirSync(path, { recursive: true });
    args.push('-dbPath', path);
  } else {
    args.push('-inMemory');
  }
  const child: ChildProcess = spawn('java', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    if (stderr.length < 4096) stderr += d.toString();
  });
  const exited = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)));
  child.once('error', () => undefined);
  const endpoint = `http://127.0.0.1:${port}`;
  const client = localDynamoDbClient(endpoint);
  const deadline = Date.now() + 60_000;
  try {
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`DynamoDB Local exited (code ${child.exitCode}): ${stderr.trim().slice(0, 500) || 'is Java 17+ installed?'}`);
      }
      try {
        await client.send(new ListTablesCommand({ Limit: 1 }));
        break;
      } catch {
        if (Date.now() > deadline) throw new Error(`DynamoDB Local did not start on port ${port} within 60 s`);
        await new Promise((r) => setTimeout(r, 150));
      }
    }
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  } finally {
    client.destroy();
  }
  const stopOnExit = () => child.kill('SIGKILL');
  process.once('exit', stopOnExit);
  return {
    endpoint,
    async stop() {
      process.removeListener('exit', stopOnExit);
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Creates the pipeline's table (same keys, indexes and TTL as the CDK construct) if it is missing,
 * waits until it and its indexes are ACTIVE, checks that an existing table has the pipeline's keys
 * and indexes, and enables TTL where the engine supports it (else a warning: nothing expires).
 */
export async function ensureTable(client: DynamoDBClient, tableName: string, opts: { timeoutMs?: number } = {}): Promise<void> {
  const gsi = (ix: IndexDefinition) => ({
    IndexName: ix.name,
    KeySchema: [
      { AttributeName: ix.partitionKey, KeyType: 'HASH' as const },
      { AttributeName: ix.sortKey, KeyType: 'RANGE' as const },
    ],
    Projection: { ProjectionType: 'INCLUDE' as const, NonKeyAttributes: [...ix.include] },
  });
  const definition = new CreateTableCommand({
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [TABLE.partitionKey, TABLE.sortKey, TABLE.byAgentIndex.partitionKey, TABLE.byAgentIndex.sortKey, TABLE.byTimeIndex.partitionKey, TABLE.byTimeIndex.sortKey].map(
      (AttributeName) => ({ AttributeName, AttributeType: 'S' as const }),
    ),
    KeySchema: [
      { AttributeName: TABLE.partitionKey, KeyType: 'HASH' },
      { AttributeName: TABLE.sortKey, KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: TABLE_INDEXES.map(gsi),
    // The outbox publisher reads it (D30).
    StreamSpecification: { StreamEnabled: true, StreamViewType: TABLE.stream },
  });
  try {
    await client.send(definition);
  } catch (err) {
    if (!(err instanceof ResourceInUseException)) throw err; // it exists (or is being created)
  }
  let table = await untilActive(client, tableName, opts.timeoutMs ?? 300_000);
  checkLayout(table, definition.input);
  if (!table.StreamSpecification?.StreamEnabled) {
    // An existing table of this layout without its change stream: turned on (nothing else changes).
    await client.send(new UpdateTableCommand({ TableName: tableName, StreamSpecification: { StreamEnabled: true, StreamViewType: TABLE.stream } }));
    table = await untilActive(client, tableName, opts.timeoutMs ?? 300_000);
  }
  await enableTtl(client, tableName);
}

/** A client of the table's change stream, on the same endpoint, region and credentials as `client`. */
export async function streamsClientFor(client: DynamoDBClient, endpoint: string): Promise<DynamoDBStreamsClient> {
  return new DynamoDBStreamsClient({ endpoint, region: await client.config.region(), credentials: client.config.credentials, maxAttempts: 3 });
}

async function untilActive(client: DynamoDBClient, tableName: string, timeoutMs: number): Promise<TableDescription> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 50; ; delay = Math.min(2 * delay, 2_000)) {
    const { Table: table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (table?.TableStatus === 'ACTIVE' && (table.GlobalSecondaryIndexes ?? []).every((ix) => ix.IndexStatus === 'ACTIVE')) return table;
    if (Date.now() + delay > deadline) {
      throw new Error(`table ${tableName} is not ACTIVE after ${Math.round(timeoutMs / 1000)} s (status ${table?.TableStatus ?? 'unknown'})`);
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}

/** An existing table must have the keys and indexes the pipeline creates, or nothing would work. */
function checkLayout(table: TableDescription, expected: CreateTableCommandInput): void {
  const keys = (k: KeySchemaElement[] | undefined) => JSON.stringify((k ?? []).map((e) => [e.AttributeName, e.KeyType]));
  const projection = (p: Projection | undefined) => `${p?.ProjectionType ?? 'ALL'}${p?.NonKeyAttributes ? ` [${[...p.NonKeyAttributes].sort().join(', ')}]` : ''}`;
  const problems: string[] = [];
  if (keys(table.KeySchema) !== keys(expected.KeySchema)) problems.push(`its key is ${keys(table.KeySchema)}, not ${keys(expected.KeySchema)}`);
  const view = table.StreamSpecification?.StreamEnabled ? table.StreamSpecification.StreamViewType : undefined;
  if (view !== undefined && view !== TABLE.stream) problems.push(`its change stream carries ${view}, not ${TABLE.stream}`);
  for (const ix of expected.GlobalSecondaryIndexes ?? []) {
    const found = table.GlobalSecondaryIndexes?.find((g) => g.IndexName === ix.IndexName);
    if (!found) problems.push(`it has no index ${ix.IndexName}`);
    else if (keys(found.KeySchema) !== keys(ix.KeySchema)) problems.push(`its index ${ix.IndexName} is keyed ${keys(found.KeySchema)}, not ${keys(ix.KeySchema)}`);
    else if (projection(found.Projection) !== projection(ix.Projection)) {
      problems.push(`its index ${ix.IndexName} carries ${projection(found.Projection)}, not ${projection(ix.Projection)} (a table of an earlier layout)`);
    }
  }
  if (problems.length > 0) {
    throw new Error(`table ${table.TableName} exists but is not laid out for this pipeline: ${problems.join('; ')}. Use another TABLE_NAME.`);
  }
}

async function enableTtl(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    const { TimeToLiveDescription: ttl } = await client.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
    if (ttl?.TimeToLiveStatus === 'ENABLED' || ttl?.TimeToLiveStatus === 'ENABLING') {
      if (ttl.AttributeName !== TABLE.ttlAttribute) {
        logger.warn('The table expires items on another attribute: retention settings have no effect', { table: tableName, attribute: ttl.AttributeName });
      }
      return;
    }
    await client.send(
      new UpdateTimeToLiveCommand({ TableName: tableName, TimeToLiveSpecification: { AttributeName: TABLE.ttlAttribute, Enabled: true } }),
    );
  } catch (err) {
    logger.warn('Could not enable TTL on the table: retention settings have no effect (nothing expires)', {
      table: tableName,
      errorName: err instanceof Error ? err.name : typeof err,
    });
  }
}
