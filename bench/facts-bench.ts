/**
 * Issue 8 ("webhook facts first") figures of the local runtime:
 *
 * 1. webhook → visible state: for each conversation, a signed `conversation_started` then a
 *    `conversation_ended` webhook, sent on a fixed schedule (not waiting for one another); per
 *    webhook, the time from its `202` to the first `GET /conversations/{id}` (polled every
 *    `POLL_MS`) that shows the new state: `active` after the start (or already `ended`: the start's
 *    facts are then visible too), `ended` after the end;
 * 2. ThreeTone's cost: once every conversation is `enrichment: "done"` (or a deadline passed), the
 *    requests the simulator answered for them, by kind (details, transcript), and its 429s.
 *
 * The caller runs it against a fresh runtime per condition (ThreeTone healthy, ThreeTone throttling):
 * the budget and the simulator's rate windows start empty. A few conversations sent one at a time
 * first warm the runtime up (not measured, not counted). The polling is part of the load: each
 * webhook not yet visible costs up to 50 GETs/s on the same machine as the pipeline.
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import type { LocalRuntime } from '#local/runtime.js';
import { conversationEvents, createRng, serializeEnvelope, signedRequest } from '#local/traffic.js';

export interface LatencySummary {
  samples: number;
  /** Samples whose state was not visible within `SAMPLE_TIMEOUT_MS`. */
  lost: number;
  p50: number;
  p95: number;
  max: number;
}

export interface ThreeToneCost {
  /** API requests the simulator answered (admin routes excluded), for the run's conversations. */
  requests: number;
  details: number;
  transcript: number;
  /** API requests answered 429 (any conversation; the runtime is the run's own). */
  throttled: number;
  /** Every API request the simulator answered during the run, whatever the conversation. */
  allRequests: number;
}

export interface FactsFigures {
  conversations: number;
  /** A conversation starts every `startEveryMs`; its end follows `endAfterMs` after its start. */
  startEveryMs: number;
  endAfterMs: number;
  pollMs: number;
  /** Load average (1 minute) when the measured webhooks started, and when the figures were taken. */
  load: { start: number; end: number };
  /** Mean webhooks per second sent. */
  webhooksPerSec: number;
  startedVisible: LatencySummary;
  endedVisible: LatencySummary;
  enrichment: {
    done: number;
    pending: number;
    gaveUp: number;
    /** From the last `conversation_ended` 202 until every conversation was `done`; null when the deadline passed first. */
    allDoneAfterSeconds: number | null;
    waitedSeconds: number;
    /** `GET /health` at the end. */
    health: { pending: number; oldest_age_seconds: number } | null;
  };
  threeTone: ThreeToneCost;
}

export interface FactsOptions {
  conversations: number;
  runId: string;
  /** @default 500 */
  startEveryMs?: number;
  /** @default 1750 (ends fall halfway between starts: one webhook every startEveryMs / 2) */
  endAfterMs?: number;
  /** How long to wait for every conversation to be enriched; 0 does not wait. */
  enrichmentDeadlineMs: number;
}

const POLL_MS = 20;
const WARM_UP_CONVERSATIONS = 3;
const SAMPLE_TIMEOUT_MS = 15_000;
const ENRICHMENT_POLL_MS = 250;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));
const round1 = (n: number) => Math.round(n * 10) / 10;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Lost samples count as slower than any other (Infinity): the percentiles cover every webhook sent. */
function summarize(latencies: number[], lost: number): LatencySummary {
  const sorted = [...latencies, ...Array.from({ length: lost }, () => Number.POSITIVE_INFINITY)].sort((a, b) => a - b);
  return {
    samples: sorted.length,
    lost,
    p50: round1(percentile(sorted, 50)),
    p95: round1(percentile(sorted, 95)),
    max: round1(sorted.at(-1) ?? Number.NaN),
  };
}

interface RecordView {
  status?: string;
  enrichment?: string;
}

async function getRecord(rt: LocalRuntime, id: string): Promise<RecordView | null> {
  const res = await fetch(`${rt.url}/conversations/${encodeURIComponent(id)}`);
  if (res.status === 404) {
    await res.arrayBuffer();
    return null;
  }
  if (res.status !== 200) throw new Error(`GET /conversations/${id} answered ${res.status}`);
  return (await res.json()) as RecordView;
}

