/**
 * `npm run bench [-- --write]`: figures, never pass/fail.
 *
 * (a) the local runtime, started in this process on a temp DATA_DIR (ThreeTone simulator rate limit
 *     and reconciler off): live stream latency (webhook 202 → WebSocket message, alone and among
 *     many connected clients; bench/live-bench.ts), end-to-end throughput (N conversations sent → queue drained), then ingest
 *     under load with autocannon (the queue consumer stopped, so the figure is the ingest path alone);
 *     Then webhook facts first (issue 8; bench/facts-bench.ts): webhook 202 → the state visible in the
 *     query API, with ThreeTone healthy and throttling (a fresh runtime each), and ThreeTone's requests
 *     per conversation;
 * (c) ingest vs its floor (issue 10; bench/ingest-bench.ts): the local webhook route (ingest handler,
 *     durable queue, fsync, group commit) vs a bare HMAC + 202 server and vs one fsync per webhook,
 *     at several concurrencies, no DynamoDB involved;
 * (d) each Lambda entry bundled with esbuild: size, and cold import time in a fresh Node process.
 * (c) the cost per million typical conversations and the key-heat table (bench/cost/, issue 10).
 * Prints a markdown report; `--write` puts it into BENCHMARKS.md between the bench markers.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { bundleBench, type BundleFigures } from './bundle-bench.js';
import type { CostRun } from './cost/cost-bench.js';
import { costReport } from './cost/cost-report.js';
import type { FactsCondition, FactsFigures } from './facts-bench.js';
import type { IngestComparison } from './ingest-bench.js';
import type { LiveFigures } from './live-bench.js';
import type { EndToEndFigures, IngestFigures } from './runtime-bench.js';

// Before anything loads the shared logger: one JSON line per request would be the benchmark.
process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
process.env.POWERTOOLS_DEV ??= 'true';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const ROOT = resolve(import.meta.dirname, '..');
const BENCHMARKS = join(ROOT, 'BENCHMARKS.md');
const START = '<!-- bench:start -->';
const END = '<!-- bench:end -->';

const { values } = parseArgs({
  options: {
    write: { type: 'boolean', default: false },
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '32' },
    conversations: { type: 'string', default: '200' },
    'live-conversations': { type: 'string', default: '40' },
    'live-clients': { type: 'string', default: '500' },
    'facts-conversations': { type: 'string', default: '40' },
    'ingest-seconds': { type: 'string', default: '5' },
    'ingest-concurrency': { type: 'string', default: '1,16,64' },
    'skip-ingest-compare': { type: 'boolean', default: false },
    'skip-facts': { type: 'boolean', default: false },
    'skip-runtime': { type: 'boolean', default: false },
    'skip-bundles': { type: 'boolean', default: false },
    'skip-cost': { type: 'boolean', default: false },
    'cost-conversations': { type: 'string', default: '100' },
  },
});
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const conversations = Number(values.conversations);
const liveConversations = Number(values['live-conversations']);
const liveClients = Number(values['live-clients']);
const factsConversations = Number(values['facts-conversations']);
const ingestSeconds = Number(values['ingest-seconds']);
const ingestConcurrency = values['ingest-concurrency'].split(',').map(Number);
if (ingestConcurrency.some((c) => !Number.isInteger(c) || c < 1)) throw new RangeError('--ingest-concurrency must be positive integers, comma-separated');
for (const [name, v] of Object.entries({
  seconds,
  connections,
  conversations,
  'live-conversations': liveConversations,
  'live-clients': liveClients,
  'facts-conversations': factsConversations,
  'ingest-seconds': ingestSeconds,
})) {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`--${name} must be a positive integer`);
}

const log = (msg: string) => console.error(`[bench] ${msg}`);
const r1 = (n: number) => (Math.round(n * 10) / 10).toLocaleString('en-US');
const r0 = (n: number) => Math.round(n).toLocaleString('en-US');

function machine() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown CPU',
    cores: cpus.length,
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    load: os.loadavg().map((l) => l.toFixed(2)).join(' / '),
    load1: os.loadavg()[0]!,
  };
}

async function runtimeFigures(): Promise<{ e2e: EndToEndFigures; ingest: IngestFigures; live: LiveFigures[] }> {
  // Imported here, after the environment above is set.
  const { startLocalRuntime } = await import('#local/runtime.js');
  const { endToEndBench, ingestBench } = await import('./runtime-bench.js');
  const { liveBench } = await import('./live-bench.js');
  const dataDir = await mkdtemp(join(os.tmpdir(), 'threetone-bench-'));
  log(`starting the local runtime in ${dataDir}`);
  const rt = await startLocalRuntime({
    ...process.env,
    HOST: '127.0.0.1',
    PORT: '0',
    DATA_DIR: dataDir,
    // Throughput of our own code: ThreeTone's quota (simulator and budget) out of the way here;
    // the facts section measures it with the quota in force.
    SIMULATOR_RATE_LIMIT_PER_MINUTE: '0',
    SIMULATOR_RATE_LIMIT_PER_HOUR: '0',
    THREETONE_REQUESTS_PER_MINUTE: '1000000',
    THREETONE_REQUESTS_PER_HOUR: '1000000',
    RECONCILE_INTERVAL_SECONDS: '0',
    THREETONE_WEBHOOK_SECRET: 'bench-secret',
    QUERY_API_KEY: '',
    THREETONE_API_URL: '',
  });
  try {
    // First, on an idle pipeline: each sample is one webhook at a time.
    const live: LiveFigures[] = [];
    for (const otherClients of [0, liveClients]) {
      log(`live stream: ${liveConversations * 2} webhooks, one at a time, ${otherClients} other clients connected`);
      live.push(await liveBench(rt, { conversations: liveConversations, otherClients, runId: String(Date.now()) }));
    }
    log(`end to end: ${conversations} conversations, ${connections} in flight, until the queue drains`);
    const e2e = await endToEndBench(rt, { conversations, concurrency: connections });
    log(`ingest: autocannon, ${connections} connections, ${seconds} s`);
    const ingest = await ingestBench(rt, { connections, seconds, poolSize: 20_000 });
    return { e2e, ingest, live };
  } finally {
    log('stopping the runtime');
    await rt.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

interface FactsRun {
  condition: FactsCondition;
  figures: FactsFigures;
}

/** Issue 8's figures: one fresh runtime per condition (its own budget, its own simulator windows). */
async function factsFigures(): Promise<FactsRun[]> {
  const { startLocalRuntime } = await import('#local/runtime.js');
  const { factsBench, FACTS_CONDITIONS } = await import('./facts-bench.js');
  const runs: FactsRun[] = [];
  for (const condition of FACTS_CONDITIONS) {
    const dataDir = await mkdtemp(join(os.tmpdir(), 'threetone-bench-facts-'));
    log(`facts first, ${condition.name}: starting a runtime in ${dataDir}`);
    const rt = await startLocalRuntime({
      ...process.env,
      HOST: '127.0.0.1',
      PORT: '0',
      DATA_DIR: dataDir,
      RECONCILE_INTERVAL_SECONDS: '0',
      LOCAL_TIME_SCALE: '1',
      LOCAL_ENRICH_INTERVAL_MS: '1000',
      THREETONE_WEBHOOK_SECRET: 'bench-secret',
      QUERY_API_KEY: '',
      THREETONE_API_URL: '',
      ...condition.env,
    });
    try {
      condition.setup?.(rt);
      log(`facts first, ${condition.name}: ${factsConversations} conversations, start and end webhooks on a schedule`);
      const figures = await factsBench(rt, {
        conversations: factsConversations,
        runId: `${Date.now().toString(36)}-${runs.length}`,
        enrichmentDeadlineMs: condition.waitForEnrichment ? 120_000 : 0,
      });
      runs.push({ condition, figures });
    } finally {
      await rt.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  }
  return runs;
}

function report(
  m: ReturnType<typeof machine>,
  runtime: Awaited<ReturnType<typeof runtimeFigures>> | null,
  facts: FactsRun[] | null,
  ingest: IngestComparison | null,
  bundles: BundleFigures[] | null,
  cost: CostRun | null,
): string {
  const lines: string[] = [];
  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  lines.push(`Measured ${date} on ${m.cpu} (${m.cores} cores, ${m.memoryGiB} GiB), Node ${m.node}, ${m.os}; load average at the end ${m.load}.`);
  if (m.load1 > m.cores) {
    lines.push(`The machine was busy (1-minute load ${m.load1.toFixed(2)} on ${m.cores} cores, other work running): latencies are inflated; compare with a quieter run.`);
  }
  lines.push(
    `Reproduce: \`npm run bench\` (print) or \`npm run bench -- --write\` (update this file); options \`--seconds ${seconds} --connections ${connections} --conversations ${conversations} --live-conversations ${liveConversations} --live-clients ${liveClients} --facts-conversations ${factsConversations} --ingest-seconds ${ingestSeconds} --ingest-concurrency ${ingestConcurrency.join(',')}\`.`,
  );
  if (runtime) {
    const { ingest: i, e2e: e } = runtime;
    lines.push('');
    lines.push('### Local runtime: live stream latency');
    lines.push('');
    lines.push(
      'Webhook `202` → the `ThreeTone Event` envelope of that webhook at a client of `ws://…/live` subscribed to everything ' +
        `(ingest → durable queue → processor → DynamoDB Local → bus → WebSocket). ${liveConversations} conversations, start and end webhooks, ` +
        'sent one at a time; with other clients, the measuring client is the last one served.',
    );
    lines.push('');
    lines.push('| clients connected | samples | p50 | p95 | max | lost | clients dropped as slow |');
    lines.push('|---:|---:|---:|---:|---:|---:|---:|');
    for (const l of runtime.live) {
      lines.push(`| ${l.otherClients + 1} | ${l.samples} | ${l.latencyMs.p50} ms | ${l.latencyMs.p95} ms | ${l.latencyMs.max} ms | ${l.lost} | ${l.dropped} |`);
    }
    lines.push('');
    lines.push('### Local runtime: webhook ingest');
    lines.push('');
    lines.push(
      `\`POST /webhooks/threetone\`, autocannon, ${i.connections} connections, ${r0(i.seconds)} s, ${r0(i.distinctBodies)} distinct signed bodies; ` +
        'verify → validate → fsync\'ed enqueue, with the queue consumer stopped (ingest alone).',
    );
    lines.push('');
    lines.push('| req/s (mean) | latency p50 | p90 | p99 | max | requests | non-202 |');
    lines.push('|---:|---:|---:|---:|---:|---:|---:|');
    lines.push(`| ${r0(i.reqPerSec)} | ${i.latencyMs.p50} ms | ${i.latencyMs.p90} ms | ${i.latencyMs.p99} ms | ${i.latencyMs.max} ms | ${r0(i.requests)} | ${r0(i.non202)} |`);
    lines.push('');
    lines.push('### Local runtime: end-to-end processing');
    lines.push('');
    lines.push(
      `Every webhook of ${e.conversations} conversations sent with ${e.concurrency} in flight; time from the first send until the queue has drained ` +
        '(ingest → queue → processor → DynamoDB Local → details from the simulator, rate limit off → bus).',
    );
    lines.push('');
    lines.push('| conversations | webhooks | seconds | conversations/s | webhooks/s | Conversation Completed events (distinct event_id) |');
    lines.push('|---:|---:|---:|---:|---:|---:|');
    lines.push(`| ${e.conversations} | ${e.webhooks} | ${r1(e.seconds)} | ${r1(e.conversationsPerSec)} | ${r1(e.webhooksPerSec)} | ${e.completedEvents} (${e.completedEventIds}) |`);
  }
  if (ingest) {
    const { INGEST_SERVERS } = ingestModule!;
    lines.push('');
    lines.push('### Local runtime: ingest vs a bare HMAC server (issue 10)');
    lines.push('');
    lines.push(
      '`POST /webhooks/threetone` with the same autocannon client, ' +
        `${r0(ingest.distinctBodies)} distinct signed bodies, ${ingestSeconds} s per row, each server in its own Node process: ` +
        '**bare HMAC + 202**, a bare Node HTTP server that only verifies the signature; **local webhook route**, the server of `npm start` ' +
        '(local/http-server.ts) with the real ingest handler and the durable local queue, fsync on, its consumer stopped (ingest alone), ' +
        'with group commit (one fsync for the webhooks that arrive together) and with one fsync per webhook. ' +
        '"Webhooks per fsync" is the 202s divided by the journal\'s fsyncs.',
    );
    lines.push('');
    lines.push('| connections | server | req/s (mean) | p50 | p99 | non-202 | webhooks per fsync | req/s vs bare |');
    lines.push('|---:|---|---:|---:|---:|---:|---:|---:|');
    for (const row of ingest.rows) {
      const bare = ingest.rows.find((r) => r.concurrency === row.concurrency && r.server === 'bare');
      const label = INGEST_SERVERS.find((s) => s.mode === row.server)!.label;
      const perFsync = row.fsyncs > 0 ? r1((row.requests - row.non202) / row.fsyncs) : '–';
      const ratio = bare && bare.reqPerSec > 0 ? `${(row.reqPerSec / bare.reqPerSec).toFixed(2)}×` : '–';
      lines.push(`| ${row.concurrency} | ${label} | ${r0(row.reqPerSec)} | ${row.latencyMs.p50} ms | ${row.latencyMs.p99} ms | ${r0(row.non202)} | ${perFsync} | ${ratio} |`);
    }
  }
  if (facts && facts.length > 0) {
    const f0 = facts[0]!.figures;
    const ms = (n: number) => (Number.isNaN(n) ? '–' : n === Number.POSITIVE_INFINITY ? '> 15 s' : `${r0(n)} ms`);
    lines.push('');
    lines.push('### Local runtime: webhook facts first (issue 8)');
    lines.push('');
    lines.push(
      `Webhook \`202\` → the first \`GET /conversations/{id}\` (polled every ${f0.pollMs} ms) that shows the webhook's state: ` +
        '`active` after `conversation_started` (or already `ended`), `ended` after `conversation_ended`. ' +
        `${f0.conversations} conversations; one starts every ${f0.startEveryMs} ms and ends ${r0(f0.endAfterMs)} ms after its start ` +
        `(${r1(f0.webhooksPerSec)} webhooks/s, sent on schedule, not waiting for each other). ` +
        'Each condition runs on a fresh runtime (empty budget and rate windows). The goal of issue 8 is p95 ≤ 1 s.',
    );
    lines.push('');
    lines.push('| ThreeTone | webhook → state | samples | p50 | p95 | max | not visible in 15 s | load average (1 min), start → end |');
    lines.push('|---|---|---:|---:|---:|---:|---:|---:|');
    for (const { condition, figures: f } of facts) {
      for (const [label, l] of [
        ['started → `active`', f.startedVisible],
        ['ended → `ended`', f.endedVisible],
      ] as const) {
        lines.push(`| ${condition.name} | ${label} | ${l.samples} | ${ms(l.p50)} | ${ms(l.p95)} | ${ms(l.max)} | ${l.lost} | ${f.load.start.toFixed(2)} → ${f.load.end.toFixed(2)} |`);
      }
    }
    lines.push('');
    lines.push('Conditions: ' + facts.map(({ condition }) => `**${condition.name}**: ${condition.description}.`).join(' '));
    lines.push('');
    lines.push('ThreeTone requests answered by the simulator for these conversations, and the enrichment they reached:');
    lines.push('');
    lines.push('| ThreeTone | requests | per conversation | details | transcript | 429s (all requests) | enrichment done / pending | all done after the last end |');
    lines.push('|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const { condition, figures: f } of facts) {
      const t = f.threeTone;
      const e = f.enrichment;
      const doneAfter = e.allDoneAfterSeconds === null ? (condition.waitForEnrichment ? `not within ${r0(e.waitedSeconds)} s` : 'not waited for') : `${r1(e.allDoneAfterSeconds)} s`;
      lines.push(
        `| ${condition.name} | ${t.requests} | ${(t.requests / f.conversations).toFixed(2)} | ${t.details} | ${t.transcript} | ${t.throttled} (of ${t.allRequests}) | ${e.done} / ${e.pending} | ${doneAfter} |`,
      );
    }
  }
  if (cost) {
    lines.push('');
    lines.push('### Cost per million conversations and key heat (issue 10)');
    lines.push('');
    lines.push(`Reproduce alone: \`npm run bench:cost -- --conversations ${cost.typical.options.conversations}\`.`);
    lines.push('');
    lines.push(costReport(cost));
  }
  if (bundles) {
    lines.push('');
    lines.push('### Lambda bundles');
    lines.push('');
    lines.push(
      'esbuild: bundle, platform node, ESM, target node20, minified, createRequire banner, AWS SDK included. ' +
        `Cold import: \`await import(bundle)\` timed inside a fresh \`node\` process (median of ${bundles[0]?.runs ?? 5}); process: spawn to exit.`,
    );
    lines.push('');
    lines.push('| function | bytes | KB | cold import | node process |');
    lines.push('|---|---:|---:|---:|---:|');
    for (const b of bundles) lines.push(`| ${b.name} | ${r0(b.bytes)} | ${r1(b.bytes / 1024)} | ${r0(b.importMs)} ms | ${r0(b.processMs)} ms |`);
  }
  return lines.join('\n');
}

const PREAMBLE = `# Benchmarks

Figures, never pass/fail: what this code does on one machine, to compare with itself over time.
The section between the markers is written by \`npm run bench -- --write\` (bench/run.ts).

`;

const NOTES = `

## Reading the figures
- The local runtime is one Node process (HTTP server, ingest, queue, processor, simulator) plus
  DynamoDB Local in a JVM, all on the machine named above: its figures describe \`npm start\`, not AWS.
  On AWS, API Gateway and SQS take the ingest load and Lambda scales the processor out.
- Ingest latency includes the fsync of the durable local queue: a 202 means the event is on disk.
- Ingest vs a bare HMAC server: the bare server is the floor of any Node ingest on this machine (read
  the body, one HMAC, answer). The local webhook route adds the API Gateway event, the envelope's
  validation, the journal write and its fsync before each 202. With group commit the webhooks that
  arrive while an fsync runs share the next one, so durability costs less as concurrency grows (see
  "webhooks per fsync"); with one connection there is nothing to group, and the two queue rows differ
  only by noise. The client runs in the bench's process, each server in its own.
- End-to-end throughput is bounded by the processor (one batch of up to 10 at a time locally) and
  DynamoDB Local's conditional transactions; in production ThreeTone's API (100 requests/minute)
  bounds the detail fetches far below either. "Conversation Completed events" counts the lines on
  the local bus for the run's conversations; lines beyond the distinct \`event_id\`s are
  re-publications of the same event (consumers dedupe on \`event_id\`).
- Live stream latency is what an operator's page waits for: the webhook's own processing up to the
  publish of its \`ThreeTone Event\` (dequeue, the conditional write of the event with its outbox and
  the outbox read in DynamoDB Local; ThreeTone's details are fetched after it) dominates; the
  WebSocket fan-out to 500 clients adds little. On AWS the path is
  API Gateway → SQS → Lambda → EventBridge → Lambda → AppSync Events, not measured here.
- Webhook facts first (issue 8): the state a webhook brings is committed by the processor itself;
  ThreeTone's details come later from the enricher, paced by the request budget. The two conditions
  differ only in ThreeTone (and the budget), so a difference between their latencies is ThreeTone
  waiting in the facts path, or machine load (see the load column). The polling of the query API
  (every 20 ms per webhook not yet visible) runs on the same machine and is part of the load.
  "Per conversation" counts details and transcript requests: the transcript is fetched only when
  the details do not carry it.
- Cold import is the module-load part of a Lambda cold start; the runtime's own start-up is not
  included. Shared machines vary: compare figures taken on the same machine, and look at the load.
`;

async function write(section: string): Promise<void> {
  const block = `${START}\n${section}\n${END}`;
  let text: string;
  try {
    text = await readFile(BENCHMARKS, 'utf8');
  } catch {
    text = '';
  }
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  const next = a !== -1 && b > a ? `${text.slice(0, a)}${block}${text.slice(b + END.length)}` : `${PREAMBLE}${block}${NOTES}`;
  await writeFile(BENCHMARKS, next);
  log(`wrote ${BENCHMARKS}`);
}

const runtime = values['skip-runtime'] ? null : await runtimeFigures();
const facts = values['skip-runtime'] || values['skip-facts'] ? null : await factsFigures();
// Imported here, after the environment above is set (its servers inherit it).
const ingestModule = values['skip-ingest-compare'] ? null : await import('./ingest-bench.js');
const ingest = ingestModule ? await ingestModule.ingestCompareBench({ concurrencies: ingestConcurrency, seconds: ingestSeconds, poolSize: 6_000, log }) : null;
let bundles: BundleFigures[] | null = null;
if (!values['skip-bundles']) {
  const outDir = await mkdtemp(join(os.tmpdir(), 'threetone-bundles-'));
  try {
    log(`bundling ${outDir}`);
    bundles = await bundleBench(ROOT, outDir);
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}
// In its own process: it counts log bytes at the deployed level (INFO), which this process silences.
let cost: CostRun | null = null;
if (!values['skip-cost']) {
  log('cost: typical conversations through the real code on DynamoDB Local');
  const out = execFileSync(process.execPath, [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), join(ROOT, 'bench/cost/run-cost.ts'), '--json', '--conversations', values['cost-conversations']!], {
    env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'INFO', POWERTOOLS_DEV: '' },
    maxBuffer: 64 * 1024 * 1024,
  });
  cost = JSON.parse(out.toString('utf8').trim().split('\n').at(-1)!) as CostRun;
}
const section = report(machine(), runtime, facts, ingest, bundles, cost);
console.log(section);
if (values.write) await write(section);
