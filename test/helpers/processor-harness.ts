/**
 * Drives the real processor handler against a real DynamoDB Local table, with an in-memory
 * ThreeTone API whose failures the test controls and a recording bus. Deliveries go through a tiny
 * SQS-like loop: failed records (batchItemFailures or a thrown batch) come back with
 * ApproximateReceiveCount + 1, in a new, shuffled batch.
 */
import { randomUUID } from 'node:crypto';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { createDynamoDbConversationStore } from '#adapters/dynamodb-conversation-store.js';
import { createDynamoDbQueries } from '#adapters/dynamodb-queries.js';
import { createDynamoDbErasureStore } from '#adapters/dynamodb-erasure-store.js';
import { createErasure, type Erasure } from '#functions/erasure/erasure.js';
import { COUNTERS, type AgentDay, emptyCounters } from '#core/aggregates.js';
import type { BusEvent } from '#core/bus-events.js';
import type { Envelope } from '#core/types.js';
import type { AudioArchive, ConversationSummary, EventPublisher, ThreeToneApi, ThreeToneAudioApi } from '#functions/ports.js';
import { createDynamoDbRequestBudget } from '#adapters/dynamodb-request-budget.js';
import { createEnricher, type DrainResult } from '#functions/enricher/enricher.js';
import { createProcessor, createProcessorHandler } from '#functions/processor/processor.js';
import { createOutboxPump, createTestTable, type TestTable } from './dynamodb.js';

/** The clock of the harness's processor and enricher (the end of the fixtures' day). */
export const HARNESS_NOW = Date.UTC(2026, 10, 20, 23, 0, 0);

export const THRESHOLDS = { longDurationSeconds: 600, lowSatisfaction: 2.5 };

/** The caller lookup key of the harness's processor and erasure. */
export const TEST_CALLER_HASH_KEY = 'test-caller-hash-key';

/** ThreeTone's REST API as a map of conversation id → details body, with injectable failures. */
export class FakeThreeTone implements ThreeToneApi {
  readonly details = new Map<string, Record<string, unknown>>();
  readonly transcripts = new Map<string, unknown>();
  readonly calls: string[] = [];
  /** Errors to throw on the next calls (FIFO), e.g. a retryable 500 or a timeout. */
  readonly failures: Error[] = [];

  async getConversation(id: string) {
    this.calls.push(`details:${id}`);
    const f = this.failures.shift();
    if (f) throw f;
    return this.details.get(id) ?? null;
  }
  async getTranscript(id: string) {
    this.calls.push(`transcript:${id}`);
    return this.transcripts.get(id) ?? null;
  }
  async listConversations(): Promise<{ conversations: ConversationSummary[]; nextCursor: string | null }> {
    return { conversations: [], nextCursor: null };
  }
}

/** A bus that records what it accepted and can refuse the next N entries (like FailedEntryCount). */
export class RecordingBus implements EventPublisher {
  readonly events: BusEvent[] = [];
  failNextEntries = 0;
  /** Which entries `failNextEntries` refuses (default: any). */
  failOnly: (e: BusEvent) => boolean = () => true;
  async publish(events: readonly BusEvent[]) {
    const failed: BusEvent[] = [];
    for (const e of events) {
      if (this.failNextEntries > 0 && this.failOnly(e)) {
        this.failNextEntries--;
        failed.push(e);
      } else this.events.push(e);
    }
    return { failed };
  }
  ofType(detailType: string) {
    return this.events.filter((e) => e.detailType === detailType);
  }
  /** Distinct by event_id, as a consumer that dedupes sees them. */
  distinct(detailType: string) {
    return [...new Map(this.ofType(detailType).map((e) => [e.detail.event_id, e])).values()];
  }
}

export interface Harness {
  table: TestTable;
  api: FakeThreeTone;
  bus: RecordingBus;
  /**
   * The processor handler; after each batch it drains the enrichment queue (`settle`). Each of the
   * harness's entry points (handler, deliver, settle, enricher, erasure) ends by publishing what the
   * table's change stream holds (`publishOutbox`), as the outbox publisher does on AWS.
   */
  handler: ReturnType<typeof createProcessorHandler>;
  /** Erasure by id or phone number, on the same table and bus (README "Erasure"). */
  erasure: Erasure;
  /** The enricher, with no waits between attempts (the clock is the test's). */
  enricher: ReturnType<typeof createEnricher>;
  /** Drains the enrichment queue until nothing is due (at most `rounds` runs). */
  settle(rounds?: number): Promise<DrainResult>;
  /** Moves the harness clock (default clock only); refetches of non-final details wait 60 s of it. */
  advance(ms: number): void;
  /** Delivers the bodies in batches until every message succeeded or was dead-lettered. */
  deliver(bodies: string[], opts?: { batchSize?: number; maxReceiveCount?: number; shuffle?: boolean }): Promise<{ deadLettered: string[]; attempts: number }>;
  agentDays(agentId: string): Promise<AgentDay[]>;
  /** Publishes the events of every change committed so far (the change stream, read to its end). */
  publishOutbox(): Promise<void>;
  close(): Promise<void>;
}

export const body = (e: Envelope) => JSON.stringify(e);

