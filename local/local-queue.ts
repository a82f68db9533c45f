/**
 * A durable local stand-in for an SQS standard queue and the Lambda event source mapping that
 * drains it: what `npm start` puts between the ingest and processor handlers. It keeps the
 * semantics the processor relies on:
 * 1. `send` resolves once the message is appended and fsync'ed to `queue.jsonl`, so a 202 to
 *    ThreeTone means the event is on disk. Group commit: the sends that arrive while a write and
 *    its fsync are in progress go out together in the next write, covered by one fsync; each send
 *    resolves only after an fsync that covers its line. A failed write or fsync rejects exactly
 *    the sends it covered (the ingest answers 500, ThreeTone retries): the journal is cut back to
 *    where that write began and their messages are never delivered by this process. Only if the
 *    process also dies before the next successful fsync can such a line be found on disk at the
 *    next start; it is then delivered, a duplicate of the webhook ThreeTone resends, which the
 *    idempotent processor absorbs (decisions.md D28);
 * 2. the consumer gets batches of up to `batchSize` records shaped like real SQS records,
 *    `concurrency` batches at a time;
 * 3. records named in `batchItemFailures`, and every record of a batch whose consumer throws or
 *    answers with an invalid failure list, reappear after the visibility timeout with
 *    ApproximateReceiveCount + 1; the others are deleted;
 * 4. a record failing its `maxReceiveCount`-th receive moves to `dlq.jsonl` and `onDeadLetter` runs.
 * Sends, receives and deletes are journaled; at start the journal is replayed (unprocessed messages
 * come back visible, receive counts kept) and compacted, and it is compacted again as it grows.
 * No ordering guarantee, as with a standard queue. One process per `dir`, enforced by `queue.lock`
 * (the holder's pid; a lock whose process is gone is taken over). Unlike SQS, a message is not
 * redelivered while its batch is still running, even past the visibility timeout.
 *
 * `redrive` moves the dead letters back (SQS's message move task): each letter is first journaled as
 * a new message (receive count 0, fsync'ed), and only then is `dlq.jsonl` rewritten without it
 * (atomic rename). A crash in between leaves the letter in both places, and the next redrive queues
 * it again: a duplicate, which the idempotent processor absorbs; it is never lost.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { SQSBatchResponse, SQSEvent, SQSMessageAttributes, SQSRecord } from 'aws-lambda';
import type { WebhookQueue } from '#functions/ports.js';
import { logger } from '#functions/shared/logger.js';

/** What the dead-letter store keeps of a message (one JSON line of `dlq.jsonl`). */
export interface DeadLetter {
  messageId: string;
  body: string;
  /** When the ingest accepted the webhook (the `receivedAt` message attribute). */
  receivedAt: string;
  receiveCount: number;
  /** ISO-8601 time of the first delivery. */
  firstReceivedAt: string;
  /** ISO-8601 time of the last, failed, delivery. */
  failedAt: string;
}

export type QueueConsumer = (event: SQSEvent) => Promise<SQSBatchResponse | void>;

export interface LocalQueueOptions {
  /** Folder of `queue.jsonl` (the journal) and `dlq.jsonl` (the dead-letter store); created if missing. */
  dir: string;
  /** How long a received message stays invisible. @default 30000 */
  visibilityTimeoutMs?: number;
  /** Receives after which a failing message is dead-lettered (SQS redrive policy). @default 5 */
  maxReceiveCount?: number;
  /** Records per consumer invocation (event source mapping BatchSize). @default 10 */
  batchSize?: number;
  /** Batches in flight at once (event source mapping maximum concurrency). @default 1 */
  concurrency?: number;
  /** How often to look for messages whose visibility timeout expired (sends wake the poller at once). @default 50 */
  pollIntervalMs?: number;
  /** fsync the journal before `send` resolves. Leave on: it is what makes a 202 durable. @default true */
  fsync?: boolean;
  /**
   * One fsync for all the sends that arrive together (group commit), or, when false, one write and
   * one fsync per send (for comparison: `npm run bench`). Durability is the same. @default true
   */
  groupCommit?: boolean;
  /**
   * Makes what was written to a file durable: called once per commit with the open file and its path.
   * A seam for tests (count the fsyncs, inject a failure). @default `(file) => file.datasync()`
   */
  datasync?: (file: FileHandle, path: string) => Promise<void>;
  /** The journal is rewritten once it holds this many lines and four times as many as live messages. @default 10000 */
  compactMinLines?: number;
  /** For the records' `eventSourceARN`. @default 'threetone-webhooks' */
  queueName?: string;
  /** For the records' `awsRegion` and ARN. @default 'local' */
  region?: string;
  /** For the records' ARN. @default '000000000000' */
  account?: string;
  /** Called after a message has been written to the dead-letter store (raise a Platform Alert here). */
  onDeadLetter?: (msg: DeadLetter) => void | Promise<void>;
}

