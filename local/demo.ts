/**
 * `npm run demo`: a realistic burst through a RUNNING system (`npm start` in another terminal).
 *
 * 1. check the server is up (GET /health), find its simulator and events file (DATA_DIR/runtime.json),
 *    and say where the live page is (open it to watch the run);
 * 2. generate ~40 conversations over 5 agents (seeded), ~20% of the webhooks delivered twice, and
 *    deliveries out of order;
 * 3. inject a few upstream failures at the ThreeTone simulator (500, 429, timeout, reset);
 * 4. send, a few requests in flight, with progress;
 * 5. wait until every conversation is ended with its details stored (query API);
 * 6. print per-agent metrics and check them against the demo's own expectation (each conversation
 *    counted exactly once), and count `Conversation Completed` events on the local bus;
 * 7. fetch one conversation's recording through the query API (type, size, a Range request → 206);
 * 8. erase another with DELETE: its record and recording answer 404, `Conversation Erased` is on the
 *    bus, its agent's aggregates lost exactly it (after step 6, whose checks it would otherwise change).
 * Exit code 0 only when every check passes.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { AgentMetrics } from '#core/aggregates.js';
import type { ConversationRecord } from '#core/types.js';
import { demoAudio, demoErasure } from './demo-audio-erasure.js';
import { readEvents } from './local-bus.js';
import { describeFetchError, getJson, postWebhook, targetFrom, type Target } from './send.js';
import { createRng, demoTraffic, type Delivery, type DemoTraffic } from './traffic.js';

const USAGE = `usage: npm run demo -- [options]   (needs a running server: npm start)

  --conversations <n>    default 40
  --agents <n>           default 5
  --seed <n>             default 42
  --duplicate-rate <p>   share of webhooks delivered twice, default 0.2
  --concurrency <n>      requests in flight, default 8
  --timeout <seconds>    how long to wait for processing, default 600 (a run takes about a minute;
                         right after another, ThreeTone's hourly quota can hold details for minutes)
  --url <url>            server (default http://HOST:PORT, i.e. http://127.0.0.1:3000)
  --secret <secret>      signing secret (default THREETONE_WEBHOOK_SECRET, else the development default)
  --simulator-url <url>  the ThreeTone simulator (default: from DATA_DIR/runtime.json)
  --events-file <path>   the local bus file (default: from DATA_DIR/runtime.json)
  --skip-faults          inject no upstream failures
  --skip-erasure         erase no conversation at the end
  QUERY_API_KEY          sent as x-api-key when set; DATA_DIR as for npm start (default .local)`;

/** Where to watch the run: the live page of the server (the key, when one is needed, is not printed). */
function livePageHint(url: string, env: Record<string, string | undefined>): string {
  const page = `${origin(url)}/`;
  const key = env.QUERY_API_KEY?.trim() ? `#key=<your QUERY_API_KEY>` : '';
  return `live page: open ${page}${key} in a browser to watch this run (no reload needed)`;
}

/** What `npm start` writes to DATA_DIR/runtime.json for companion commands. */
interface RuntimeInfo {
  url?: string;
  threeToneUrl?: string;
  simulator?: boolean;
  eventsFile?: string;
  pid?: number;
}

interface Check {
  name: string;
  ok: boolean | null; // null: skipped
  detail?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const origin = (url: string) => {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
};

function alive(pid: number | undefined): boolean {
  if (!pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readRuntimeInfo(file: string): Promise<RuntimeInfo | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as RuntimeInfo;
  } catch {
    return null;
  }
}

/** One line that updates in place on a terminal, periodic lines otherwise. */
class Progress {
  private last = 0;
  private lastText = '';
  private readonly tty = process.stdout.isTTY === true;
  update(text: string): void {
    if (this.tty) {
      process.stdout.write(`\r\x1b[K${text}`);
    } else if (text !== this.lastText && Date.now() - this.last >= 2000) {
      console.log(text);
      this.last = Date.now();
    }
    this.lastText = text;
  }
  done(text: string): void {
    if (this.tty) process.stdout.write(`\r\x1b[K`);
    console.log(text);
    this.lastText = '';
    this.last = 0;
  }
}

/** Runs `work` over `items` with at most `limit` in flight. */
async function pool<T>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await work(items[i]!, i);
    }
  });
  await Promise.all(workers);
}

