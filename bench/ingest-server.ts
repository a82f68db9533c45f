/**
 * One server of the ingest comparison (bench/ingest-bench.ts), run in a process of its own so that
 * the load generator does not share its event loop. `node --import tsx bench/ingest-server.ts <mode> <dir> <secret>`:
 * - `bare`: a bare Node HTTP server that reads the body, verifies its HMAC and answers 202 (the floor);
 * - `queue`: the local server's webhook route as `npm start` serves it (local/http-server.ts, the real
 *   ingest handler, the durable local queue in `<dir>` with fsync and group commit), the queue's
 *   consumer not started (ingest alone);
 * - `queue-per-append`: the same with one write and one fsync per webhook (`groupCommit: false`).
 * Sends `{ url }` over IPC when listening; answers `'stats'` with `{ fsyncs }` and exits on `'stop'`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifySignature } from '#core/signature.js';
import { envSecretSource } from '#adapters/secret-source.js';
import { loadIngestConfig } from '#functions/config.js';
import { createIngestHandler } from '#functions/ingest/ingest.js';
import { startHttpServer } from '#local/http-server.js';
import { createLocalQueue } from '#local/local-queue.js';

export type IngestServerMode = 'bare' | 'queue' | 'queue-per-append';

const [mode, dir, secret] = process.argv.slice(2) as [IngestServerMode, string, string];
let fsyncs = 0;

async function bare(): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const header = req.headers['x-threetone-signature'];
      const ok = verifySignature(Buffer.concat(chunks), typeof header === 'string' ? header : undefined, [secret], 'sha256=') === 'ok';
      const body = ok ? '{"status":"accepted"}' : '{"error":{"code":"invalid_signature"}}';
      res.writeHead(ok ? 202 : 401, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((ok) => server.close(() => ok())) };
}

async function localRoute(groupCommit: boolean): Promise<{ url: string; close: () => Promise<void> }> {
  const queue = createLocalQueue({
    dir,
    groupCommit,
    datasync: async (file) => {
      fsyncs += 1;
      await file.datasync();
    },
  });
  const notServed = async () => ({ statusCode: 404, body: '{}' });
  const server = await startHttpServer({
    host: '127.0.0.1',
    port: 0,
    ingest: createIngestHandler({ queue, secrets: envSecretSource(secret), config: loadIngestConfig({}) }),
    query: notServed,
    erasure: notServed,
    isReady: () => true,
  });
  return {
    url: server.url,
    close: async () => {
      await server.close();
      await queue.stop();
    },
  };
}

const running = mode === 'bare' ? await bare() : await localRoute(mode === 'queue');
process.on('message', (m) => {
  if (m === 'stats') process.send!({ fsyncs });
  if (m === 'stop') void running.close().then(() => process.exit(0));
});
process.send!({ url: running.url });