export interface QueueStats {
  /** Messages that the next receive could return. */
  visible: number;
  /** Messages received and not deleted: held by the consumer, or failed and waiting for their visibility timeout. */
  inFlight: number;
  /** Messages in the dead-letter store (`dlq.jsonl`), including earlier runs. */
  deadLettered: number;
  /** Messages processed successfully and deleted since this queue was created. */
  delivered: number;
}

export interface LocalQueue extends WebhookQueue {
  send(message: { body: string; receivedAt: string; delaySeconds?: number }): Promise<void>;
  /** Starts delivering batches to `consumer`. */
  start(consumer: QueueConsumer): void;
  /** Stops polling and waits for the in-flight batches and pending journal writes. `start` may be called again. */
  stop(): Promise<void>;
  stats(): QueueStats;
  /** Resolves when nothing is visible, in flight or being sent. */
  drained(): Promise<void>;
  /**
   * Moves every message of the dead-letter store back into the queue as a new message (receive count
   * reset), durably: journaled first, then removed from `dlq.jsonl`. Works started or not.
   * `afterEnqueue` runs between the two steps (a fault-injection point for tests).
   */
  redrive(hooks?: { afterEnqueue?: () => void | Promise<void> }): Promise<RedriveResult>;
}

export interface RedriveResult {
  /** How many dead letters went back into the queue. */
  readonly moved: number;
  /** The dead letters' message ids (the new messages have new ids). */
  readonly messageIds: readonly string[];
}

/** SQS's maximum message size (raised from 256 KiB to 1 MiB in 2025). */
export const MAX_MESSAGE_BYTES = 1024 * 1024;
const SENDER_ID = 'AIDALOCALTHREETONEINGEST';

interface Message {
  readonly id: string;
  readonly body: string;
  readonly receivedAt: string;
  readonly sentAt: number;
  readonly md5OfBody: string;
  receiveCount: number;
  firstReceiveAt: number | null;
  /** Epoch ms before which a received message is not visible. */
  visibleAt: number;
  /** Set while a consumer holds the message. */
  receiptHandle: string | null;
}

type JournalLine =
  | { t: 'send'; id: string; body: string; receivedAt: string; sentAt: number; rc?: number; fr?: number | null; va?: number }
  | { t: 'recv'; at: number; m: [string, number][] }
  | { t: 'del'; ids: string[] };

