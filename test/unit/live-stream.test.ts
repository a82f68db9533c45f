/**
 * The local live stream over a real HTTP server and real WebSocket clients: the upgrade hook of
 * `local/http-server.ts`, the local bus's `onAppend`, filters, the API key, slow clients.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { busEvent, DetailType, type BusEvent } from '#core/bus-events.js';
import { startHttpServer, type RunningHttpServer } from '#local/http-server.js';
import { createLocalBus, type LocalBus } from '#local/local-bus.js';
import { createLiveStream, type LiveStream } from '#local/live-stream.js';

let dir: string;
let bus: LocalBus;
let live: LiveStream;
let server: RunningHttpServer;
const open: WebSocket[] = [];

const TIME = '2025-03-04T05:06:07.000Z';
const started = (conv: string, agent: string): BusEvent =>
  busEvent(DetailType.ConversationStarted, conv, TIME, { conversation_id: conv, agent_id: agent });
const escalated = (conv: string, agent: string): BusEvent =>
  busEvent(DetailType.ConversationEscalated, `${conv}-esc`, TIME, { conversation_id: conv, agent_id: agent, reason: 'r' });
const platform = (): BusEvent => busEvent(DetailType.PlatformAlert, 'p-1', TIME, { alert_type: 'system_error', message: 'm' });

async function start(opts: { apiKey?: string; maxBufferedBytes?: number } = {}) {
  bus = createLocalBus({ file: join(dir, 'events.jsonl') });
  live = createLiveStream(opts);
  bus.onAppend((events) => live.publish(events));
  const fail = async () => {
    throw new Error('no API in this test');
  };
  server = await startHttpServer({ host: '127.0.0.1', port: 0, ingest: fail, query: fail, erasure: fail, isReady: () => true, upgrade: live.handleUpgrade });
}

const wsUrl = (query = '') => `${server.url.replace('http', 'ws')}/live${query}`;

/** Connects and collects every message; resolves once open. */
function connect(query = '', headers: Record<string, string> = {}): Promise<{ ws: WebSocket; messages: string[] }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(query), { headers });
    ws.on('error', () => undefined);
    open.push(ws);
    const messages: string[] = [];
    ws.on('message', (data) => messages.push(data.toString()));
    ws.once('open', () => resolve({ ws, messages }));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

/** Waits for the listed message counts (event-driven; the test's own timeout bounds it). */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 5));
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'live-stream-'));
});
afterEach(async () => {
  for (const ws of open.splice(0)) if (ws.readyState === WebSocket.OPEN) ws.terminate();
  await live?.close();
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('local live stream', () => {
  it('sends each appended envelope exactly as the line in events.jsonl', async () => {
    await start();
    const client = await connect();

    await bus.publish([started('c1', 'a1'), escalated('c1', 'a1')]);
    await until(() => client.messages.length === 2);

    const lines = (await readFile(join(dir, 'events.jsonl'), 'utf8')).trim().split('\n');
    expect(client.messages).toEqual(lines);
    expect(JSON.parse(client.messages[0]!)).toMatchObject({ 'detail-type': 'Conversation Started', detail: { conversation_id: 'c1' } });
  });

  it('filters by agent_id, conversation_id and detail_type (repeatable; all given must match)', async () => {
    await start();
    const all = await connect();
    const agents = await connect('?agent_id=a1&agent_id=a3');
    const conv = await connect('?conversation_id=c2');
    const types = await connect(`?detail_type=${encodeURIComponent('Conversation Escalated')}&agent_id=a1`);
    const platformOnly = await connect(`?detail_type=${encodeURIComponent('Platform Alert')}`);

    await bus.publish([started('c1', 'a1'), started('c2', 'a2'), escalated('c1', 'a1'), escalated('c3', 'a3'), platform()]);
    await until(() => all.messages.length === 5);
    // A last event every client receives marks the end of what each one will get.
    await bus.publish([busEvent(DetailType.ConversationEscalated, 'end', TIME, { conversation_id: 'c2', agent_id: 'a1', reason: 'r' })]);
    await until(() => all.messages.length === 6);
    await until(() => agents.messages.length >= 4 && conv.messages.length >= 2 && types.messages.length >= 2);

    const idsOf = (m: string[]) => m.map((x) => JSON.parse(x).detail.event_id as string);
    const allIds = idsOf(all.messages);
    expect(idsOf(agents.messages)).toEqual([allIds[0], allIds[2], allIds[3], allIds[5]]);
    expect(idsOf(conv.messages)).toEqual([allIds[1], allIds[5]]);
    expect(idsOf(types.messages)).toEqual([allIds[2], allIds[5]]);
    expect(idsOf(platformOnly.messages)).toEqual([allIds[4]]);
  });

  it('needs QUERY_API_KEY when set: 401 without or with a wrong key; header or api_key parameter', async () => {
    await start({ apiKey: 'secret-key' });

    await expect(connect()).rejects.toThrow('HTTP 401');
    await expect(connect('?api_key=wrong')).rejects.toThrow('HTTP 401');
    await expect(connect('', { 'x-api-key': 'wrong' })).rejects.toThrow('HTTP 401');
    const byHeader = await connect('', { 'x-api-key': 'secret-key' });
    const byParam = await connect('?api_key=secret-key');

    await bus.publish([started('c1', 'a1')]);
    await until(() => byHeader.messages.length === 1 && byParam.messages.length === 1);
    expect(live.clients).toBe(2);
  });

  it('refuses upgrades on other paths with 404', async () => {
    await start();
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/other`);
    ws.on('error', () => undefined);
    open.push(ws);
    const status = await new Promise<number>((resolve) => ws.once('unexpected-response', (_q, res) => resolve(res.statusCode ?? 0)));
    expect(status).toBe(404);
  });

  it('disconnects a client that does not read once its buffer overflows, and keeps serving the others', async () => {
    await start({ maxBufferedBytes: 64 * 1024 });
    const fast = await connect();
    const slow = await connect();
    // The slow client stops reading: the server's socket buffers fill, then its send buffer.
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const closed = new Promise<void>((resolve) => slow.ws.once('close', () => resolve()));

    const big = (i: number) =>
      busEvent(DetailType.ThreeToneEvent, `big-${i}`, TIME, { event: 'x', timestamp: TIME, data: { pad: 'x'.repeat(16 * 1024) } });
    const N = 400; // ~6.5 MB: far beyond the socket buffers and the 64 KiB limit
    for (let i = 0; i < N; i += 10) await bus.publish(Array.from({ length: 10 }, (_, k) => big(i + k)));

    await until(() => fast.messages.length === N);
    expect(live.dropped).toBe(1);
    expect(live.clients).toBe(1);
    (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    await closed;
    expect(slow.messages.length).toBeLessThan(N);
  });

  it('a failing listener never fails the publish', async () => {
    await start();
    bus.onAppend(() => {
      throw new Error('listener bug');
    });
    const client = await connect();

    await expect(bus.publish([started('c1', 'a1')])).resolves.toEqual({ failed: [] });
    await until(() => client.messages.length === 1);
  });
});