/** Polls until `visible(record)`; the milliseconds from `from`, or null after SAMPLE_TIMEOUT_MS. */
async function until(rt: LocalRuntime, id: string, from: number, visible: (r: RecordView) => boolean): Promise<number | null> {
  for (;;) {
    const polled = performance.now();
    const record = await getRecord(rt, id);
    // The state is visible from the moment of the request that saw it (its answer can only be later).
    if (record && visible(record)) return Math.max(0, polled - from);
    if (polled - from > SAMPLE_TIMEOUT_MS) return null;
    await sleep(POLL_MS - (performance.now() - polled));
  }
}

async function send(rt: LocalRuntime, body: string): Promise<number> {
  const res = await fetch(`${rt.url}/webhooks/threetone`, { method: 'POST', headers: signedRequest(body, rt.webhookSecret), body });
  const accepted = performance.now();
  await res.arrayBuffer();
  if (res.status !== 202) throw new Error(`webhook answered ${res.status}`);
  return accepted;
}

/** A few conversations one at a time, not measured: the JVM of DynamoDB Local and the code paths warm up. */
async function warmUp(rt: LocalRuntime, runId: string): Promise<void> {
  const rng = createRng(80);
  for (let i = 0; i < WARM_UP_CONVERSATIONS; i++) {
    const id = `facts-warm-up-${runId}-${i}`;
    for (const envelope of conversationEvents({ conversationId: id, agentId: 'agent-facts-warm-up', start: new Date(Date.now() - 60_000), durationSeconds: 60, rng })) {
      const accepted = await send(rt, serializeEnvelope(envelope));
      await until(rt, id, accepted, (r) => r.status === (envelope.event === 'conversation_ended' ? 'ended' : 'active'));
    }
  }
}

export async function factsBench(rt: LocalRuntime, opts: FactsOptions): Promise<FactsFigures> {
  const startEveryMs = opts.startEveryMs ?? 500;
  const endAfterMs = opts.endAfterMs ?? 1750;
  await warmUp(rt, opts.runId);
  const rng = createRng(8);
  const ids: string[] = [];
  const t0 = performance.now() + 200;
  const wall0 = Date.now() + 200;
  const loadAtStart = os.loadavg()[0]!;
  const plan: { at: number; id: string; event: string; body: string }[] = [];
  for (let i = 0; i < opts.conversations; i++) {
    const id = `facts-bench-${opts.runId}-${String(i).padStart(3, '0')}`;
    ids.push(id);
    const startOffset = i * startEveryMs;
    // Webhook timestamps as ThreeTone would stamp them: when the event happened (here, when it is sent).
    const [started, ended] = conversationEvents({
      conversationId: id,
      agentId: `agent-facts-${i % 5}`,
      start: new Date(wall0 + startOffset),
      durationSeconds: endAfterMs / 1000,
      rng,
    });
    plan.push({ at: t0 + startOffset, id, event: started!.event, body: serializeEnvelope(started!) });
    // conversationEvents rounds the duration to whole seconds: keep the end's timestamp as planned.
    const endEnvelope = { ...ended!, timestamp: new Date(wall0 + startOffset + endAfterMs).toISOString() };
    plan.push({ at: t0 + startOffset + endAfterMs, id, event: ended!.event, body: serializeEnvelope(endEnvelope) });
  }
  plan.sort((a, b) => a.at - b.at);

  const started: number[] = [];
  const ended: number[] = [];
  let startedLost = 0;
  let endedLost = 0;
  let lastEndAccepted = 0;
  await Promise.all(
    plan.map(async (w) => {
      await sleep(w.at - performance.now());
      const accepted = await send(rt, w.body);
      if (w.event === 'conversation_started') {
        const ms = await until(rt, w.id, accepted, (r) => r.status === 'active' || r.status === 'ended');
        if (ms === null) startedLost++;
        else started.push(ms);
      } else {
        lastEndAccepted = Math.max(lastEndAccepted, accepted);
        const ms = await until(rt, w.id, accepted, (r) => r.status === 'ended');
        if (ms === null) endedLost++;
        else ended.push(ms);
      }
    }),
  );
  const sendSeconds = (plan.at(-1)!.at - plan[0]!.at) / 1000;

  // Enrichment: every conversation `done`, or the deadline.
  const waitStarted = performance.now();
  const state = new Map<string, string>();
  let allDoneAt: number | null = null;
  for (;;) {
    for (const id of ids) {
      if (state.get(id) === 'done') continue;
      state.set(id, (await getRecord(rt, id))?.enrichment ?? 'missing');
    }
    if (ids.every((id) => state.get(id) === 'done')) {
      allDoneAt = performance.now();
      break;
    }
    if (performance.now() - waitStarted >= opts.enrichmentDeadlineMs) break;
    await sleep(ENRICHMENT_POLL_MS);
  }
  const count = (value: string) => ids.filter((id) => state.get(id) === value).length;

  const healthRes = await fetch(`${rt.url}/health`);
  const health = healthRes.ok ? (((await healthRes.json()) as { enrichment?: FactsFigures['enrichment']['health'] }).enrichment ?? null) : null;

  return {
    conversations: opts.conversations,
    startEveryMs,
    endAfterMs,
    pollMs: POLL_MS,
    load: { start: loadAtStart, end: os.loadavg()[0]! },
    webhooksPerSec: sendSeconds > 0 ? (plan.length - 1) / sendSeconds : Number.NaN,
    startedVisible: summarize(started, startedLost),
    endedVisible: summarize(ended, endedLost),
    enrichment: {
      done: count('done'),
      pending: count('pending'),
      gaveUp: count('gave_up'),
      allDoneAfterSeconds: allDoneAt === null ? null : round1((allDoneAt - lastEndAccepted) / 1000),
      waitedSeconds: round1((performance.now() - waitStarted) / 1000),
      health,
    },
    threeTone: threeToneCost(rt, new Set(ids)),
  };
}