export function createLocalQueue(opts: LocalQueueOptions): LocalQueue {
  const visibilityTimeoutMs = positive(opts.visibilityTimeoutMs ?? 30_000, 'visibilityTimeoutMs');
  const maxReceiveCount = positive(opts.maxReceiveCount ?? 5, 'maxReceiveCount');
  const batchSize = positive(opts.batchSize ?? 10, 'batchSize');
  const concurrency = positive(opts.concurrency ?? 1, 'concurrency');
  const pollIntervalMs = positive(opts.pollIntervalMs ?? 50, 'pollIntervalMs');
  const compactMinLines = positive(opts.compactMinLines ?? 10_000, 'compactMinLines');
  const region = opts.region ?? 'local';
  const eventSourceARN = `arn:aws:sqs:${region}:${opts.account ?? '000000000000'}:${opts.queueName ?? 'threetone-webhooks'}`;

  mkdirSync(opts.dir, { recursive: true });
  const journalPath = join(opts.dir, 'queue.jsonl');
  const dlqPath = join(opts.dir, 'dlq.jsonl');
  const lockPath = join(opts.dir, 'queue.lock');
  acquireLock(lockPath);

  const messages = replayJournal(journalPath);
  const snapshot = (): string[] => [...messages.values()].map(snapshotLine);
  rewriteSync(journalPath, snapshot());
  const durability: Durability = {
    fsync: opts.fsync ?? true,
    groupCommit: opts.groupCommit ?? true,
    datasync: opts.datasync ?? ((file) => file.datasync()),
  };
  const journal = new AppendLog(journalPath, durability, {
    lines: messages.size,
    due: (lines) => lines >= compactMinLines && lines >= 4 * messages.size,
    snapshot,
  });
  const dlq = new AppendLog(dlqPath, durability);
  let deadLettered = countLines(dlqPath);
  let delivered = 0;
  let pendingSends = 0;
  let drainWaiters: (() => void)[] = [];

  let running = false;
  let loop: Promise<void> | null = null;
  const batches = new Set<Promise<void>>();
  let wakeUp: (() => void) | null = null;
  const wake = () => wakeUp?.();
  /** Serializes writes to the dead-letter store with a redrive's read and rewrite of it. */
  let dlqTail: Promise<unknown> = Promise.resolve();
  function withDlq<T>(fn: () => Promise<T>): Promise<T> {
    const run = dlqTail.then(fn, fn);
    dlqTail = run.catch(() => undefined);
    return run;
  }

  const isDrained = () => messages.size === 0 && pendingSends === 0;
  function checkDrained(): void {
    if (!isDrained() || drainWaiters.length === 0) return;
    const waiters = drainWaiters;
    drainWaiters = [];
    for (const w of waiters) w();
  }

  function takeVisible(now: number): Message[] {
    const batch: Message[] = [];
    for (const m of messages.values()) {
      if (m.receiptHandle === null && m.visibleAt <= now) {
        batch.push(m);
        if (batch.length === batchSize) break;
      }
    }
    return batch;
  }

  function toRecord(m: Message): SQSRecord {
    const messageAttributes: SQSMessageAttributes = {
      receivedAt: { stringValue: m.receivedAt, stringListValues: [], binaryListValues: [], dataType: 'String' },
    };
    return {
      messageId: m.id,
      receiptHandle: m.receiptHandle ?? '',
      body: m.body,
      attributes: {
        ApproximateReceiveCount: String(m.receiveCount),
        SentTimestamp: String(m.sentAt),
        SenderId: SENDER_ID,
        ApproximateFirstReceiveTimestamp: String(m.firstReceiveAt ?? m.sentAt),
      },
      messageAttributes,
      md5OfBody: m.md5OfBody,
      md5OfMessageAttributes: md5OfMessageAttributes(messageAttributes),
      eventSource: 'aws:sqs',
      eventSourceARN,
      awsRegion: region,
    };
  }

  async function deliver(batch: Message[], consumer: QueueConsumer): Promise<void> {
    const now = Date.now();
    for (const m of batch) {
      m.receiveCount += 1;
      m.firstReceiveAt ??= now;
      m.receiptHandle = randomBytes(64).toString('base64');
      m.visibleAt = now + visibilityTimeoutMs;
    }
    // Not awaited: a receive count lost in a crash only means one more attempt.
    journal.append([{ t: 'recv', at: now, m: batch.map((m) => [m.id, m.receiveCount]) }], false).catch(logJournalError);

    let failed: ReadonlySet<string>;
    try {
      failed = failedIds(await consumer({ Records: batch.map(toRecord) }), batch);
    } catch (err) {
      logger.error('Queue consumer threw: the whole batch will be redelivered', {
        errorName: errorName(err),
        batchSize: batch.length,
      });
      failed = new Set(batch.map((m) => m.id));
    }

    const done: Message[] = [];
    const dead: Message[] = [];
    for (const m of batch) {
      if (!failed.has(m.id)) done.push(m);
      else if (m.receiveCount >= maxReceiveCount) dead.push(m); // held until it is in the DLQ
      else m.receiptHandle = null; // invisible until `visibleAt`, then redelivered
    }
    if (done.length > 0) {
      for (const m of done) messages.delete(m.id);
      delivered += done.length;
      // A delete lost in a crash means a redelivery, which at-least-once consumers tolerate.
      await journal.append([{ t: 'del', ids: done.map((m) => m.id) }], false).catch(logJournalError);
    }
    for (const m of dead) await deadLetter(m);
    checkDrained();
  }

  async function deadLetter(m: Message): Promise<void> {
    const now = Date.now();
    const letter: DeadLetter = {
      messageId: m.id,
      body: m.body,
      receivedAt: m.receivedAt,
      receiveCount: m.receiveCount,
      firstReceivedAt: new Date(m.firstReceiveAt ?? now).toISOString(),
      failedAt: new Date(now).toISOString(),
    };
    try {
      await withDlq(() => dlq.append([letter], true));
    } catch (err) {
      // Keep the message in the queue: it is retried rather than lost.
      m.receiptHandle = null;
      logger.error('Could not write to the dead-letter store; the message stays queued', {
        errorName: errorName(err),
        messageId: m.id,
      });
      return;
    }
    messages.delete(m.id);
    deadLettered += 1;
    logger.error('Message moved to the dead-letter store', { messageId: m.id, receiveCount: m.receiveCount });
    await journal.append([{ t: 'del', ids: [m.id] }], false).catch(logJournalError);
    try {
      await opts.onDeadLetter?.(letter);
    } catch (err) {
      logger.error('onDeadLetter failed (the message is in dlq.jsonl)', { errorName: errorName(err), messageId: m.id });
    }
  }

  async function poll(consumer: QueueConsumer): Promise<void> {
    while (running) {
      while (running && batches.size < concurrency) {
        const batch = takeVisible(Date.now());
        if (batch.length === 0) break;
        const p: Promise<void> = deliver(batch, consumer)
          .catch((err: unknown) => logger.error('Queue delivery failed', { errorName: errorName(err) }))
          .finally(() => {
            batches.delete(p);
            wake();
          });
        batches.add(p);
      }
      if (!running) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, pollIntervalMs);
        function done() {
          clearTimeout(timer);
          wakeUp = null;
          resolve();
        }
        wakeUp = done;
      });
    }
  }

  return {
    async send(message) {
      if (typeof message.body !== 'string' || typeof message.receivedAt !== 'string') {
        throw new TypeError('send needs a string body and receivedAt');
      }
      if (Buffer.byteLength(message.body) + Buffer.byteLength(message.receivedAt) > MAX_MESSAGE_BYTES) {
        throw new RangeError(`message larger than ${MAX_MESSAGE_BYTES} bytes`);
      }
      const sentAt = Date.now();
      const delayMs = Math.min(900, Math.max(0, message.delaySeconds ?? 0)) * 1000;
      const m: Message = {
        id: randomUUID(),
        body: message.body,
        receivedAt: message.receivedAt,
        sentAt,
        md5OfBody: md5(message.body),
        receiveCount: 0,
        firstReceiveAt: null,
        visibleAt: delayMs > 0 ? sentAt + delayMs : 0,
        receiptHandle: null,
      };
      pendingSends += 1;
      try {
        const line: JournalLine = {
          t: 'send',
          id: m.id,
          body: m.body,
          receivedAt: m.receivedAt,
          sentAt: m.sentAt,
          ...(m.visibleAt > 0 && { va: m.visibleAt }),
        };
        // The message becomes receivable only once its line is on disk (and within the same
        // tick as the write, so a compaction snapshot never misses a written message).
        await journal.append([line], true, () => messages.set(m.id, m));
      } finally {
        pendingSends -= 1;
      }
      wake();
      checkDrained();
    },

    start(consumer) {
      if (running) throw new Error('local queue already started');
      acquireLock(lockPath);
      running = true;
      loop = poll(consumer);
    },

    async stop() {
      running = false;
      wake();
      await loop;
      loop = null;
      await Promise.all([...batches]);
      await dlqTail;
      await Promise.all([journal.close(), dlq.close()]);
      releaseLock(lockPath);
    },

    redrive(hooks = {}) {
      return withDlq(async () => {
        await dlq.close(); // pending appends are written; the rewrite below replaces the file
        const letters: DeadLetter[] = [];
        const keep: string[] = [];
        for (const text of existsSync(dlqPath) ? readFileSync(dlqPath, 'utf8').split('\n') : []) {
          if (text.trim() === '') continue;
          const letter = parseDeadLetter(text);
          if (letter) letters.push(letter);
          else keep.push(text); // never drop what cannot be read (a torn line's message is still queued anyway)
        }
        if (letters.length === 0) return { moved: 0, messageIds: [] };
        const sentAt = Date.now();
        const moved: Message[] = letters.map((l) => ({
          id: randomUUID(),
          body: l.body,
          receivedAt: l.receivedAt,
          sentAt,
          md5OfBody: md5(l.body),
          receiveCount: 0,
          firstReceiveAt: null,
          visibleAt: 0,
          receiptHandle: null,
        }));
        pendingSends += moved.length;
        try {
          // 1. into the queue, on disk; 2. only then out of the DLQ.
          const lines: JournalLine[] = moved.map((m) => ({ t: 'send', id: m.id, body: m.body, receivedAt: m.receivedAt, sentAt: m.sentAt }));
          await journal.append(lines, true, () => {
            for (const m of moved) messages.set(m.id, m);
          });
        } finally {
          pendingSends -= moved.length;
        }
        await hooks.afterEnqueue?.();
        rewriteSync(dlqPath, keep);
        deadLettered = keep.length;
        logger.info('Dead letters moved back to the queue', { moved: moved.length });
        wake();
        checkDrained();
        return { moved: moved.length, messageIds: letters.map((l) => l.messageId) };
      });
    },

    stats() {
      const now = Date.now();
      let visible = 0;
      for (const m of messages.values()) if (m.receiptHandle === null && m.visibleAt <= now) visible += 1;
      return { visible, inFlight: messages.size - visible, deadLettered, delivered };
    },

    drained() {
      if (isDrained()) return Promise.resolve();
      return new Promise<void>((resolve) => drainWaiters.push(resolve));
    },
  };
}

