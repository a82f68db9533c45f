/**
 * The S3 audio archive with the real AWS SDK (client-s3, lib-storage's managed upload, the presigner)
 * against s3rver, an S3-compatible server that runs in Node: a large recording from the ThreeTone
 * simulator streams through the HTTP client into a real multipart upload (several 5 MiB parts, never
 * the whole file in memory), a small one goes in one PutObject, a presigned URL serves it with its
 * media type, a body that fails aborts the upload and stores nothing, and delete is idempotent.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3AudioArchive } from '#adapters/s3-audio-archive.js';
import { createS3AudioLinks } from '#adapters/s3-audio-links.js';
import { createThreeToneHttpClient } from '#adapters/threetone-http.js';
import { audioContentType, audioObjectKey } from '#core/audio.js';
import { LARGE_AUDIO_BYTES, LARGE_AUDIO_SUFFIX, startThreeToneSimulator, type ThreeToneSimulator } from '#local/threetone-simulator.js';
import { WAV_HEADER_BYTES } from '#local/wav.js';

const BUCKET = 'audio-test';
let server: S3rver;
let dir: string;
let s3: S3Client;
/** Every command the SDK sent, by name. */
const commands: string[] = [];
let sim: ThreeToneSimulator;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 's3rver-'));
  server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: dir, configureBuckets: [{ name: BUCKET, configs: [] }] });
  const { port } = await server.run();
  s3 = new S3Client({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  s3.middlewareStack.add(
    (next, context) => async (args) => {
      commands.push(String(context.commandName));
      return next(args);
    },
    { step: 'initialize', name: 'recordCommands' },
  );
  sim = await startThreeToneSimulator({ apiKey: 'k', rateLimitPerMinute: 0 });
});

afterAll(async () => {
  s3?.destroy();
  await sim?.close();
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

const observeEnded = (id: string) => {
  const at = new Date().toISOString();
  sim.observe({ event: 'conversation_started', timestamp: at, data: { conversation_id: id, agent_id: 'a' } });
  sim.observe({ event: 'conversation_ended', timestamp: at, data: { conversation_id: id, agent_id: 'a', duration_seconds: 60 } });
};

const client = () =>
  createThreeToneHttpClient({ baseUrl: sim.url, timeoutMs: 5_000, maxRetries: 0, baseDelayMs: 0, maxDelayMs: 0 }, { apiKey: async () => 'k' });

describe('S3 audio archive (real SDK, s3rver)', () => {
  it('streams a large recording from ThreeTone into a multipart upload of 5 MiB parts', { timeout: 120_000 }, async () => {
    const id = `conv${LARGE_AUDIO_SUFFIX}`;
    observeEnded(id);
    const archive = createS3AudioArchive(s3, BUCKET);
    commands.length = 0;
    const download = await client().getAudio(id);
    expect(download).not.toBeNull();
    expect(download!.contentLength).toBe(LARGE_AUDIO_BYTES);
    const stored = await archive.store(id, download!.body, audioContentType(download!.contentType));
    expect(stored).toEqual({ contentType: 'audio/wav', sizeBytes: LARGE_AUDIO_BYTES });
    // 40 MiB in 5 MiB parts: a multipart upload of 8 parts, not one PutObject.
    expect(commands.filter((c) => c === 'CreateMultipartUploadCommand')).toHaveLength(1);
    expect(commands.filter((c) => c === 'UploadPartCommand')).toHaveLength(8);
    expect(commands).toContain('CompleteMultipartUploadCommand');
    expect(commands).not.toContain('PutObjectCommand');

    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: audioObjectKey(id) }));
    expect(head.ContentLength).toBe(LARGE_AUDIO_BYTES);
    expect(head.ContentType).toBe('audio/wav');
    const start = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: audioObjectKey(id), Range: `bytes=0-${WAV_HEADER_BYTES - 1}` }));
    const header = Buffer.from(await start.Body!.transformToByteArray());
    expect(header.subarray(0, 4).toString()).toBe('RIFF');
    expect(header.readUInt32LE(40)).toBe(LARGE_AUDIO_BYTES - WAV_HEADER_BYTES); // the WAV data size: the whole file arrived
  });

  it('stores a small recording in one PutObject under the hashed key, serves it by a presigned URL, and deletes it', async () => {
    const id = 'conv/with ../odd id';
    observeEnded(id);
    const archive = createS3AudioArchive(s3, BUCKET);
    commands.length = 0;
    const download = await client().getAudio(id);
    const stored = await archive.store(id, download!.body, audioContentType(download!.contentType));
    expect(commands).toEqual(['PutObjectCommand']);
    expect(stored.sizeBytes).toBe(download!.contentLength);

    const url = await createS3AudioLinks(s3, BUCKET, { expiresInSeconds: 60 }).presign(id, stored.contentType);
    expect(url).toContain(audioObjectKey(id));
    expect(url).toMatch(/X-Amz-Expires=60/);
    expect(url).not.toContain(encodeURIComponent(id));
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('audio/wav');
    expect((await res.arrayBuffer()).byteLength).toBe(stored.sizeBytes);

    await archive.delete(id);
    await archive.delete(id); // idempotent
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: audioObjectKey(id) }));
    expect(listed.KeyCount ?? 0).toBe(0);
  });

  it('a body that fails mid-way rejects the store, aborts the multipart upload and stores nothing', { timeout: 60_000 }, async () => {
    const id = 'conv-broken';
    const archive = createS3AudioArchive(s3, BUCKET);
    const failing = Readable.from(
      (async function* () {
        for (let i = 0; i < 3; i++) yield Buffer.alloc(4 * 1024 * 1024, i); // past one part
        throw new Error('connection reset by ThreeTone');
      })(),
    );
    commands.length = 0;
    await expect(archive.store(id, failing, 'audio/mpeg')).rejects.toThrow();
    expect(commands).toContain('AbortMultipartUploadCommand');
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: audioObjectKey(id) }));
    expect(listed.KeyCount ?? 0).toBe(0);
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET })).catch(() => ({ Uploads: [] }));
    expect((uploads.Uploads ?? []).filter((u) => u.Key === audioObjectKey(id))).toEqual([]);
  });
});
