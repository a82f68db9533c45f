import { type FileHandle, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { signBody } from '#core/signature.js';
import { loadIngestConfig } from '#functions/config.js';
import { createIngestHandler } from '#functions/ingest/ingest.js';
import { createLocalQueue, type DeadLetter, type LocalQueue, type LocalQueueOptions } from '#local/local-queue.js';
import { apiGatewayEvent } from '#test/helpers/api-gateway.js';

let dir: string;
const queues: LocalQueue[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'local-queue-'));
});
afterEach(async () => {
  await Promise.all(queues.splice(0).map((q) => q.stop()));
  await rm(dir, { recursive: true, force: true });
});

function queue(opts: Partial<LocalQueueOptions> = {}): LocalQueue {
  const q = createLocalQueue({ dir, visibilityTimeoutMs: 60, pollIntervalMs: 5, ...opts });
  queues.push(q);
  return q;
}

const RECEIVED_AT = '2025-01-02T03:04:05.000Z';
const send = (q: LocalQueue, ...bodies: string[]) =>
  Promise.all(bodies.map((body) => q.send({ body, receivedAt: RECEIVED_AT })));

/** Records every delivery; `decide` returns the bodies to fail (or throws). */
function recorder(decide: (records: SQSRecord[]) => string[] | Promise<string[]> = () => []) {
  const deliveries: SQSRecord[] = [];
  const batches: SQSEvent[] = [];
  const consumer = async (event: SQSEvent): Promise<SQSBatchResponse> => {
    batches.push(event);
    deliveries.push(...event.Records);
    const failBodies = await decide(event.Records);
    return {
      batchItemFailures: event.Records.filter((r) => failBodies.includes(r.body)).map((r) => ({
        itemIdentifier: r.messageId,
      })),
    };
  };
  const countsOf = (body: string) =>
    deliveries.filter((r) => r.body === body).map((r) => Number(r.attributes.ApproximateReceiveCount));
  return { consumer, deliveries, batches, countsOf };
}

const journalLines = async () =>
  (await readFile(join(dir, 'queue.jsonl'), 'utf8')).split('\n').filter((l) => l !== '');