const API_PATH = /^\/v1\/voiceai\/conversations\/([^/]+)(\/transcript)?\/?$/;

function threeToneCost(rt: LocalRuntime, ids: ReadonlySet<string>): ThreeToneCost {
  const cost: ThreeToneCost = { requests: 0, details: 0, transcript: 0, throttled: 0, allRequests: 0 };
  for (const r of rt.simulator?.requests ?? []) {
    if (r.path.startsWith('/_simulator/')) continue;
    cost.allRequests++;
    if (r.status === 429) cost.throttled++;
    const m = API_PATH.exec(r.path);
    if (!m || !ids.has(decodeURIComponent(m[1]!))) continue;
    cost.requests++;
    if (m[2]) cost.transcript++;
    else cost.details++;
  }
  return cost;
}

/** The conditions the report compares; each runs on a fresh runtime. */
export interface FactsCondition {
  name: string;
  /** What ThreeTone does, for the report. */
  description: string;
  env: Record<string, string>;
  /** Waits for every conversation to be enriched (and counts ThreeTone's requests per conversation). */
  waitForEnrichment: boolean;
  /** Runs once the runtime is up, before any webhook. */
  setup?: (rt: LocalRuntime) => void;
}

export const FACTS_CONDITIONS: readonly FactsCondition[] = [
  {
    name: 'ThreeTone healthy',
    description: 'simulator at its defaults (100 requests/minute, 1,000/hour), budget at its defaults (100/minute, 1,000/hour)',
    env: {
      SIMULATOR_RATE_LIMIT_PER_MINUTE: '100',
      SIMULATOR_RATE_LIMIT_PER_HOUR: '1000',
      THREETONE_REQUESTS_PER_MINUTE: '100',
      THREETONE_REQUESTS_PER_HOUR: '1000',
    },
    waitForEnrichment: true,
  },
  {
    name: 'ThreeTone throttling',
    description:
      'simulator limited to 2 requests/minute and 10/hour and answering 429 to half of the requests it lets through; budget 2/minute, 10/hour',
    env: {
      SIMULATOR_RATE_LIMIT_PER_MINUTE: '2',
      SIMULATOR_RATE_LIMIT_PER_HOUR: '10',
      THREETONE_REQUESTS_PER_MINUTE: '2',
      THREETONE_REQUESTS_PER_HOUR: '10',
    },
    waitForEnrichment: false,
    setup: (rt) => rt.simulator?.faults.setRandomFailureRate(0.5, '429'),
  },
];