const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const fmt = {
  pct: (v: number | null) => (v === null ? '–' : `${(v * 100).toFixed(0)}%`),
  secs: (v: number | null) => {
    if (v === null) return '–';
    const s = Math.round(v);
    return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  },
  num: (v: number | null, places = 2) => (v === null ? '–' : v.toFixed(places)),
};

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Conversations some of whose webhooks were delivered after a later one of the same conversation. */
function outOfOrderConversations(deliveries: readonly Delivery[]): number {
  const latest = new Map<string, number>();
  const reordered = new Set<string>();
  for (const d of deliveries) {
    if (!d.conversationId) continue;
    const t = Date.parse(String((JSON.parse(d.body) as { timestamp: unknown }).timestamp));
    if (t < (latest.get(d.conversationId) ?? -Infinity)) reordered.add(d.conversationId);
    latest.set(d.conversationId, Math.max(t, latest.get(d.conversationId) ?? -Infinity));
  }
  return reordered.size;
}

async function injectFaults(simulatorUrl: string, traffic: DemoTraffic, seed: number): Promise<string[]> {
  const rng = createRng(`${seed}|faults`);
  const ids = [...traffic.conversations.map((c) => c.conversationId)];
  const take = () => ids.splice(Math.floor(rng() * ids.length), 1)[0];
  const plan = [
    { kind: '500', count: 2, label: 'two 500s' },
    { kind: '429', count: 1, retryAfterSeconds: 2, label: 'a 429 with Retry-After: 2' },
    { kind: 'timeout', count: 1, label: 'a request that never answers (client timeout)' },
    { kind: 'reset', count: 1, label: 'a connection reset' },
  ];
  const done: string[] = [];
  for (const f of plan) {
    const conversationId = take();
    if (!conversationId) break;
    const res = await fetch(`${simulatorUrl}/_simulator/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind: f.kind, count: f.count, conversationId, ...(f.retryAfterSeconds && { retryAfterSeconds: f.retryAfterSeconds }) }),
    });
    if (!res.ok) throw new Error(`simulator refused the fault: ${res.status} ${await res.text()}`);
    done.push(`${f.label} for ${conversationId}`);
  }
  return done;
}

async function metricsOf(target: Target, agentId: string, from: string, to: string): Promise<AgentMetrics> {
  const path = `/agents/${encodeURIComponent(agentId)}/metrics?from=${from}&to=${to}`;
  const res = await getJson<AgentMetrics>(target, path);
  if (res.status === 401) throw new QueryAuthError(res.text);
  if (res.status !== 200 || !res.body) throw new Error(`GET ${path} → ${res.status} ${res.text}`);
  return res.body;
}

class QueryAuthError extends Error {}

function intFlag(name: string, raw: string | undefined, fallback: number, min: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new RangeError(`--${name} must be an integer >= ${min}`);
  return n;
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      conversations: { type: 'string' },
      agents: { type: 'string' },
      seed: { type: 'string' },
      'duplicate-rate': { type: 'string' },
      concurrency: { type: 'string' },
      timeout: { type: 'string' },
      url: { type: 'string' },
      secret: { type: 'string' },
      'simulator-url': { type: 'string' },
      'events-file': { type: 'string' },
      'skip-faults': { type: 'boolean', default: false },
      'skip-erasure': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const conversations = intFlag('conversations', values.conversations, 40, 1);
  const agents = intFlag('agents', values.agents, 5, 1);
  const seed = intFlag('seed', values.seed, 42, 0);
  const concurrency = intFlag('concurrency', values.concurrency, 8, 1);
  const timeoutMs = intFlag('timeout', values.timeout, 600, 1) * 1000;
  const duplicateRate = values['duplicate-rate'] === undefined ? 0.2 : Number(values['duplicate-rate']);
  if (!(duplicateRate >= 0 && duplicateRate <= 1)) throw new RangeError('--duplicate-rate must be in [0, 1]');
  const target = targetFrom(values);

  // 1. the running system
  try {
    const health = await fetch(`${target.url}/health`);
    if (health.status !== 200) throw new Error(`GET /health → ${health.status}`);
  } catch (err) {
    const reason = describeFetchError(err, target.url);
    console.error(reason.includes('start it first') ? reason : `No server ready at ${target.url} (${reason}): start it first with npm start`);
    return 1;
  }
  const dataDir = resolve(process.env.DATA_DIR?.trim() || '.local');
  const infoFile = join(dataDir, 'runtime.json');
  const info = await readRuntimeInfo(infoFile);
  const infoMatches = info !== null && origin(info.url ?? '') === origin(target.url) && alive(info.pid);
  if (info && !infoMatches) console.log(`note: ${infoFile} describes another run (${info.url ?? '?'}), not ${target.url}: ignoring it`);
  const simulatorUrl = values['simulator-url'] ?? (infoMatches && info.simulator !== false ? info.threeToneUrl : undefined);
  const eventsFile =
    values['events-file'] ?? (infoMatches ? info.eventsFile : undefined) ?? (existsSync(join(dataDir, 'events.jsonl')) ? join(dataDir, 'events.jsonl') : undefined);
  console.log(`threetone-pipeline at ${target.url}`);
  console.log(livePageHint(target.url, process.env));

  // 2. the traffic
  const now = new Date();
  const traffic = demoTraffic({ conversations, agents, seed, duplicateRate, now });
  const { deliveries } = traffic;
  const duplicates = deliveries.filter((d) => d.duplicate).length;
  console.log(
    `demo run ${traffic.runId}: ${conversations} conversations over ${agents} agents (seed ${seed}), ${traffic.envelopes.length} webhooks → ` +
      `${deliveries.length} deliveries (${duplicates} duplicates; ${outOfOrderConversations(deliveries)} conversations delivered out of order)`,
  );

  // Aggregates before, so that earlier runs on the same days do not spoil the comparison.
  const from = utcDay(now.getTime() - 3600_000 - 60_000);
  const to = utcDay(now.getTime());
  const baseline = new Map<string, AgentMetrics>();
  try {
    for (const agent of traffic.agentIds) baseline.set(agent, await metricsOf(target, agent, from, to));
  } catch (err) {
    if (err instanceof QueryAuthError) {
      console.error(`The query API wants an x-api-key: set QUERY_API_KEY to the server's (${err.message})`);
      return 1;
    }
    throw err;
  }

  // 3. upstream failures
  if (values['skip-faults']) {
    console.log('upstream failures: skipped (--skip-faults)');
  } else if (!simulatorUrl) {
    const why = infoMatches ? `the server talks to ${info.threeToneUrl ?? 'a real ThreeTone API'}, not the simulator` : `no ${infoFile} for this server, and no --simulator-url`;
    console.log(`upstream failures: skipped (${why})`);
  } else {
    try {
      const injected = await injectFaults(simulatorUrl, traffic, seed);
      console.log(`upstream failures injected at the simulator (${simulatorUrl}):`);
      for (const line of injected) console.log(`  · ${line}`);
    } catch (err) {
      console.log(`upstream failures: skipped (simulator at ${simulatorUrl} not reachable: ${describeFetchError(err, simulatorUrl)})`);
    }
  }

  // 4. send
  const progress = new Progress();
  let sent = 0;
  let accepted = 0;
  let dupSent = 0;
  const rejected: string[] = [];
  const sendLine = () => `sending  ${sent}/${deliveries.length}  accepted ${accepted}  duplicates ${dupSent}  rejected ${rejected.length}`;
  const sendStarted = Date.now();
  await pool(deliveries, concurrency, async (d) => {
    try {
      const res = await postWebhook(target, d.body);
      if (res.status >= 200 && res.status < 300) accepted++;
      else rejected.push(`${d.event} ${d.conversationId ?? ''} → ${res.status} ${res.text}`);
    } catch (err) {
      rejected.push(`${d.event} ${d.conversationId ?? ''} → ${describeFetchError(err, target.url)}`);
    }
    sent++;
    if (d.duplicate) dupSent++;
    progress.update(sendLine());
  });
  progress.done(`${sendLine()}  (${((Date.now() - sendStarted) / 1000).toFixed(1)} s)`);
  for (const r of rejected.slice(0, 5)) console.log(`  ✗ ${r}`);

  // 5. processing
  console.log(
    'processing: the processor retries the injected failures (honouring Retry-After) and the simulator ' +
      'rate-limits like ThreeTone, so this may take a minute (longer right after another run: the request ' +
      'budget paces ThreeTone\'s hourly quota)',
  );
  const records = new Map<string, ConversationRecord>();
  const pending = new Set(traffic.conversations.map((c) => c.conversationId));
  const waitStarted = Date.now();
  const waitLine = () =>
    `processing  ${records.size}/${conversations} conversations ended with details stored  (${Math.round((Date.now() - waitStarted) / 1000)} s)`;
  while (pending.size > 0 && Date.now() - waitStarted < timeoutMs) {
    await pool([...pending], concurrency, async (id) => {
      const res = await getJson<ConversationRecord>(target, `/conversations/${encodeURIComponent(id)}`);
      if (res.status === 200 && res.body?.status === 'ended' && res.body.details_stored) {
        records.set(id, res.body);
        pending.delete(id);
      }
    });
    progress.update(waitLine());
    if (pending.size > 0) await sleep(1000);
  }
  progress.done(waitLine());

  // 6. checks
  const checks: Check[] = [];
  checks.push({ name: 'every delivery accepted (2xx)', ok: rejected.length === 0, detail: `${accepted}/${deliveries.length}` });
  checks.push({
    name: 'every conversation ended with details stored',
    ok: pending.size === 0,
    detail: pending.size === 0 ? `${conversations}/${conversations}` : `missing after ${timeoutMs / 1000} s: ${[...pending].slice(0, 5).join(', ')}${pending.size > 5 ? ', …' : ''}`,
  });
  const mismatched = traffic.conversations.filter((c) => {
    const r = records.get(c.conversationId);
    return r && (r.agent_id !== c.agentId || r.escalated !== c.escalated || r.duration_seconds !== c.durationSeconds);
  });
  checks.push({
    name: 'records match what was sent (agent, escalation, duration)',
    ok: mismatched.length === 0,
    ...(mismatched.length > 0 && { detail: mismatched.slice(0, 5).map((c) => c.conversationId).join(', ') }),
  });

  const rows: string[][] = [];
  let earlier = 0;
  for (const agent of traffic.agentIds) {
    const before = baseline.get(agent)!;
    const after = await metricsOf(target, agent, from, to);
    const expected = traffic.expected[agent]!;
    const mine = traffic.conversations.filter((c) => c.agentId === agent).map((c) => records.get(c.conversationId));
    const got = mine.filter((r): r is ConversationRecord => r !== undefined);
    const resolved = got.filter((r) => r.resolution_status === 'resolved').length;
    const sats = got.map((r) => r.satisfaction_score).filter((s): s is number => s !== null);
    const problems: string[] = [];
    const delta = (k: 'conversations' | 'resolved' | 'escalations') => after[k] - before[k];
    if (delta('conversations') !== expected.conversations) problems.push(`conversations +${delta('conversations')}, expected +${expected.conversations}`);
    if (delta('escalations') !== expected.escalations) problems.push(`escalations +${delta('escalations')}, expected +${expected.escalations}`);
    if (delta('resolved') !== resolved) problems.push(`resolved +${delta('resolved')}, records say ${resolved}`);
    if (before.conversations === 0 && expected.conversations > 0) {
      // Nothing earlier on these days: the averages must be exactly this run's.
      const avgDuration = Math.round((expected.totalDurationSeconds / expected.conversations) * 1e4) / 1e4;
      if (after.avg_duration_seconds === null || Math.abs(after.avg_duration_seconds - avgDuration) > 0.01)
        problems.push(`avg duration ${after.avg_duration_seconds}, expected ${avgDuration}`);
      const avgSat = sats.length ? sats.reduce((a, b) => a + b, 0) / sats.length : null;
      if ((avgSat === null) !== (after.avg_satisfaction === null) || (avgSat !== null && Math.abs(avgSat - after.avg_satisfaction!) > 0.001))
        problems.push(`avg satisfaction ${after.avg_satisfaction}, records say ${avgSat}`);
    }
    earlier += before.conversations;
    checks.push({ name: `${agent}: each conversation counted exactly once`, ok: problems.length === 0, ...(problems.length > 0 && { detail: problems.join('; ') }) });
    rows.push([
      agent,
      String(after.conversations),
      String(after.resolved),
      fmt.pct(after.resolution_rate),
      fmt.secs(after.avg_duration_seconds),
      fmt.num(after.avg_satisfaction),
      String(after.escalations),
      `${expected.conversations}`,
      problems.length === 0 ? '✓' : '✗',
    ]);
  }
  console.log(`\nper-agent metrics, GET /agents/{id}/metrics?from=${from}&to=${to}`);
  console.log(table(['agent', 'conversations', 'resolved', 'resolution', 'avg duration', 'avg satisfaction', 'escalations', 'this run', 'check'], rows));
  if (earlier > 0) console.log(`(totals include ${earlier} conversation${earlier === 1 ? '' : 's'} from earlier runs on these days; the checks compare what this run added)`);

  // Completed events: published right after the record is stored, so give the outbox a moment.
  if (!eventsFile) {
    checks.push({ name: 'one Conversation Completed event per conversation', ok: null, detail: 'no events file known (pass --events-file)' });
  } else {
    const ids = new Set(traffic.conversations.map((c) => c.conversationId));
    const countCompleted = async () => {
      const counts = new Map<string, { lines: number; eventIds: Set<unknown> }>();
      for (const e of await readEvents(eventsFile)) {
        const id = e.detail.conversation_id;
        if (e['detail-type'] !== 'Conversation Completed' || typeof id !== 'string' || !ids.has(id)) continue;
        const c = counts.get(id) ?? { lines: 0, eventIds: new Set() };
        c.lines += 1;
        c.eventIds.add(e.detail.event_id);
        counts.set(id, c);
      }
      return counts;
    };
    let counts = await countCompleted();
    const deadline = Date.now() + 15_000;
    while (counts.size < ids.size && Date.now() < deadline && pending.size === 0) {
      await sleep(500);
      counts = await countCompleted();
    }
    const total = [...counts.values()].reduce((a, b) => a + b.lines, 0);
    const distinct = [...counts.values()].reduce((a, b) => a + b.eventIds.size, 0);
    const twice = [...counts].filter(([, c]) => c.lines > 1).map(([id]) => id);
    checks.push({
      name: 'one Conversation Completed event per conversation',
      ok: total === ids.size && twice.length === 0,
      detail:
        `${total} in ${eventsFile} for ${ids.size} conversations, ${distinct} distinct event_id` +
        (twice.length ? `; more than one for ${twice.slice(0, 3).join(', ')}${twice.length > 3 ? ` and ${twice.length - 3} more` : ''}` : ''),
    });
  }

  // 7. a recording, 8. an erasure (the last conversation: its agent's checks above are done)
  const [audioOf] = traffic.conversations;
  if (audioOf && pending.size === 0) checks.push(...(await demoAudio(target, audioOf.conversationId, 60_000)));
  const erased = traffic.conversations.at(-1);
  if (values['skip-erasure']) {
    checks.push({ name: 'erasure', ok: null, detail: 'skipped (--skip-erasure)' });
  } else if (erased && erased !== audioOf && pending.size === 0) {
    checks.push(...(await demoErasure(target, erased.conversationId, () => metricsOf(target, erased.agentId, from, to), eventsFile)));
  }

  console.log('\nchecks');
  for (const c of checks) console.log(`  ${c.ok === null ? '–' : c.ok ? '✓' : '✗'} ${c.name}${c.detail ? `  (${c.detail})` : ''}`);
  const failed = checks.filter((c) => c.ok === false).length;
  console.log(failed === 0 ? '\nall checks passed' : `\n${failed} check(s) failed`);
  return failed === 0 ? 0 : 1;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  console.error(err instanceof RangeError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') ? `${(err as Error).message}\n\n${USAGE}` : err);
  process.exitCode = 1;
}
