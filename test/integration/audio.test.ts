/**
 * Audio (README "Audio") through the real processor, enricher, erasure and local download against
 * DynamoDB Local, with the local file archive: a recording is fetched once after the details, its
 * type and size land on the record, it is served with byte ranges, and the erasure deletes it; a
 * recording that is not ready backs off and is finally given up on alone; an erasure that wins the
 * race against an upload leaves nothing behind; a crash between upload and commit is repaired.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createDynamoDbQueries } from '#adapters/dynamodb-queries.js';
import { createDynamoDbConversationStore } from '#adapters/dynamodb-conversation-store.js';
import { DetailType } from '#core/bus-events.js';
import type { AudioArchive, AudioDownload, ThreeToneAudioApi } from '#functions/ports.js';
import { createLocalAudioDownload } from '#local/audio-download.js';
import { createFileAudioArchive, type FileAudioArchive } from '#local/file-audio-archive.js';
import { startHttpServer, type RunningHttpServer } from '#local/http-server.js';
import { conversationScript } from '#test/helpers/envelopes.js';
import { schemaErrors } from '#test/helpers/event-schemas.js';
import { body, createHarness, type Harness, HARNESS_NOW } from '#test/helpers/processor-harness.js';

/** ThreeTone's audio endpoint: a body per conversation, 404 while `notReady` lasts. */
class FakeAudio implements ThreeToneAudioApi {
  readonly bodies = new Map<string, Buffer[]>();
  readonly notReady = new Map<string, number>();
  readonly calls: string[] = [];
  constructor(private readonly log?: string[]) {}
  async getAudio(id: string): Promise<AudioDownload | null> {
    this.calls.push(id);
    this.log?.push(`audio:${id}`);
    const waits = this.notReady.get(id) ?? 0;
    if (waits > 0) {
      this.notReady.set(id, waits - 1);
      return null;
    }
    const versions = this.bodies.get(id);
    if (!versions?.length) return null;
    const bytes = versions.length > 1 ? versions.shift()! : versions[0]!;
    return { body: Readable.from([bytes.subarray(0, 10), bytes.subarray(10)]), contentType: 'audio/wav; codec=1', contentLength: bytes.length };
  }
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(wrap: (archive: FileAudioArchive, h: () => Harness) => AudioArchive = (a) => a, giveUpHours = 6) {
  const dir = await mkdtemp(join(tmpdir(), 'audio-test-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const archive = await createFileAudioArchive(dir);
  let harness: Harness | undefined;
  const audio = new FakeAudio();
  const h = await createHarness({ giveUpHours, audio: { api: audio, archive: wrap(archive, () => harness!) } });
  harness = h;
  cleanups.push(() => h.close());
  // The fake details API and the audio share one log, to see the order of requests.
  audio.calls.length = 0;
  const queries = createDynamoDbQueries(h.table.doc, h.table.tableName);
  return { h, audio, archive, queries, dir };
}

const START = HARNESS_NOW - 3_600_000;
const script = (id: string) => conversationScript({ conversationId: id, agentId: 'agent_a', start: START, durationSeconds: 120 });
const details = (id: string) => ({ conversation_id: id, agent_id: 'agent_a', status: 'done', duration_seconds: 120, satisfaction_score: 4, transcript: [] });
const wav = (n: number, fill: number) => Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(n - 4, fill)]);

async function serve(queries: ReturnType<typeof createDynamoDbQueries>, archive: FileAudioArchive, queryApiKey?: string): Promise<RunningHttpServer> {
  const unused = async () => ({ statusCode: 500 });
  const server = await startHttpServer({
    ...(queryApiKey !== undefined && { queryApiKey }),
    host: '127.0.0.1',
    port: 0,
    ingest: unused,
    query: unused,
    erasure: unused,
    isReady: () => true,
    download: createLocalAudioDownload({ queries, archive }),
  });
  cleanups.push(() => server.close());
  return server;
}

describe('audio archiving', () => {
  it('fetches the recording once after the details, records its type and size, serves ranges, and erasure deletes it', async () => {
    const { h, audio, archive, queries } = await setup();
    const bytes = wav(5000, 7);
    audio.bodies.set('a-1', [bytes]);
    h.api.details.set('a-1', details('a-1'));
    h.api.details.set('a-2', details('a-2'));
    expect((await h.deliver([...script('a-1'), ...script('a-2')].map(body))).deadLettered).toEqual([]);
    await h.settle();

    const record = await queries.getRecord('a-1');
    expect(record?.details_stored).toBe(true);
    expect(record?.audio).toEqual({ status: 'stored', content_type: 'audio/wav', size_bytes: 5000 });
    expect(await readFile(archive.pathOf('a-1'))).toEqual(bytes);
    expect(audio.calls.filter((c) => c === 'a-1')).toHaveLength(1); // one ThreeTone request
    // a-2 has no recording at ThreeTone (yet): pending, and the details did not wait for it.
    expect((await queries.getRecord('a-2'))?.audio?.status).toBe('pending');
    expect((await queries.getRecord('a-2'))?.details_stored).toBe(true);
    // Consumers learn that the recording is there: the record's new version after completion.
    const updated = h.bus.ofType(DetailType.ConversationUpdated).filter((e) => e.detail.conversation_id === 'a-1');
    expect(updated.at(-1)?.detail.audio).toEqual({ status: 'stored', content_type: 'audio/wav', size_bytes: 5000 });
    for (const e of [...updated, ...h.bus.ofType(DetailType.ConversationCompleted)]) expect(schemaErrors(e)).toBeNull();

    const server = await serve(queries, archive);
    const whole = await fetch(`${server.url}/conversations/a-1/audio`);
    expect(whole.status).toBe(200);
    expect(whole.headers.get('content-type')).toBe('audio/wav');
    expect(whole.headers.get('accept-ranges')).toBe('bytes');
    expect(Buffer.from(await whole.arrayBuffer())).toEqual(bytes);
    const head = await fetch(`${server.url}/conversations/a-1/audio`, { headers: { range: 'bytes=0-3' } });
    expect(head.status).toBe(206);
    expect(head.headers.get('content-range')).toBe('bytes 0-3/5000');
    expect(await head.text()).toBe('RIFF');
    const tail = await fetch(`${server.url}/conversations/a-1/audio`, { headers: { range: 'bytes=-10' } });
    expect(tail.status).toBe(206);
    expect(tail.headers.get('content-range')).toBe('bytes 4990-4999/5000');
    expect(Buffer.from(await tail.arrayBuffer())).toEqual(bytes.subarray(4990));
    const past = await fetch(`${server.url}/conversations/a-1/audio`, { headers: { range: 'bytes=5000-' } });
    expect(past.status).toBe(416);
    expect(past.headers.get('content-range')).toBe('bytes */5000');
    expect((await fetch(`${server.url}/conversations/a-2/audio`)).status).toBe(404);
    expect((await fetch(`${server.url}/conversations/nope/audio`)).status).toBe(404);

    expect(await h.erasure.eraseConversation('a-1')).not.toBeNull();
    expect(existsSync(archive.pathOf('a-1'))).toBe(false);
    const gone = await fetch(`${server.url}/conversations/a-1/audio`);
    expect(gone.status).toBe(404);
    expect(((await gone.json()) as { error: { code: string } }).error.code).toBe("not_found");
  });

  it('the local download route asks for the API key like every query route', async () => {
    const { queries, archive } = await setup();
    const server = await serve(queries, archive, 'local-key');
    expect((await fetch(`${server.url}/conversations/a-1/audio`)).status).toBe(401);
    const known = await fetch(`${server.url}/conversations/a-1/audio`, { headers: { 'x-api-key': 'local-key' } });
    expect(known.status).toBe(404); // authenticated: no such conversation
    const tooLong = await fetch(`${server.url}/conversations/${'x'.repeat(257)}/audio`, { headers: { 'x-api-key': 'local-key' } });
    expect(tooLong.status).toBe(400);
  });

  it('a recording that is not ready backs off, then is given up on alone: the details are stored, nothing dead-letters', async () => {
    const { h, audio, queries, dir } = await setup();
    h.api.details.set('a-late', details('a-late'));
    audio.bodies.set('a-late', [wav(100, 1)]);
    audio.notReady.set('a-late', 1_000);
    expect((await h.deliver(script('a-late').map(body))).deadLettered).toEqual([]);
    await h.settle(3);
    const waiting = await queries.getRecord('a-late');
    expect(waiting?.details_stored).toBe(true);
    expect(waiting?.enrichment).toBe('done');
    expect(waiting?.audio?.status).toBe('pending');
    const tries = audio.calls.length;
    expect(tries).toBeGreaterThan(0);

    h.advance(6 * 3_600_000); // past ENRICHMENT_GIVE_UP_HOURS since the end
    await h.settle(3);
    const given = await queries.getRecord('a-late');
    expect(given?.audio).toEqual({ status: 'gave_up', content_type: null, size_bytes: null });
    expect(given?.details_stored).toBe(true);
    const store = createDynamoDbConversationStore(h.table.doc, h.table.tableName, { retention: { rawEventDays: 0, transcriptDays: 0, recordDays: 0 } });
    expect(await store.dueAudio(Number.MAX_SAFE_INTEGER, 10)).toEqual([]); // off the audio queue
    const after = audio.calls.length;
    await h.settle(2);
    expect(audio.calls.length).toBe(after); // no more requests
    expect(await readdir(dir)).toEqual([]); // nothing archived, no partial file left
  });

  it('an erasure that wins the race against an upload leaves no recording behind', async () => {
    const { h, audio, archive, queries } = await setup((inner, harness) => ({
      // The erasure runs (and deletes the recording) while the download is in flight; the upload lands after it.
      async store(id, stream, type) {
        await harness().erasure.eraseConversation(id);
        return inner.store(id, stream, type);
      },
      delete: (id) => inner.delete(id),
    }));
    h.api.details.set('a-race', details('a-race'));
    audio.bodies.set('a-race', [wav(300, 3)]);
    expect((await h.deliver(script('a-race').map(body))).deadLettered).toEqual([]);
    await h.settle();
    expect(audio.calls).toContain('a-race');
    expect(existsSync(archive.pathOf('a-race'))).toBe(false);
    expect(await queries.getRecord('a-race')).toBeNull();
  });

  it('an upload that lands after the erasure, in a process that then dies, is deleted by the erasure\'s later cleanup', async () => {
    const { h, audio, archive } = await setup((inner, harness) => ({
      async store(id, stream, type) {
        await harness().erasure.eraseConversation(id);
        await inner.store(id, stream, type);
        throw new Error('the process died right after the upload');
      },
      delete: (id) => inner.delete(id),
    }));
    h.api.details.set('a-orphan', details('a-orphan'));
    audio.bodies.set('a-orphan', [wav(300, 4)]);
    expect((await h.deliver(script('a-orphan').map(body))).deadLettered).toEqual([]);
    await h.settle();
    expect(existsSync(archive.pathOf('a-orphan'))).toBe(true); // left behind by the dead process
    h.advance(4 * 60_000); // not yet: an upload could still be under way
    await h.settle();
    expect(existsSync(archive.pathOf('a-orphan'))).toBe(true);
    h.advance(2 * 60_000);
    await h.settle();
    expect(existsSync(archive.pathOf('a-orphan'))).toBe(false);
    const store = createDynamoDbConversationStore(h.table.doc, h.table.tableName, { retention: { rawEventDays: 0, transcriptDays: 0, recordDays: 0 } });
    expect(await store.dueAudio(Number.MAX_SAFE_INTEGER, 10)).toEqual([]); // the cleanup item is gone
    expect(audio.calls.filter((c) => c === 'a-orphan')).toHaveLength(1); // the cleanup costs no ThreeTone request
  });

  it('a crash between the upload and the commit is repaired by the retry, which overwrites the same file', async () => {
    let crashes = 1;
    const { h, audio, archive, queries } = await setup((inner) => ({
      async store(id, stream, type) {
        const stored = await inner.store(id, stream, type);
        if (crashes-- > 0) throw new Error('the process died after the upload');
        return stored;
      },
      delete: (id) => inner.delete(id),
    }));
    const first = wav(400, 1);
    const second = wav(600, 2);
    h.api.details.set('a-crash', details('a-crash'));
    audio.bodies.set('a-crash', [first, second]);
    expect((await h.deliver(script('a-crash').map(body))).deadLettered).toEqual([]);
    await h.settle();
    expect(audio.calls.filter((c) => c === 'a-crash')).toHaveLength(2);
    expect((await queries.getRecord('a-crash'))?.audio).toEqual({ status: 'stored', content_type: 'audio/wav', size_bytes: 600 });
    expect(await readFile(archive.pathOf('a-crash'))).toEqual(second);
  });
});