/**
 * Which records failed, as Lambda reads a partial batch response: nothing returned, or no
 * `batchItemFailures`, is a full success; a malformed list, or an entry whose itemIdentifier is
 * empty or not a message of this batch, fails the whole batch.
 */
function failedIds(response: unknown, batch: readonly Message[]): ReadonlySet<string> {
  const all = new Set(batch.map((m) => m.id));
  if (response === undefined || response === null) return new Set();
  if (typeof response !== 'object') return invalid('not an object');
  const failures = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return new Set();
  if (!Array.isArray(failures)) return invalid('batchItemFailures is not an array');
  const failed = new Set<string>();
  for (const f of failures) {
    const id: unknown = typeof f === 'object' && f !== null ? (f as { itemIdentifier?: unknown }).itemIdentifier : undefined;
    if (typeof id !== 'string' || !all.has(id)) return invalid('an itemIdentifier is empty or unknown');
    failed.add(id);
  }
  return failed;

  function invalid(reason: string): ReadonlySet<string> {
    logger.warn('Invalid partial batch response: the whole batch failed', { reason, batchSize: batch.length });
    return all;
  }
}

// ---------------------------------------------------------------- dead letters, lock

function parseDeadLetter(text: string): DeadLetter | null {
  try {
    const l = JSON.parse(text) as Partial<DeadLetter> | null;
    if (l && typeof l.body === 'string' && typeof l.receivedAt === 'string' && typeof l.messageId === 'string') return l as DeadLetter;
  } catch {
    // a torn line
  }
  return null;
}