export function sqsRecord(bodyText: string, receiveCount = 1, messageId = randomUUID()): SQSRecord {
  const now = Date.now();
  return {
    messageId,
    receiptHandle: randomUUID(),
    body: bodyText,
    attributes: {
      ApproximateReceiveCount: String(receiveCount),
      SentTimestamp: String(now),
      SenderId: 'local',
      ApproximateFirstReceiveTimestamp: String(now),
    },
    messageAttributes: { receivedAt: { stringValue: new Date(now).toISOString(), dataType: 'String' } },
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:local:000000000000:webhooks',
    awsRegion: 'local',
  };
}

function shuffled<T>(xs: T[]): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

export async function createHarness(
  opts: {
    maxReceiveCount?: number;
    api?: FakeThreeTone;
    giveUpHours?: number;
    now?: () => number;
    enrichAfterBatch?: boolean;
    /** AUDIO_ARCHIVE on: recordings come from `api` and go to `archive` (the erasure deletes them there too). */
    audio?: { api: ThreeToneAudioApi; archive: AudioArchive };
  } = {},
): Promise<Harness> {
  const table = await createTestTable();
  const api = opts.api ?? new FakeThreeTone();
  const bus = new RecordingBus();
  const maxReceiveCount = opts.maxReceiveCount ?? 5;
  const store = createDynamoDbConversationStore(table.doc, table.tableName, { retention: { rawEventDays: 30, transcriptDays: 0, recordDays: 0 } });
  // The fixtures' day is 2026-11-20: the processor and enricher live at its end, whatever today is.
  let offset = 0;
  const now = opts.now ?? (() => HARNESS_NOW + offset);
  const deps = {
    now,
    store,
    publisher: bus,
    config: { alerts: THRESHOLDS, maxReceiveCount, redactFields: ['phone_number'], enrichment: { maxAgeDays: 7 }, audioArchive: opts.audio !== undefined },
    sleep: async () => undefined,
    callerHashKey: async () => TEST_CALLER_HASH_KEY,
  };
  const processor = createProcessor(deps);
  const pump = await createOutboxPump(table, bus);
  /** `fn`, then the change stream published. */
  const thenPublish =
    <A extends unknown[], R>(fn: (...a: A) => Promise<R>) =>
    async (...a: A): Promise<R> => {
      const r = await fn(...a);
      await pump.drain();
      return r;
    };
  const erasureInner = createErasure({
    store: createDynamoDbErasureStore(table.doc, table.tableName, { tombstoneDays: 45, now }),
    callerHashKey: async () => TEST_CALLER_HASH_KEY,
    ...(opts.audio && { audio: opts.audio.archive }),
    now,
    sleep: async () => undefined,
  });
  const erasure: Erasure = { ...erasureInner };
  for (const k of Object.keys(erasure) as (keyof Erasure)[]) {
    const f = erasure[k];
    if (typeof f === 'function') (erasure as unknown as Record<string, unknown>)[k] = thenPublish(f as (...a: unknown[]) => Promise<unknown>);
  }
  const enricherInner = createEnricher({
    store,
    api,
    budget: createDynamoDbRequestBudget(table.doc, table.tableName, { perMinute: 1_000_000, perHour: 1_000_000 }),
    rebuild: processor.rebuildConversation,
    ...(opts.audio && { audio: opts.audio }),
    config: { giveUpHours: opts.giveUpHours ?? 6 },
    timing: { backoffBaseMs: 0, refetchNonFinalMs: 60_000 },
    now,
  });
  const enricher: typeof enricherInner = { ...enricherInner, drain: thenPublish(enricherInner.drain) };
  const settle = thenPublish(async (rounds: number = 12): Promise<DrainResult> => {
    let last = await enricherInner.drain({ deadlineMs: 30_000 });
    for (let i = 1; i < rounds && last.enriched + last.audioStored + last.failed > 0; i++) last = await enricherInner.drain({ deadlineMs: 30_000 });
    return last;
  });
  const handler = thenPublish(createProcessorHandler({ ...deps, ...(opts.enrichAfterBatch !== false && { afterBatch: () => settle() }) }, processor));

  return {
    table,
    api,
    bus,
    handler,
    erasure,
    enricher,
    settle,
    advance(ms) {
      offset += ms;
    },
    async deliver(bodies, o = {}) {
      const batchSize = o.batchSize ?? 10;
      const limit = o.maxReceiveCount ?? maxReceiveCount;
      let queue = bodies.map((b) => ({ id: randomUUID(), body: b, count: 0 }));
      const deadLettered: string[] = [];
      let attempts = 0;
      while (queue.length) {
        if (o.shuffle !== false) queue = shuffled(queue);
        const batch = queue.splice(0, batchSize);
        batch.forEach((m) => m.count++);
        attempts++;
        const event: SQSEvent = { Records: batch.map((m) => sqsRecord(m.body, m.count, m.id)) };
        let failedIds: Set<string>;
        try {
          const res = await handler(event);
          failedIds = new Set(res.batchItemFailures.map((f) => f.itemIdentifier));
        } catch {
          failedIds = new Set(batch.map((m) => m.id));
        }
        for (const m of batch) {
          if (!failedIds.has(m.id)) continue;
          if (m.count >= limit) deadLettered.push(m.body);
          else queue.push(m);
        }
      }
      await pump.drain();
      return { deadLettered, attempts };
    },
    async agentDays(agentId) {
      // Read as the query API reads them (the day's shards summed).
      return createDynamoDbQueries(table.doc, table.tableName).getAgentDays(agentId, '0000-01-01', '9999-12-31');
    },
    publishOutbox: () => pump.drain(),
    async close() {
      await pump.close();
      await table.drop();
    },
  };
}
