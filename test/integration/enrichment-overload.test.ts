/**
 * Facts first under sustained overload, through the whole local runtime (`npm start`'s code): traffic
 * at about 3× ThreeTone's hourly quota, on a compressed quota clock. Every conversation shows `ended`
 * from its webhook while its details wait; the budget keeps ThreeTone from answering a single 429;
 * nothing dead-letters; every conversation is eventually enriched or completed from webhook facts; the
 * aggregates count each exactly once. Then the same with the process killed (SIGKILL, DynamoDB Local
 * included) in the middle: nothing is lost.
 *
 * Latency is a benchmark figure (`npm run bench`), not asserted here.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { signBody } from '#core/signature.js';
import { DetailType } from '#core/bus-events.js';
import { readEvents } from '#local/local-bus.js';
import { type LocalRuntime, startLocalRuntime } from '#local/runtime.js';

const SECRET = 'overload-secret';
const ROOT = join(import.meta.dirname, '../..');

/** Quota 7/min and 14/h on a clock 360× faster (a quota hour is 10 s); give up after ~11 s (real). */
const QUOTA_ENV = {
  RECONCILE_INTERVAL_SECONDS: '0',
  THREETONE_WEBHOOK_SECRET: SECRET,
  LOCAL_TIME_SCALE: '360',
  THREETONE_REQUESTS_PER_MINUTE: '7',
  THREETONE_REQUESTS_PER_HOUR: '14',
  SIMULATOR_RATE_LIMIT_PER_MINUTE: '7',
  SIMULATOR_RATE_LIMIT_PER_HOUR: '14',
  ENRICHMENT_GIVE_UP_HOURS: '0.003',
  LOCAL_ENRICH_INTERVAL_MS: '200',
  POWERTOOLS_LOG_LEVEL: 'SILENT',
};

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function post(url: string, envelope: unknown): Promise<number> {
  const body = JSON.stringify(envelope);
  const res = await fetch(`${url}/webhooks/threetone`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-threetone-signature': signBody(body, SECRET) }, body });
  await res.arrayBuffer();
  return res.status;
}

async function record(url: string, id: string): Promise<Record<string, unknown> | null> {
  const res = await fetch(`${url}/conversations/${encodeURIComponent(id)}`);
  const body = (await res.json()) as Record<string, unknown>;
  return res.status === 200 ? body : null;
}

/** Polls until `pred` holds for the record (or the deadline passes); the last record seen. */
async function until(url: string, id: string, pred: (r: Record<string, unknown>) => boolean, deadlineMs: number) {
  let last: Record<string, unknown> | null = null;
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    last = await record(url, id);
    if (last && pred(last)) return last;
    await sleep(25);
  }
  return last;
}

const conversation = (id: string, agent: string, endedAt: number) => [
  { event: 'conversation_started', timestamp: new Date(endedAt - 90_000).toISOString(), data: { conversation_id: id, agent_id: agent, direction: 'inbound' } },
  { event: 'conversation_ended', timestamp: new Date(endedAt).toISOString(), data: { conversation_id: id, agent_id: agent } },
];

async function agentTotal(url: string, agents: string[]): Promise<number> {
  const day = new Date().toISOString().slice(0, 10);
  let total = 0;
  for (const a of agents) {
    const res = await fetch(`${url}/agents/${a}/metrics?from=${day}&to=${day}`);
    total += ((await res.json()) as { conversations: number }).conversations;
  }
  return total;
}

async function settled(url: string, ids: string[], deadlineMs: number): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (const id of ids) {
    out.push((await until(url, id, (r) => r.enrichment === 'done' || r.enrichment === 'gave_up', Math.max(1000, deadlineMs)))!);
  }
  return out;
}

const distinct = (events: Awaited<ReturnType<typeof readEvents>>, type: string) =>
  new Set(events.filter((e) => e['detail-type'] === type).map((e) => e.detail.event_id)).size;

