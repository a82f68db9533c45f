/**
 * Runs AWS's DynamoDB Local (the jar shipped inside the `amplify-dynamodb-simulator` npm package) as
 * a child process: the embedded DynamoDB engine of `npm start` and of the integration tests. It
 * supports every operation the production adapters use (conditional writes, TransactWriteItems,
 * GSIs, TTL settings), which the pure-JS engines do not. Needs Java 17+ (scripts/ensure-java.mjs).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { TABLE } from '#adapters/table-schema.js';

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
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 3,
  });
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

/** Creates the pipeline's table (same keys, indexes and TTL as the CDK construct) if it is missing. */
export async function ensureTable(client: DynamoDBClient, tableName: string): Promise<void> {
  const gsi = (ix: { name: string; partitionKey: string; sortKey: string }) => ({
    IndexName: ix.name,
    KeySchema: [
      { AttributeName: ix.partitionKey, KeyType: 'HASH' as const },
      { AttributeName: ix.sortKey, KeyType: 'RANGE' as const },
    ],
    Projection: { ProjectionType: 'ALL' as const },
  });
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [TABLE.partitionKey, TABLE.sortKey, TABLE.byAgentIndex.partitionKey, TABLE.byAgentIndex.sortKey, TABLE.byTimeIndex.partitionKey, TABLE.byTimeIndex.sortKey].map(
          (AttributeName) => ({ AttributeName, AttributeType: 'S' as const }),
        ),
        KeySchema: [
          { AttributeName: TABLE.partitionKey, KeyType: 'HASH' },
          { AttributeName: TABLE.sortKey, KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: [gsi(TABLE.byAgentIndex), gsi(TABLE.byTimeIndex)],
      }),
    );
  } catch (err) {
    if (!(err instanceof ResourceInUseException)) throw err;
    return;
  }
  for (let i = 0; i < 100; i++) {
    const t = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (t.Table?.TableStatus === 'ACTIVE') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await client.send(
    new UpdateTimeToLiveCommand({ TableName: tableName, TimeToLiveSpecification: { AttributeName: TABLE.ttlAttribute, Enabled: true } }),
  );
}
