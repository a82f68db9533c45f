/**
 * Ingest throughput against its floor (issue 10): the local server's webhook route (real ingest
 * handler, durable queue, fsync on, group commit) vs a bare Node HTTP server that only verifies the
 * HMAC and answers 202, and the same route with one fsync per webhook. Each server runs in a process
 * of its own (bench/ingest-server.ts); one autocannon client in this process drives them all with the
 * same signed bodies, at each concurrency in turn (the servers interleaved, so machine load drifts
 * alike over all three).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import type { IngestServerMode } from './ingest-server.js';
import { signedPool } from './runtime-bench.js';

export interface IngestCompareRow {
  server: IngestServerMode;
  concurrency: number;
  seconds: number;
  requests: number;
  reqPerSec: number;
  latencyMs: { p50: number; p99: number };
  non202: number;
  /** fsyncs of the queue journal during the run (0 for the bare server). */
  fsyncs: number;
}

export interface IngestComparison {
  rows: IngestCompareRow[];
  distinctBodies: number;
}

export const INGEST_SERVERS: readonly { mode: IngestServerMode; label: string }[] = [
  { mode: 'bare', label: 'bare HMAC + 202' },
  { mode: 'queue', label: 'local webhook route, group commit' },
  { mode: 'queue-per-append', label: 'local webhook route, fsync per webhook' },
];

interface Server {
  readonly url: string;
  fsyncs(): Promise<number>;
  stop(): Promise<void>;
}

function nextMessage<T>(child: ChildProcess): Promise<T> {
  return new Promise((ok, fail) => {
    const onExit = (code: number | null) => fail(new Error(`ingest server exited (code ${code})`));
    child.once('exit', onExit);
    child.once('message', (m) => {
      child.off('exit', onExit);
      ok(m as T);
    });
  });
}

async function startServer(mode: IngestServerMode, dir: string, secret: string): Promise<Server> {
  const child = fork(fileURLToPath(new URL('./ingest-server.ts', import.meta.url)), [mode, dir, secret], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const { url } = await nextMessage<{ url: string }>(child);
  return {
    url,
    async fsyncs() {
      const answer = nextMessage<{ fsyncs: number }>(child);
      child.send('stats');
      return (await answer).fsyncs;
    },
    async stop() {
      const exited = new Promise((ok) => child.once('exit', ok));
      child.send('stop');
      await exited;
    },
  };
}

async function load(url: string, pool: { body: string; headers: Record<string, string> }[], connections: number, seconds: number) {
  let next = 0;
  const result = await autocannon({
    url,
    connections,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        path: '/webhooks/threetone',
        setupRequest: (req) => {
          const r = pool[next++ % pool.length]!;
          return { ...req, method: 'POST', path: '/webhooks/threetone', body: r.body, headers: { ...r.headers } };
        },
      },
    ],
  });
  const statusCodes = Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, s]) => [code, s.count]));
  const requests = Object.values(statusCodes).reduce((a, b) => a + b, 0);
  return {
    seconds: result.duration,
    requests,
    reqPerSec: result.requests.average,
    latencyMs: { p50: result.latency.p50, p99: result.latency.p99 },
    non202: requests - (statusCodes['202'] ?? 0) + result.errors,
  };
}

export async function ingestCompareBench(opts: {
  concurrencies: readonly number[];
  seconds: number;
  poolSize: number;
  log: (msg: string) => void;
}): Promise<IngestComparison> {
  const secret = 'bench-ingest-secret';
  const { requests: pool } = signedPool(secret, Math.ceil(opts.poolSize / 3), `benchcompare${Date.now().toString(36)}`);
  const root = await mkdtemp(join(os.tmpdir(), 'threetone-bench-ingest-'));
  const servers: [IngestServerMode, Server][] = [];
  try {
    for (const { mode } of INGEST_SERVERS) servers.push([mode, await startServer(mode, join(root, mode), secret)]);
    for (const [mode, server] of servers) {
      opts.log(`ingest vs bare: warming up ${mode}`);
      await load(server.url, pool, 8, 1);
    }
    const rows: IngestCompareRow[] = [];
    for (const concurrency of opts.concurrencies) {
      for (const [mode, server] of servers) {
        opts.log(`ingest vs bare: ${mode}, ${concurrency} connection(s), ${opts.seconds} s`);
        const before = await server.fsyncs();
        const r = await load(server.url, pool, concurrency, opts.seconds);
        rows.push({ server: mode, concurrency, ...r, fsyncs: (await server.fsyncs()) - before });
      }
    }
    return { rows, distinctBodies: pool.length };
  } finally {
    for (const [, server] of servers) await server.stop().catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  }
}