/** Takes `queue.lock` for this process, unless another live process holds it. */
function acquireLock(path: string): void {
  const holder = Number(existsSync(path) ? readFileSync(path, 'utf8').trim() : NaN);
  if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
    throw new Error(`the local queue in ${join(path, '..')} is in use by process ${holder} (one process per queue folder)`);
  }
  writeFileSync(path, String(process.pid));
}

function releaseLock(path: string): void {
  try {
    if (readFileSync(path, 'utf8').trim() === String(process.pid)) rmSync(path, { force: true });
  } catch {
    // already gone
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// ---------------------------------------------------------------- journal

function replayJournal(path: string): Map<string, Message> {
  const messages = new Map<string, Message>();
  if (!existsSync(path)) return messages;
  let unreadable = 0;
  for (const text of readFileSync(path, 'utf8').split('\n')) {
    if (text.trim() === '') continue;
    let line: JournalLine;
    try {
      line = JSON.parse(text) as JournalLine;
    } catch {
      unreadable += 1; // a line torn by a crash mid-write
      continue;
    }
    if (line.t === 'send') {
      if (messages.has(line.id)) continue;
      messages.set(line.id, {
        id: line.id,
        body: line.body,
        receivedAt: line.receivedAt,
        sentAt: line.sentAt,
        md5OfBody: md5(line.body),
        receiveCount: line.rc ?? 0,
        firstReceiveAt: line.fr ?? null,
        // A delayed send stays delayed across a restart; a received message is visible again.
        visibleAt: line.va ?? 0,
        receiptHandle: null,
      });
    } else if (line.t === 'recv') {
      for (const [id, count] of line.m) {
        const m = messages.get(id);
        if (!m) continue;
        m.receiveCount = Math.max(m.receiveCount, count);
        m.firstReceiveAt ??= line.at;
      }
    } else if (line.t === 'del') {
      for (const id of line.ids) messages.delete(id);
    }
  }
  if (unreadable > 0) logger.warn('Skipped unreadable queue journal lines', { count: unreadable });
  return messages;
}

function snapshotLine(m: Message): string {
  const line: JournalLine = {
    t: 'send',
    id: m.id,
    body: m.body,
    receivedAt: m.receivedAt,
    sentAt: m.sentAt,
    rc: m.receiveCount,
    fr: m.firstReceiveAt,
    ...(m.receiveCount === 0 && m.visibleAt > 0 && { va: m.visibleAt }),
  };
  return JSON.stringify(line);
}

/** Atomically replaces `path` with `lines` (write a temp file, fsync, rename, fsync the folder). */
function rewriteSync(path: string, lines: readonly string[]): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    if (lines.length > 0) writeSync(fd, lines.join('\n') + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  try {
    const dirFd = openSync(join(path, '..'), 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  } catch {
    // Not every platform can fsync a folder; the rename itself is still atomic.
  }
}

function countLines(path: string): number {
  if (!existsSync(path)) return 0;
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '').length;
}

interface PendingWrite {
  readonly data: string;
  readonly lines: number;
  readonly sync: boolean;
  readonly apply: (() => void) | undefined;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

interface Compaction {
  /** Lines in the file now. */
  lines: number;
  due(lines: number): boolean;
  snapshot(): string[];
}

interface Durability {
  readonly fsync: boolean;
  readonly groupCommit: boolean;
  readonly datasync: (file: FileHandle, path: string) => Promise<void>;
}

/**
 * An append-only JSON-lines file with group commit: the appends queued while a write (and its
 * fsync) is in progress go out together in the next write and share its one fsync. Writes are
 * strictly sequential; an append settles only when the write (and, if `sync`, the fsync) that
 * covers its bytes has completed. When a write or its fsync fails, the file is cut back to where
 * that write began, and exactly the appends it covered are rejected.
 */
class AppendLog {
  #handle: FileHandle | null = null;
  /** Bytes in the file that earlier, successful writes account for (where the next write begins). */
  #size = 0;
  #queue: PendingWrite[] = [];
  #draining: Promise<void> | null = null;
  /** A failed write could not be cut back and may have left a partial line: start the next write on a fresh line. */
  #torn = false;

  constructor(
    private readonly path: string,
    private readonly durability: Durability,
    private readonly compaction?: Compaction,
  ) {}

  /** Appends one line per value; `apply` runs right after the write, before any later write. */
  append(values: readonly unknown[], sync: boolean, apply?: () => void): Promise<void> {
    const data = values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v)) + '\n').join('');
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ data, lines: values.length, sync, apply, resolve, reject });
      this.#draining ??= this.#drain();
    });
  }

  /** Waits for queued writes and closes the file (the next append reopens it). */
  async close(): Promise<void> {
    await this.#draining;
    const h = this.#handle;
    this.#handle = null;
    await h?.close();
  }

  async #drain(): Promise<void> {
    await null; // never settle synchronously (see `append`); lets same-tick appends join this write
    while (this.#queue.length > 0) {
      // Everything queued meanwhile: the appends that arrived during the previous write and fsync.
      const batch = this.#queue.splice(0, this.durability.groupCommit ? this.#queue.length : 1);
      try {
        if (this.compaction?.due(this.compaction.lines)) await this.#compact(this.compaction);
        const handle = (this.#handle ??= await this.#open());
        const data = Buffer.from((this.#torn ? '\n' : '') + batch.map((w) => w.data).join(''), 'utf8');
        await handle.appendFile(data);
        if (this.durability.fsync && batch.some((w) => w.sync)) await this.durability.datasync(handle, this.path);
        this.#size += data.length;
        this.#torn = false;
      } catch (err) {
        await this.#cutBack();
        for (const w of batch) w.reject(err);
        continue;
      }
      if (this.compaction) this.compaction.lines += batch.reduce((n, w) => n + w.lines, 0);
      for (const w of batch) w.apply?.();
      for (const w of batch) w.resolve();
    }
    this.#draining = null;
  }

  async #open(): Promise<FileHandle> {
    const handle = await open(this.path, 'a');
    try {
      this.#size = (await handle.stat()).size;
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw err;
    }
    return handle;
  }

  /**
   * After a failed write or fsync: removes whatever that write put in the file, so the appends it
   * covered, rejected, are not found there later (made durable by the next successful fsync).
   */
  async #cutBack(): Promise<void> {
    const h = this.#handle;
    if (!h) return;
    try {
      await h.truncate(this.#size);
    } catch {
      // Could not cut back: start afresh (the size is read again) on a new line.
      this.#torn = true;
      this.#handle = null;
      await h.close().catch(() => undefined);
    }
  }

  async #compact(c: Compaction): Promise<void> {
    const h = this.#handle;
    this.#handle = null;
    await h?.close();
    const lines = c.snapshot();
    rewriteSync(this.path, lines);
    c.lines = lines.length;
    this.#torn = false;
  }
}