describe('local queue', () => {
  it('has the message on disk when send resolves', async () => {
    const q = queue();

    await q.send({ body: '{"event":"call_started","ü":"✓"}', receivedAt: RECEIVED_AT });

    const lines = await journalLines();
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ t: 'send', body: '{"event":"call_started","ü":"✓"}', receivedAt: RECEIVED_AT });
    expect(q.stats()).toEqual({ visible: 1, inFlight: 0, deadLettered: 0, delivered: 0 });
  });

  it('delivers records shaped like SQS records, in batches of at most batchSize', async () => {
    const q = queue({ batchSize: 3 });
    await send(q, 'a', 'b', 'c', 'd', 'e');
    const r = recorder();

    q.start(r.consumer);
    await q.drained();

    expect(r.batches.every((b) => b.Records.length <= 3)).toBe(true);
    expect(r.deliveries.map((d) => d.body).sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
    const rec = r.deliveries[0]!;
    expect(rec).toMatchObject({
      messageId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      receiptHandle: expect.any(String),
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: expect.stringMatching(/^\d+$/),
        ApproximateFirstReceiveTimestamp: expect.stringMatching(/^\d+$/),
        SenderId: expect.any(String),
      },
      messageAttributes: { receivedAt: { stringValue: RECEIVED_AT, dataType: 'String' } },
      md5OfBody: expect.stringMatching(/^[0-9a-f]{32}$/),
      md5OfMessageAttributes: expect.stringMatching(/^[0-9a-f]{32}$/),
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:local:000000000000:threetone-webhooks',
      awsRegion: 'local',
    });
    expect(q.stats()).toEqual({ visible: 0, inFlight: 0, deadLettered: 0, delivered: 5 });
    expect(await journalLines()).toHaveLength(5 + r.batches.length * 2); // sends, receives, deletes
  });

  it('redelivers the whole batch after the consumer throws, with ApproximateReceiveCount + 1', async () => {
    const q = queue();
    await send(q, 'a', 'b');
    let calls = 0;
    const r = recorder(() => {
      calls += 1;
      if (calls === 1) throw new Error('boom');
      return [];
    });

    q.start(r.consumer);
    await q.drained();

    expect(r.countsOf('a')).toEqual([1, 2]);
    expect(r.countsOf('b')).toEqual([1, 2]);
    expect(q.stats().delivered).toBe(2);
  });

  it('on a partial failure deletes the successes and redelivers only the failures after the visibility timeout', async () => {
    const q = queue({ visibilityTimeoutMs: 80 });
    await send(q, 'ok-1', 'bad', 'ok-2');
    let redeliveredAt = 0;
    const r = recorder((records) => {
      if (records.some((x) => x.attributes.ApproximateReceiveCount === '2')) {
        redeliveredAt = Date.now();
        return [];
      }
      return ['bad'];
    });

    q.start(r.consumer);
    await q.drained();

    expect(r.countsOf('ok-1')).toEqual([1]);
    expect(r.countsOf('ok-2')).toEqual([1]);
    expect(r.countsOf('bad')).toEqual([1, 2]);
    const firstReceive = Number(r.deliveries.find((d) => d.body === 'bad')!.attributes.ApproximateFirstReceiveTimestamp);
    expect(redeliveredAt - firstReceive).toBeGreaterThanOrEqual(80);
  });

  it('keeps a failed message invisible (in flight) until its visibility timeout', async () => {
    const q = queue({ visibilityTimeoutMs: 10_000 });
    await send(q, 'bad');
    const r = recorder(() => ['bad']);

    q.start(r.consumer);
    await expect.poll(() => r.deliveries.length).toBe(1);
    await new Promise((res) => setTimeout(res, 50));

    expect(r.deliveries).toHaveLength(1);
    expect(q.stats()).toMatchObject({ visible: 0, inFlight: 1 });
  });

  it.each([
    ['an empty itemIdentifier', ''],
    ['an itemIdentifier of no message in the batch', 'not-in-this-batch'],
  ])('fails the whole batch on %s', async (_, itemIdentifier) => {
    const q = queue();
    await send(q, 'a', 'b');
    const seen: string[] = [];
    q.start(async (event) => {
      seen.push(...event.Records.map((r) => `${r.body}:${r.attributes.ApproximateReceiveCount}`));
      return seen.length <= 2 ? { batchItemFailures: [{ itemIdentifier }] } : { batchItemFailures: [] };
    });

    await q.drained();

    expect(seen.sort()).toEqual(['a:1', 'a:2', 'b:1', 'b:2']);
  });

  it('moves a message that fails its maxReceiveCount-th receive to dlq.jsonl and calls onDeadLetter', async () => {
    const letters: DeadLetter[] = [];
    const q = queue({ maxReceiveCount: 3, visibilityTimeoutMs: 20, onDeadLetter: (l) => void letters.push(l) });
    await send(q, 'poison', 'fine');
    const r = recorder(() => ['poison']);

    q.start(r.consumer);
    await q.drained();

    expect(r.countsOf('poison')).toEqual([1, 2, 3]);
    expect(letters).toEqual([
      {
        messageId: expect.any(String),
        body: 'poison',
        receivedAt: RECEIVED_AT,
        receiveCount: 3,
        firstReceivedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        failedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      },
    ]);
    const dlq = (await readFile(join(dir, 'dlq.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(dlq).toEqual(letters);
    expect(q.stats()).toEqual({ visible: 0, inFlight: 0, deadLettered: 1, delivered: 1 });
  });

  it('replays unprocessed messages from the journal after a restart, receive counts kept', async () => {
    const first = queue({ visibilityTimeoutMs: 10_000 });
    await send(first, 'done', 'failed-once');
    const r1 = recorder(() => ['failed-once']);
    first.start(r1.consumer);
    await expect.poll(() => first.stats().delivered).toBe(1);
    await first.stop();
    await send(first, 'never-received');

    const second = queue({ visibilityTimeoutMs: 10_000 });
    expect(second.stats()).toEqual({ visible: 2, inFlight: 0, deadLettered: 0, delivered: 0 });
    const r2 = recorder();
    second.start(r2.consumer);
    await second.drained();

    expect(r2.deliveries.map((d) => d.body).sort()).toEqual(['failed-once', 'never-received']);
    expect(r2.countsOf('failed-once')).toEqual([2]);
    expect(r2.countsOf('never-received')).toEqual([1]);
  });

  it('compacts the journal at start to the live messages', async () => {
    const first = queue();
    await send(first, 'a', 'b', 'c');
    const r = recorder();
    first.start(r.consumer);
    await first.drained();
    await first.stop();
    await send(first, 'left-over');

    queue();

    const lines = await journalLines();
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ t: 'send', body: 'left-over' });
  });

  it('compacts the journal while running once it grows', async () => {
    const q = queue({ compactMinLines: 20, batchSize: 2 });
    const bodies = Array.from({ length: 30 }, (_, i) => `m${i}`);
    await send(q, ...bodies);
    const r = recorder();
    q.start(r.consumer);
    await q.drained();
    await q.stop();
    await q.send({ body: 'last', receivedAt: RECEIVED_AT });

    // 30 sends + 15 receives + 15 deletes + 1 send without compaction.
    expect((await journalLines()).length).toBeLessThan(20);
    const replayed = queue();
    expect(replayed.stats().visible).toBe(1);
  });

  it('ignores a torn last line of the journal', async () => {
    const first = queue();
    await send(first, 'kept');
    await first.stop();
    const { appendFile } = await import('node:fs/promises');
    await appendFile(join(dir, 'queue.jsonl'), '{"t":"send","id":"x","bo');

    const second = queue();

    expect(second.stats().visible).toBe(1);
  });

  it('waits for the in-flight batch on stop', async () => {
    const q = queue();
    await send(q, 'slow');
    let finished = false;
    q.start(async () => {
      await new Promise((res) => setTimeout(res, 100));
      finished = true;
    });
    await expect.poll(() => q.stats().inFlight).toBe(1);

    await q.stop();

    expect(finished).toBe(true);
    expect(q.stats()).toMatchObject({ delivered: 1, inFlight: 0 });
  });

  it('runs up to `concurrency` batches at once', async () => {
    const q = queue({ batchSize: 1, concurrency: 3 });
    await send(q, 'a', 'b', 'c', 'd', 'e', 'f');
    let active = 0;
    let peak = 0;
    q.start(async () => {
      active += 1;
      peak = Math.max(peak, active);
      await new Promise((res) => setTimeout(res, 20));
      active -= 1;
    });

    await q.drained();

    expect(peak).toBe(3);
  });
});

