/**
 * The local stand-in for Lambda's DynamoDB Streams event source (D30): reads the table's change
 * stream and hands each batch to the same handler the outbox publisher Lambda runs, with its
 * partial-failure contract. A batch is checkpointed only once the handler accepted it (up to the
 * first failed record, which is retried from, after a growing wait: like the event source, which
 * retries until it succeeds). With a `checkpointFile` (DATA_DIR/stream-checkpoint.json) the position
 * survives a restart, so a change committed just before a crash is still published after it;
 * DynamoDB Local keeps its stream in its data folder. A change may be published twice around a
 * crash (same `event_id`), never skipped. Reads run one at a time (a `drain`, a poll, a kick), and
 * the position is saved after every batch the handler accepted.
 *
 * Shards are read parents first; a closed shard is finished once read to its end. A shard iterator
 * that expired (15 minutes) is asked for again from the checkpoint.
 */
import { open, readFile, rename } from 'node:fs/promises';
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  type DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as StreamRecord,
  type Shard,
} from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { logger as defaultLogger, errorFields, type Logger } from '#functions/shared/logger.js';
import { streamsClientFor } from './dynamodb-local.js';

export interface StreamPumpOptions {
  client: DynamoDBClient;
  /**
   * The stream's client, or the endpoint to build one for (same region and credentials as `client`;
   * `stop` then destroys it).
   */
  streams: DynamoDBStreamsClient | { endpoint: string };
  tableName: string;
  handler: (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse>;
  /** Where the position is kept across restarts; without it, in memory (tests). */
  checkpointFile?: string;
  /** Wait between polls once caught up. @default 100 */
  pollMs?: number;
  /** Records per batch (the event source's batch size). @default 100 */
  batchSize?: number;
  logger?: Logger;
}

export interface StreamPump {
  /** Reads until every shard is caught up (what was committed before the call is handed over). */
  drain(): Promise<void>;
  /** Polls in the background until `stop` (which also ends a client the pump built). */
  start(): void;
  /** Reads now rather than at the next poll (after a commit: events follow it within moments). */
  kick(): void;
  stop(): Promise<void>;
}

interface Checkpoint {
  streamArn: string | null;
  /** Last sequence number handed over per shard, or `done` once a closed shard was read to its end. */
  shards: Record<string, string>;
}

const DONE = 'done';

export async function createStreamPump(opts: StreamPumpOptions): Promise<StreamPump> {
  const log = opts.logger ?? defaultLogger;
  const owned = 'endpoint' in opts.streams ? await streamsClientFor(opts.client, opts.streams.endpoint) : null;
  const streams = owned ?? (opts.streams as DynamoDBStreamsClient);
  const pollMs = opts.pollMs ?? 100;
  const limit = opts.batchSize ?? 100;
  let checkpoint: Checkpoint = { streamArn: null, shards: {} };
  if (opts.checkpointFile) {
    let text: string | null = null;
    try {
      text = await readFile(opts.checkpointFile, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`the stream checkpoint ${opts.checkpointFile} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    if (text !== null) {
      const parsed = parseCheckpoint(text);
      // Unreadable (e.g. emptied by a power loss): reading the stream from its oldest change again
      // publishes some events twice (same event_id), never skips one.
      if (parsed) checkpoint = parsed;
      else log.warn('the stream checkpoint is not valid; reading the stream from its oldest change');
    }
  }
  const iterators = new Map<string, string>();
  let stopped = false;
  let failures = 0;
  let retryAt = 0;

  /** Written whole (on disk before the rename), so a crash leaves the old position or the new one. */
  async function save(): Promise<void> {
    if (!opts.checkpointFile) return;
    const tmp = `${opts.checkpointFile}.tmp`;
    const file = await open(tmp, 'w');
    try {
      await file.writeFile(JSON.stringify(checkpoint));
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, opts.checkpointFile);
  }

  /** The stream and its shards, described again after a while, when a shard closes, or after an error. */
  let described: { arn: string; shards: Shard[]; at: number } | null = null;
  const DESCRIBE_EVERY_MS = 5_000;

  async function streamArn(): Promise<string> {
    const { Table: table } = await opts.client.send(new DescribeTableCommand({ TableName: opts.tableName }));
    const arn = table?.LatestStreamArn;
    if (!arn) throw new Error(`table ${opts.tableName} has no change stream`);
    if (arn !== checkpoint.streamArn) {
      // Another stream (a new table): its position starts over.
      checkpoint = { streamArn: arn, shards: {} };
      iterators.clear();
    }
    return arn;
  }

  async function shards(arn: string): Promise<Shard[]> {
    const all: Shard[] = [];
    let start: string | undefined;
    do {
      const out = await streams.send(new DescribeStreamCommand({ StreamArn: arn, ExclusiveStartShardId: start }));
      all.push(...(out.StreamDescription?.Shards ?? []));
      start = out.StreamDescription?.LastEvaluatedShardId;
    } while (start);
    return all;
  }

  async function iteratorOf(arn: string, shardId: string): Promise<string | undefined> {
    // Taken, not shared: put back only where a read ends cleanly, so an error part-way never
    // resumes from a stale position (which would hand records over again).
    const cached = iterators.get(shardId);
    if (cached) {
      iterators.delete(shardId);
      return cached;
    }
    const seq = checkpoint.shards[shardId];
    const fromStart = { StreamArn: arn, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' as const };
    try {
      const out = await streams.send(new GetShardIteratorCommand(seq ? { StreamArn: arn, ShardId: shardId, ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: seq } : fromStart));
      return out.ShardIterator;
    } catch (err) {
      // The position is older than the stream keeps (24 hours): what is left is read from its start.
      if ((err as Error).name !== 'TrimmedDataAccessException') throw err;
      log.warn('the stream no longer holds the checkpointed position (stopped over 24 hours); reading from its oldest change');
      return (await streams.send(new GetShardIteratorCommand(fromStart))).ShardIterator;
    }
  }

  /** Reads one shard as far as it goes now; false when the handler refused a record (retry later). */
  async function pumpShard(arn: string, shardId: string): Promise<{ ok: boolean; moved: boolean }> {
    let iterator = await iteratorOf(arn, shardId);
    let moved = false;
    while (iterator) {
      let out;
      try {
        out = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: limit }));
      } catch (err) {
        if ((err as Error).name !== 'ExpiredIteratorException') throw err;
        iterators.delete(shardId);
        iterator = await iteratorOf(arn, shardId);
        continue;
      }
      const records = out.Records ?? [];
      if (records.length > 0) {
        const response = await opts.handler({ Records: records.map(toLambdaRecord) });
        const failedAt = firstFailure(records, response);
        const accepted = failedAt === null ? records : records.slice(0, failedAt);
        const last = accepted[accepted.length - 1]?.dynamodb?.SequenceNumber;
        if (last) {
          checkpoint.shards[shardId] = last;
          moved = true;
          // After every accepted batch: a crash re-reads at most one batch.
          await save();
        }
        if (failedAt !== null) return { ok: false, moved };
      }
      iterator = out.NextShardIterator;
      if (!iterator) {
        // Closed and read to its end.
        checkpoint.shards[shardId] = DONE;
        iterators.delete(shardId);
        moved = true;
        break;
      }
      if (records.length === 0 || stopped) {
        iterators.set(shardId, iterator);
        break;
      }
    }
    if (checkpoint.shards[shardId] === DONE) await save();
    return { ok: true, moved };
  }

  /** One pass over the shards, parents first; resolves whether anything was handed over. */
  async function pass(): Promise<boolean> {
    if (!described || Date.now() - described.at > DESCRIBE_EVERY_MS) {
      const arn = await streamArn();
      described = { arn, shards: await shards(arn), at: Date.now() };
    }
    const { arn, shards: list } = described;
    const known = new Set(list.map((s) => s.ShardId));
    const finished = (id: string | undefined) => !id || !known.has(id) || checkpoint.shards[id] === DONE;
    let moved = false;
    for (let progress = true; progress; ) {
      progress = false;
      for (const shard of list) {
        const id = shard.ShardId!;
        if (checkpoint.shards[id] === DONE || !finished(shard.ParentShardId)) continue;
        const r = await pumpShard(arn, id);
        moved ||= r.moved;
        if (!r.ok) throw new HandlerRefused();
        // A shard that just finished lets its children be read (the next pass describes them).
        if (checkpoint.shards[id] === DONE) {
          progress = true;
          described = null;
        }
      }
    }
    return moved;
  }

  /**
   * Every read of the stream runs through here, one at a time: two overlapping passes would read the
   * same shard from the same position and hand its records over twice.
   */
  let chain: Promise<unknown> = Promise.resolve();
  function exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const next = chain.then(fn);
    chain = next.catch(() => undefined);
    return next;
  }
  const passes = () =>
    exclusive(async () => {
      while (!stopped && (await pass()));
    });

  async function drain(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await passes();
        return;
      } catch (err) {
        if (!(err instanceof HandlerRefused)) described = null;
        if (!(err instanceof HandlerRefused) || attempt >= 50) throw err;
        await new Promise((r) => setTimeout(r, Math.min(1000, 10 * 2 ** attempt)));
      }
    }
  }

  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  /** A kick while a pass runs: another pass right after it (the commit may have come after its read). */
  let kickAgain = false;
  const tick = () => {
    if (stopped || running || Date.now() < retryAt) return;
    running = (async () => {
      try {
        await passes();
        failures = 0;
      } catch (err) {
        // Refused by the bus, or the stream unreachable: retried after a growing wait, never skipped.
        if (!(err instanceof HandlerRefused)) described = null;
        failures++;
        retryAt = Date.now() + Math.min(30_000, 100 * 2 ** Math.min(failures, 9));
        if (!(err instanceof HandlerRefused)) log.warn('reading the change stream failed; retrying', errorFields(err));
      }
    })().finally(() => {
      running = null;
      if (kickAgain && !stopped) {
        kickAgain = false;
        tick();
      }
    });
  };
  return {
    drain,
    start() {
      timer ??= setInterval(tick, pollMs);
    },
    kick() {
      if (!timer) return;
      if (running) kickAgain = true;
      else tick();
    },
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      await running;
      // A drain under way ends after its current batch (the loops check `stopped`).
      await chain;
      owned?.destroy();
    },
  };
}

/**
 * Where the handler's failures start (Lambda resumes from the lowest sequence number reported):
 * the index of the earliest reported record, 0 for an identifier not in the batch (all of it is
 * retried), null when it accepted everything.
 */
function firstFailure(records: readonly StreamRecord[], response: DynamoDBBatchResponse): number | null {
  if (response.batchItemFailures.length === 0) return null;
  return Math.min(
    ...response.batchItemFailures.map((f) => {
      const i = records.findIndex((r) => r.dynamodb?.SequenceNumber === f.itemIdentifier);
      return i < 0 ? 0 : i;
    }),
  );
}

function parseCheckpoint(text: string): Checkpoint | null {
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null) return null;
    const { streamArn, shards } = v as Record<string, unknown>;
    if (streamArn !== null && typeof streamArn !== 'string') return null;
    if (typeof shards !== 'object' || shards === null || Array.isArray(shards)) return null;
    if (!Object.values(shards).every((x) => typeof x === 'string')) return null;
    return { streamArn, shards: shards as Record<string, string> };
  } catch {
    return null;
  }
}

class HandlerRefused extends Error {
  override name = 'HandlerRefused';
}

/** A record as the SDK returns it, in the shape Lambda hands a stream-triggered function. */
function toLambdaRecord(r: StreamRecord): DynamoDBRecord {
  return {
    eventID: r.eventID,
    eventName: r.eventName,
    eventVersion: r.eventVersion,
    eventSource: r.eventSource,
    awsRegion: r.awsRegion,
    dynamodb: {
      ...r.dynamodb,
      ApproximateCreationDateTime: r.dynamodb?.ApproximateCreationDateTime ? r.dynamodb.ApproximateCreationDateTime.getTime() / 1000 : undefined,
    },
  } as DynamoDBRecord;
}