// ---------------------------------------------------------------- helpers

function md5(text: string | Buffer): string {
  return createHash('md5').update(text).digest('hex');
}

/** SQS's MD5OfMessageAttributes: length-prefixed name, type, transport byte and value, sorted by name. */
function md5OfMessageAttributes(attrs: SQSMessageAttributes): string {
  const parts: Buffer[] = [];
  const lengthPrefixed = (b: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    parts.push(len, b);
  };
  for (const name of Object.keys(attrs).sort()) {
    const a = attrs[name]!;
    lengthPrefixed(Buffer.from(name, 'utf8'));
    lengthPrefixed(Buffer.from(a.dataType, 'utf8'));
    if (a.stringValue !== undefined) {
      parts.push(Buffer.from([1]));
      lengthPrefixed(Buffer.from(a.stringValue, 'utf8'));
    } else if (a.binaryValue !== undefined) {
      parts.push(Buffer.from([2]));
      lengthPrefixed(Buffer.from(a.binaryValue, 'base64'));
    }
  }
  return md5(Buffer.concat(parts));
}

function positive(n: number, name: string): number {
  if (!Number.isFinite(n) || n <= 0) throw new RangeError(`${name} must be a positive number`);
  return n;
}

function errorName(err: unknown): string {
  return err instanceof Error ? err.name : typeof err;
}

function logJournalError(err: unknown): void {
  logger.error('Queue journal write failed', { errorName: errorName(err) });
}