describe('local queue: group commit', () => {
  /** Counts the journal's fsyncs (the real ones) and the bytes each one covered. */
  function countingSync(behaviour: (call: number) => Promise<void> | void = () => undefined) {
    const covered: number[] = [];
    const datasync = async (file: FileHandle, path: string) => {
      const call = covered.length + 1;
      covered.push(-1);
      await behaviour(call);
      await file.datasync();
      if (path.endsWith('queue.jsonl')) covered[call - 1] = (await file.stat()).size;
    };
    return { datasync, covered, syncedBytes: () => Math.max(0, ...covered) };
  }

  it('covers many concurrent sends with fewer fsyncs, each resolving only once an fsync covers its line', async () => {
    // Arrange
    const sync = countingSync();
    const q = queue({ datasync: sync.datasync });
    const bodies = Array.from({ length: 200 }, (_, i) => `{"n":${i}}`);
    const syncedWhenResolved = new Map<string, number>();

    // Act
    await Promise.all(bodies.map((body) => q.send({ body, receivedAt: RECEIVED_AT }).then(() => syncedWhenResolved.set(body, sync.syncedBytes()))));

    // Assert: fewer fsyncs than sends, and each send's line lies within what an fsync had covered when it resolved
    expect(sync.covered.length).toBeGreaterThanOrEqual(1);
    expect(sync.covered.length).toBeLessThan(bodies.length);
    const journal = await readFile(join(dir, 'queue.jsonl'));
    for (const body of bodies) {
      const end = journal.indexOf(`"body":${JSON.stringify(body)}`) + 1;
      expect(end).toBeGreaterThan(0);
      expect(journal.indexOf('\n', end) + 1).toBeLessThanOrEqual(syncedWhenResolved.get(body)!);
    }
    await q.stop();
    const reopened = queue();
    const r = recorder();
    reopened.start(r.consumer);
    await reopened.drained();
    expect(r.deliveries.map((d) => d.body).sort()).toEqual([...bodies].sort());
  });

  it('writes the sends that arrive during an fsync together and covers them with one more fsync', async () => {
    // Arrange: the first fsync waits until the others have been sent
    let release!: () => void;
    const gate = new Promise<void>((res) => (release = res));
    const sync = countingSync((call) => (call === 1 ? gate : undefined));
    const q = queue({ datasync: sync.datasync });
    const first = q.send({ body: 'first', receivedAt: RECEIVED_AT });
    await expect.poll(() => sync.covered.length).toBe(1);
    const later = Array.from({ length: 50 }, (_, i) => q.send({ body: `later-${i}`, receivedAt: RECEIVED_AT }));

    // Act
    release();
    await Promise.all([first, ...later]);

    // Assert
    expect(sync.covered).toHaveLength(2);
    expect(await journalLines()).toHaveLength(51);
  });

  it('fsyncs once per send with groupCommit off (the comparison the benchmark makes)', async () => {
    const sync = countingSync();
    const q = queue({ datasync: sync.datasync, groupCommit: false });

    await send(q, ...Array.from({ length: 20 }, (_, i) => `m${i}`));

    expect(sync.covered).toHaveLength(20);
    expect(q.stats().visible).toBe(20);
  });

  it('rejects exactly the sends a failed fsync covered, cuts them from the journal and never delivers them', async () => {
    // Arrange: the first fsync (of "before") is held while three more sends queue; the second fails
    let release!: () => void;
    const gate = new Promise<void>((res) => (release = res));
    const sync = countingSync(async (call) => {
      if (call === 1) await gate;
      if (call === 2) throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    });
    const q = queue({ datasync: sync.datasync });
    const before = q.send({ body: 'before', receivedAt: RECEIVED_AT });
    await expect.poll(() => sync.covered.length).toBe(1);
    const covered = ['lost-1', 'lost-2', 'lost-3'].map((body) => q.send({ body, receivedAt: RECEIVED_AT }));

    // Act
    release();
    const results = await Promise.allSettled([before, ...covered]);
    await q.send({ body: 'after', receivedAt: RECEIVED_AT });

    // Assert: only the covered sends failed, with the fsync's error
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'rejected']);
    expect(results.slice(1).map((r) => (r as PromiseRejectedResult).reason.code)).toEqual(['EIO', 'EIO', 'EIO']);
    expect(sync.covered).toHaveLength(3);
    expect(q.stats().visible).toBe(2);
    expect((await journalLines()).map((l) => (JSON.parse(l) as { body: string }).body)).toEqual(['before', 'after']);
    const r = recorder();
    q.start(r.consumer);
    await q.drained();
    await q.stop();
    const reopened = queue();
    expect(reopened.stats().visible).toBe(0);
    expect(r.deliveries.map((d) => d.body).sort()).toEqual(['after', 'before']);
  });

  it('answers 500, not 202, to a webhook whose fsync fails, and 202 again once the disk recovers', async () => {
    // Arrange: the real ingest handler in front of the queue
    let failing = true;
    const q = queue({
      datasync: async (file) => {
        if (failing) throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
        await file.datasync();
      },
    });
    const ingest = createIngestHandler({ queue: q, secrets: { get: async () => ['s'] }, config: loadIngestConfig({}) });
    const post = (body: string) => ingest(apiGatewayEvent('POST', '/webhooks/threetone', { body, headers: { 'x-threetone-signature': signBody(body, 's') } }));
    const body = JSON.stringify({ event: 'agent_busy', timestamp: new Date().toISOString(), data: { agent_id: 'a' } });

    // Act / Assert
    const refused = await post(body);
    expect(refused.statusCode).toBe(500);
    expect(JSON.parse(String(refused.body))).toEqual({ error: { code: 'internal_error', message: expect.any(String) } });
    expect(q.stats().visible).toBe(0);
    expect(await journalLines()).toEqual([]);
    failing = false;
    expect((await post(body)).statusCode).toBe(202);
    expect(q.stats().visible).toBe(1);
  });
});
