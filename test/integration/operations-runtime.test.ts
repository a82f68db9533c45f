/**
 * `npm run redrive` and `npm run replay` against a running local runtime (`npm start`), through its
 * admin routes, and redrive without it (the command opens the queue itself).
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redrive } from '#local/redrive.js';
import { replay } from '#local/replay.js';
import { startLocalRuntime, type LocalRuntime } from '#local/runtime.js';
import { conversationScript } from '#test/helpers/envelopes.js';

const API_KEY = 'ops-test-key';
let dataDir: string;
let env: Record<string, string | undefined>;
let rt: LocalRuntime | null = null;

const bodies = conversationScript({ conversationId: 'conv-ops', agentId: 'agent-ops', start: Date.now() - 300_000, durationSeconds: 60 }).map((e) => JSON.stringify(e));

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'threetone-ops-'));
  env = { ...process.env, PORT: '0', DATA_DIR: dataDir, RECONCILE_INTERVAL_SECONDS: '0', QUERY_API_KEY: API_KEY };
  // Dead letters left by an earlier run (the processor failed them five times).
  await mkdir(join(dataDir, 'queue'), { recursive: true });
  const letters = bodies.map((body, i) => ({ messageId: `dead-${i}`, body, receivedAt: new Date().toISOString(), receiveCount: 5, firstReceivedAt: new Date().toISOString(), failedAt: new Date().toISOString() }));
  await writeFile(join(dataDir, 'queue', 'dlq.jsonl'), letters.map((l) => JSON.stringify(l)).join('\n') + '\n');
  rt = await startLocalRuntime(env);
}, 120_000);

afterAll(async () => {
  await rt?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

async function getRecord(): Promise<{ status: number; body: Record<string, unknown> | null }> {
  const res = await fetch(`${rt!.url}/conversations/conv-ops`, { headers: { 'x-api-key': API_KEY } });
  return { status: res.status, body: res.status === 200 ? ((await res.json()) as Record<string, unknown>) : null };
}

describe('operations on a running npm start', () => {
  it('admin routes need the query key, like every non-public route', async () => {
    const res = await fetch(`${rt!.url}/admin/redrive`, { method: 'POST' });
    expect(res.status).toBe(401);
    await expect(redrive({ ...env, QUERY_API_KEY: undefined })).rejects.toThrow(/401/);
    expect((await readFile(join(dataDir, 'queue', 'dlq.jsonl'), 'utf8')).trim().split('\n')).toHaveLength(bodies.length);
  });

  it('npm run redrive asks the running process, which processes the dead letters', async () => {
    const { via, result } = await redrive(env);
    expect(via).toBe('server');
    expect(result.messageIds).toEqual(bodies.map((_, i) => `dead-${i}`));
    await rt!.queue.drained();
    expect((await getRecord()).body).toMatchObject({ conversation_id: 'conv-ops', status: 'ended' });
    expect(await readFile(join(dataDir, 'queue', 'dlq.jsonl'), 'utf8')).toBe('');
  });

  it('npm run replay sends a conversation\'s stored webhooks through the queue; the record is unchanged', async () => {
    const before = (await getRecord()).body;
    const r = await replay(['--conversation', 'conv-ops'], env);
    expect(r).toEqual({ selected: bodies.length, enqueued: bodies.length, expired: 0 });
    await rt!.queue.drained();
    expect((await getRecord()).body).toEqual(before);
    await expect(replay(['--from', 'yesterday', '--to', 'today'], env)).rejects.toThrow(/ISO-8601/);
  });

  it('without npm start: replay says to start it; redrive opens the queue itself', async () => {
    await rt!.stop();
    rt = null;
    await expect(replay(['--conversation', 'conv-ops'], env)).rejects.toThrow(/no npm start is running/);
    await writeFile(join(dataDir, 'queue', 'dlq.jsonl'), JSON.stringify({ messageId: 'late', body: bodies[0], receivedAt: new Date().toISOString() }) + '\n');
    const { via, result } = await redrive(env);
    expect(via).toBe('queue');
    expect(result.moved).toBe(1);
    const journal = (await readFile(join(dataDir, 'queue', 'queue.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { t: string; body?: string });
    expect(journal.filter((l) => l.t === 'send').map((l) => l.body)).toEqual([bodies[0]]);
  });
});
