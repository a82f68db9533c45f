/**
 * Figures of the local runtime (`npm start`), in this process: webhook ingest under load
 * (autocannon) and end-to-end processing throughput (send → queue drained).
 */
import autocannon from 'autocannon';
import { readEvents } from '#local/local-bus.js';
import type { LocalRuntime } from '#local/runtime.js';
import { demoTraffic, serializeEnvelope, signedRequest } from '#local/traffic.js';

export interface IngestFigures {
  connections: number;
  seconds: number;
  distinctBodies: number;
  requests: number;
  reqPerSec: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  non202: number;
  statusCodes: Record<string, number>;
  errors: number;
  timeouts: number;
}

export interface EndToEndFigures {
  conversations: number;
  webhooks: number;
  concurrency: number;
  seconds: number;
  conversationsPerSec: number;
  webhooksPerSec: number;
  /** `Conversation Completed` lines on the local bus for these conversations, and their distinct `event_id`s. */
  completedEvents: number;
  completedEventIds: number;
}

/** Signed, distinct, realistic webhook bodies (chronological conversations), `runId` keeps them apart from other runs. */
export function signedPool(secret: string, conversations: number, runId: string) {
  const traffic = demoTraffic({ conversations, agents: 5, seed: 7, duplicateRate: 0, shuffleWindow: 0, now: new Date(), runId, spreadSeconds: 3000 });
  return {
    traffic,
    requests: traffic.envelopes.map((e) => {
      const body = serializeEnvelope(e);
      return { body, headers: signedRequest(body, secret) };
    }),
  };
}

/**
 * POSTs distinct signed webhooks for `seconds` with `connections` connections. The queue consumer
 * is stopped first, so the figure is the ingest path alone (verify → validate → fsync'ed enqueue),
 * not shared with the processor running in the same process. Run it last: the runtime does not
 * expose its consumer, so it stays stopped (the backlog stays on disk) until `rt.stop()`.
 */
export async function ingestBench(rt: LocalRuntime, opts: { connections: number; seconds: number; poolSize: number }): Promise<IngestFigures> {
  const { requests: pool } = signedPool(rt.webhookSecret, Math.ceil(opts.poolSize / 3), `benchingest${Date.now().toString(36)}`);
  let next = 0;
  await rt.queue.stop();
  const result = await autocannon({
    url: rt.url,
    connections: opts.connections,
    duration: opts.seconds,
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
  const completed = Object.values(statusCodes).reduce((a, b) => a + b, 0);
  return {
    connections: opts.connections,
    seconds: result.duration,
    distinctBodies: pool.length,
    requests: completed,
    reqPerSec: result.requests.average,
    latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max, mean: result.latency.mean },
    non202: completed - (statusCodes['202'] ?? 0) + result.errors,
    statusCodes,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}

/**
 * Sends every webhook of `conversations` conversations (`concurrency` in flight) and times from the
 * first send until the queue has drained: ingest, queue, processor, DynamoDB Local, details from the
 * simulator (rate limit off), bus.
 */
export async function endToEndBench(rt: LocalRuntime, opts: { conversations: number; concurrency: number }): Promise<EndToEndFigures> {
  const { traffic, requests } = signedPool(rt.webhookSecret, opts.conversations, `benche2e${Date.now().toString(36)}`);
  let next = 0;
  let failed = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: opts.concurrency }, async () => {
      while (next < requests.length) {
        const r = requests[next++]!;
        const res = await fetch(`${rt.url}/webhooks/threetone`, { method: 'POST', headers: r.headers, body: r.body });
        await res.arrayBuffer();
        if (res.status !== 202) failed++;
      }
    }),
  );
  await rt.queue.drained();
  const seconds = (performance.now() - started) / 1000;
  if (failed > 0) throw new Error(`${failed} webhook(s) were not accepted during the end-to-end run`);
  const ids = new Set(traffic.conversations.map((c) => c.conversationId));
  const completed = (await readEvents(rt.eventsFile)).filter(
    (e) => e['detail-type'] === 'Conversation Completed' && ids.has(String(e.detail.conversation_id)),
  );
  return {
    conversations: opts.conversations,
    webhooks: requests.length,
    concurrency: opts.concurrency,
    seconds,
    conversationsPerSec: opts.conversations / seconds,
    webhooksPerSec: requests.length / seconds,
    completedEvents: completed.length,
    completedEventIds: new Set(completed.map((e) => e.detail.event_id)).size,
  };
}
