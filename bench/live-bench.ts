/**
 * Live stream latency of the local runtime: webhook 202 → the WebSocket message about it at a
 * subscribed client, with that client alone and with many other clients connected.
 *
 * Per sample: send one signed webhook (a conversation's start, then its end), take the time its
 * `202` arrives, and the time the measuring client receives the `ThreeTone Event` envelope of that
 * webhook (the first live message about it). Samples run one after another on an idle pipeline.
 */
import { performance } from 'node:perf_hooks';
import { WebSocket } from 'ws';
import type { LocalRuntime } from '#local/runtime.js';
import { serializeEnvelope, signedRequest } from '#local/traffic.js';

export interface LiveFigures {
  /** Clients connected besides the measuring one (all subscribed to everything). */
  otherClients: number;
  samples: number;
  lost: number;
  latencyMs: { p50: number; p95: number; max: number };
  /** Clients the stream disconnected as too slow during the run. */
  dropped: number;
}

const SAMPLE_TIMEOUT_MS = 10_000;

function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export async function liveBench(rt: LocalRuntime, opts: { conversations: number; otherClients: number; runId: string }): Promise<LiveFigures> {
  const others: WebSocket[] = [];
  for (let i = 0; i < opts.otherClients; i += 50) {
    others.push(...(await Promise.all(Array.from({ length: Math.min(50, opts.otherClients - i) }, () => open(rt.liveUrl)))));
  }
  // Connected last: in the fan-out order, it is served after every other client.
  const probe = await open(rt.liveUrl);
  const waiting = new Map<string, (at: number) => void>();
  probe.on('message', (data) => {
    const at = performance.now();
    const env = JSON.parse(data.toString());
    if (env['detail-type'] !== 'ThreeTone Event') return;
    waiting.get(`${env.detail?.data?.conversation_id}|${env.detail?.event}`)?.(at);
  });
  const droppedBefore = rt.live.dropped;

  const latencies: number[] = [];
  let lost = 0;
  try {
    for (let i = 0; i < opts.conversations; i++) {
      const conversationId = `live-bench-${opts.runId}-${opts.otherClients}-${i}`;
      for (const event of ['conversation_started', 'conversation_ended']) {
        const body = serializeEnvelope({ event, timestamp: new Date().toISOString(), data: { conversation_id: conversationId, agent_id: `agent-${i % 5}` } });
        const key = `${conversationId}|${event}`;
        const arrived = new Promise<number | null>((resolve) => {
          const timer = setTimeout(() => resolve(null), SAMPLE_TIMEOUT_MS);
          waiting.set(key, (at) => {
            clearTimeout(timer);
            resolve(at);
          });
        });
        const res = await fetch(`${rt.url}/webhooks/threetone`, { method: 'POST', headers: signedRequest(body, rt.webhookSecret), body });
        const accepted = performance.now();
        await res.arrayBuffer();
        if (res.status !== 202) throw new Error(`webhook answered ${res.status}`);
        const at = await arrived;
        waiting.delete(key);
        if (at === null) lost++;
        else latencies.push(at - accepted);
      }
    }
  } finally {
    probe.terminate();
    for (const ws of others) ws.terminate();
  }
  latencies.sort((a, b) => a - b);
  const round = (n: number) => Math.round(n * 10) / 10;
  return {
    otherClients: opts.otherClients,
    samples: latencies.length + lost,
    lost,
    latencyMs: { p50: round(percentile(latencies, 50)), p95: round(percentile(latencies, 95)), max: round(latencies.at(-1) ?? Number.NaN) },
    dropped: rt.live.dropped - droppedBefore,
  };
}