describe('facts first under sustained overload (local runtime, compressed quota clock)', () => {
  it('ends every conversation from its webhook, answers no 429, dead-letters nothing, and counts each once', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'threetone-overload-'));
    dirs.push(dataDir);
    const rt: LocalRuntime = await startLocalRuntime({ ...process.env, ...QUOTA_ENV, PORT: '0', DATA_DIR: dataDir });
    try {
      const agents = ['ov-a', 'ov-b', 'ov-c'];
      const ids: string[] = [];
      // 56 conversations needing 1-2 requests each, sent within seconds, against 14 requests per quota
      // hour (10 s): far beyond the hourly quota whatever the machine's speed.
      for (let i = 0; i < 56; i++) {
        const id = `ov-${i}`;
        ids.push(id);
        const [started, ended] = conversation(id, agents[i % agents.length]!, Date.now());
        expect(await post(rt.url, started)).toBe(202);
        expect(await post(rt.url, ended)).toBe(202);
      }
      // Every conversation shows `ended` from its webhooks, most of them while their details wait.
      let endedWhilePending = 0;
      for (const id of ids) {
        // Both webhooks' facts (in either order: an end processed before its start has no duration yet).
        const seen = await until(rt.url, id, (r) => r.status === 'ended' && r.duration_seconds === 90, 30_000);
        expect(seen).toMatchObject({ status: 'ended', duration_seconds: 90 });
        if (seen?.enrichment === 'pending') endedWhilePending++;
      }
      const health = (await (await fetch(`${rt.url}/health`)).json()) as { enrichment: { pending: number } };

      const records = await settled(rt.url, ids, 90_000);

      // Facts did not wait: most conversations were ended while their details still waited.
      expect(endedWhilePending).toBeGreaterThan(ids.length / 2);
      expect(health.enrichment.pending).toBeGreaterThan(0);
      // Eventually enriched, or completed from webhook facts; both happened under this overload.
      const outcomes = records.map((r) => r.enrichment);
      expect(outcomes.every((o) => o === 'done' || o === 'gave_up')).toBe(true);
      expect(outcomes).toContain('done');
      expect(outcomes).toContain('gave_up');
      // Within ThreeTone's quota: not a single 429, and nothing dead-lettered.
      const answered = rt.simulator!.requests.filter((r) => r.path.startsWith('/v1/'));
      expect(answered.length).toBeGreaterThan(0);
      expect(answered.filter((r) => r.status === 429)).toEqual([]);
      expect(rt.queue.stats().deadLettered).toBe(0);
      // Exactly once: aggregates and events.
      expect(await agentTotal(rt.url, agents)).toBe(ids.length);
      const events = await readEvents(rt.eventsFile);
      expect(distinct(events, DetailType.ConversationEnded)).toBe(ids.length);
      expect(distinct(events, DetailType.ConversationCompleted)).toBe(ids.length);
    } finally {
      await rt.stop();
    }
  }, 240_000);
});

describe('a crash in the middle of the overload', () => {
  /** `npm start`'s entry in its own process group, so SIGKILL takes DynamoDB Local down with it. */
  function start(dataDir: string): ChildProcess {
    return spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'local/start.ts')], {
      cwd: ROOT,
      env: { ...process.env, ...QUOTA_ENV, PORT: '0', DATA_DIR: dataDir },
      stdio: 'ignore',
      detached: true,
    });
  }
  async function urlOf(dataDir: string, child: ChildProcess): Promise<string> {
    const end = Date.now() + 90_000;
    while (Date.now() < end) {
      if (child.exitCode !== null) throw new Error(`npm start exited with ${child.exitCode}`);
      const info = await readFile(join(dataDir, 'runtime.json'), 'utf8').catch(() => null);
      if (info) {
        const { url, pid } = JSON.parse(info) as { url: string; pid: number };
        if (pid === child.pid) return url;
      }
      await sleep(200);
    }
    throw new Error('npm start did not come up');
  }
  const kill = (child: ChildProcess) =>
    new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      process.kill(-child.pid!, 'SIGKILL');
    });

  it('loses nothing: queued webhooks and waiting enrichments survive a SIGKILL and finish after a restart', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'threetone-crash-'));
    dirs.push(dataDir);
    const ids = Array.from({ length: 24 }, (_, i) => `crash-${i}`);
    const first = start(dataDir);
    let second: ChildProcess | undefined;
    try {
      const url = await urlOf(dataDir, first);
      for (const [i, id] of ids.entries()) {
        for (const envelope of conversation(id, 'crash-agent', Date.now())) expect(await post(url, envelope)).toBe(202);
        if (i === 15) break; // the rest are sent after the crash
      }
      await kill(first); // mid-run: messages in the queue, enrichments waiting, budget half used

      second = start(dataDir);
      const url2 = await urlOf(dataDir, second);
      for (const id of ids.slice(16)) for (const envelope of conversation(id, 'crash-agent', Date.now())) expect(await post(url2, envelope)).toBe(202);

      const records = await settled(url2, ids, 90_000);
      expect(records.map((r) => r?.status)).toEqual(ids.map(() => 'ended'));
      expect(records.every((r) => r?.enrichment === 'done' || r?.enrichment === 'gave_up')).toBe(true);
      expect(await agentTotal(url2, ['crash-agent'])).toBe(ids.length);
      // Events follow their commits through the change stream (D30): moments later, never lost.
      let completed = 0;
      for (const end = Date.now() + 15_000; completed < ids.length && Date.now() < end; await sleep(100)) {
        completed = distinct(await readEvents(join(dataDir, 'events.jsonl')), DetailType.ConversationCompleted);
      }
      expect(completed).toBe(ids.length);
      expect(await readFile(join(dataDir, 'queue', 'dlq.jsonl'), 'utf8').catch(() => '')).toBe('');
    } finally {
      for (const c of [first, second]) if (c && c.exitCode === null && c.signalCode === null) await kill(c);
    }
  }, 300_000);
});
