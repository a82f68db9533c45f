/**
 * ConversationStore on DynamoDB (layout: docs/data-model.md). Every write is idempotent or
 * conditional; the record (carrying the events the change produces, published from the table's
 * change stream: D30) and its aggregate deltas go in one transaction.
 *
 * Whatever comes from a webhook's arbitrary JSON (its facts, the body itself, the events that carry
 * its `data`, transcripts) is stored as JSON text, never as a DynamoDB map: a map would limit the
 * payload's depth (32 levels), refuse numbers a double cannot hold, and rewrite them. Only values
 * this service computed (records, aggregates, bookkeeping) are attributes.
 */
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { AggregateDelta } from '#core/aggregates.js';
import type { BusEvent } from '#core/bus-events.js';
import { eventFacts } from '#core/event-facts.js';
import { parseJson, stringifyJson } from '#core/json-text.js';
import type { TranscriptTurn } from '#core/types.js';
import {
  ConcurrentUpdateError,
  ConversationErasedError,
  type ConversationStore,
  type EventScope,
  type PendingEnrichment,
  type RecordChange,
  type RecordSnapshot,
  type StoredEvent,
} from '#functions/ports.js';
import { compressJson } from './compressed-json.js';
import { recordAttributes, recordOfItem, stateOfItem } from './record-item.js';
import { batchGetItems } from './dynamodb-batch-get.js';
import { ALL_SHARDS, keys, shardOf, TABLE } from './table-schema.js';

export type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];
type Item = Record<string, unknown>;

export interface StoreOptions {
  /** Days to keep each data class; 0 keeps it forever. */
  retention: { rawEventDays: number; transcriptDays: number; recordDays: number };
  now?: () => number;
}

/**
 * A queue item's lease (epoch ms): an attribute the index does not carry, so taking a lease writes
 * the item alone, not its index entry too (issue 10).
 */
const LEASE = 'held_until';
const isHeld = (it: Item, nowMs: number) => typeof it[LEASE] === 'number' && it[LEASE] > nowMs;
/** Leases that may be held at once (one per enricher run; runs overlap rarely). */
const HELD_AT_ONCE = 4;

/** A queue read takes pages of this many items (~200 bytes each), at most this many pages. */
const QUEUE_PAGE_ITEMS = 200;
const QUEUE_SCAN_PAGES = 25;

/** DynamoDB's item limit is 400 KB; transcript chunks stay well below it. */
const TRANSCRIPT_CHUNK_BYTES = 300 * 1024;

export function scopePk(scope: EventScope, eventKey?: string): string {
  switch (scope.kind) {
    case 'conversation':
      return keys.conversation(scope.conversationId);
    case 'call':
      return keys.call(scope.callId);
    case 'platform':
      if (!eventKey) throw new Error('a platform scope needs the event key');
      return keys.platformEvent(eventKey);
  }
}

export function isConditionFailure(err: unknown, index = 0): boolean {
  if (!(err instanceof TransactionCanceledException)) return false;
  return err.CancellationReasons?.[index]?.Code === 'ConditionalCheckFailed';
}

export function isTransactionConflict(err: unknown): boolean {
  if (err instanceof TransactionCanceledException) {
    return (err.CancellationReasons ?? []).some((r) => r.Code === 'TransactionConflict');
  }
  return (err as { name?: string } | undefined)?.name === 'TransactionConflictException';
}

/** The events a write produces, in the item it writes (the change stream publishes them, D30); none: nothing. */
export const outboxAttribute = (events: readonly BusEvent[]): Record<string, Uint8Array> =>
  events.length > 0 ? { [TABLE.outboxAttribute]: compressJson(events) } : {};

/**
 * An aggregate delta as one Update of its agent-day item (`ADD` of each non-zero counter): the
 * conversation's own shard of it, so that concurrent conversations of one agent rarely meet.
 */
export function aggregateUpdate(tableName: string, delta: AggregateDelta, conversationId: string): TransactItem {
  const names: Record<string, string> = { '#agent': 'agent_id', '#date': 'date' };
  const values: Record<string, unknown> = { ':agent': delta.agentId, ':date': delta.date };
  const adds: string[] = [];
  let i = 0;
  for (const [counter, n] of Object.entries(delta.counters)) {
    if (!n) continue;
    names[`#c${i}`] = counter;
    values[`:c${i}`] = n;
    adds.push(`#c${i} :c${i}`);
    i++;
  }
  for (const [topic, n] of Object.entries(delta.topics)) {
    if (!n) continue;
    names[`#c${i}`] = `topic:${topic}`;
    values[`:c${i}`] = n;
    adds.push(`#c${i} :c${i}`);
    i++;
  }
  return {
    Update: {
      TableName: tableName,
      Key: { pk: keys.agent(delta.agentId), sk: keys.dayShard(delta.date, shardOf(conversationId)) },
      UpdateExpression: `SET #agent = :agent, #date = :date${adds.length ? ` ADD ${adds.join(', ')}` : ''}`,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    },
  };
}

/** The tombstone check of a scope's writes: refused once the scope was erased. */
export const notErased = (tableName: string, scopePk: string): TransactItem => ({
  ConditionCheck: { TableName: tableName, Key: { pk: keys.erased(scopePk), sk: keys.tombstone }, ConditionExpression: 'attribute_not_exists(pk)' },
});

export function createDynamoDbConversationStore(doc: DynamoDBDocumentClient, tableName: string, opts: StoreOptions): ConversationStore {
  const now = opts.now ?? Date.now;
  const expiresAt = (days: number) => (days > 0 ? Math.floor(now() / 1000) + Math.round(days * 86_400) : undefined);

  async function queryAll(input: Omit<QueryCommandInput, 'TableName'>): Promise<Item[]> {
    const items: Item[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await doc.send(new QueryCommand({ TableName: tableName, ...input, ExclusiveStartKey: start }));
      items.push(...((page.Items ?? []) as Item[]));
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  }

  /**
   * Items of the enrichment queue (`by-time`, partition ENRICH), oldest end first, that pass `filter`:
   * up to `want` of them, reading at most QUEUE_SCAN_PAGES pages. Paged past the filter, so a long run
   * of items that do not qualify at the head (deferred, leased, given up) never hides those behind it.
   */
  async function queueItems(q: { want: number; filter: string; values?: Record<string, unknown>; before?: string; queue?: string }): Promise<Item[]> {
    const found: Item[] = [];
    let start: Record<string, unknown> | undefined;
    for (let page = 0; page < QUEUE_SCAN_PAGES && found.length < q.want; page++) {
      const out = await doc.send(
        new QueryCommand({
          TableName: tableName,
          IndexName: TABLE.byTimeIndex.name,
          KeyConditionExpression: q.before === undefined ? 'gsi2pk = :q' : 'gsi2pk = :q AND gsi2sk < :before',
          FilterExpression: q.filter,
          ExpressionAttributeValues: { ':q': q.queue ?? keys.enrichmentQueue, ...q.values, ...(q.before !== undefined && { ':before': q.before }) },
          Limit: QUEUE_PAGE_ITEMS,
          ExclusiveStartKey: start,
        }),
      );
      for (const it of (out.Items ?? []) as Item[]) if (found.length < q.want) found.push(it);
      start = out.LastEvaluatedKey;
      if (!start) break;
    }
    return found;
  }

  /** The items of `keyed` (anything holding their table keys), in that order; those gone meanwhile are left out. */
  async function getItems(keyed: readonly Item[]): Promise<Item[]> {
    const id = (it: Item) => `${String(it.pk)}\u0000${String(it.sk)}`;
    const items = await batchGetItems(doc, tableName, keyed.map((it) => ({ pk: it.pk, sk: it.sk })), { consistentRead: true });
    const found = new Map(items.map((it) => [id(it), it]));
    return keyed.map((k) => found.get(id(k))).filter((it): it is Item => it !== undefined);
  }

  /** Whether the scope (its `CONV#`/`CALL#` key) was erased: its tombstone, read strongly consistent. */
  async function isErased(scopePk: string): Promise<boolean> {
    const out = await doc.send(new GetCommand({ TableName: tableName, Key: { pk: keys.erased(scopePk), sk: keys.tombstone }, ConsistentRead: true, ProjectionExpression: 'pk' }));
    return out.Item !== undefined;
  }

  /** One write of a conversation's data, refused (ConversationErasedError) once `scopePk` is tombstoned. */
  async function writeUnlessErased(scopePk: string, item: TransactItem): Promise<void> {
    try {
      await doc.send(new TransactWriteCommand({ TransactItems: [notErased(tableName, scopePk), item] }));
    } catch (err) {
      if (isConditionFailure(err, 0)) throw new ConversationErasedError(scopePk);
      throw err;
    }
  }

  /** Leases a queue item (`sk` under the conversation) until `nowMs + leaseMs`; false if held or gone. */
  async function leaseItem(conversationId: string, sk: string, nowMs: number, leaseMs: number): Promise<boolean> {
    try {
      await doc.send(
        new UpdateCommand({
          TableName: tableName,
          Key: { pk: keys.conversation(conversationId), sk },
          UpdateExpression: `SET ${LEASE} = :until`,
          // `lease_until`: a lease taken before leases moved to an attribute the index does not carry.
          ConditionExpression: `attribute_exists(pk) AND (attribute_not_exists(${LEASE}) OR ${LEASE} <= :now) AND (attribute_not_exists(lease_until) OR lease_until <= :now)`,
          ExpressionAttributeValues: { ':until': nowMs + leaseMs, ':now': nowMs },
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }

  /** A queue item's Put (`sk` under the conversation, `queue` its by-time partition), as a commit adds it. */
  const queuePut = (pk: string, sk: string, queue: string, conversationId: string, endedAt: string): TransactItem => ({
    Put: {
      TableName: tableName,
      Item: { pk, sk, conversation_id: conversationId, ended_at: endedAt, attempts: 0, not_before: 0, gsi2pk: queue, gsi2sk: `${endedAt}#${conversationId}` },
    },
  });

  return {
    async insertEvent(scope, event) {
      const pk = scopePk(scope, event.key);
      // An erased scope stores nothing (and publishes nothing) of a late webhook. A rebuild after
      // these writes checks the tombstone again, in its commit (D30: these writes are not transactional).
      if (scope.kind !== 'platform' && !event.notErasedJustNow && (await isErased(pk))) return 'erased';
      const callerKeys = scope.kind === 'platform' ? [] : [...new Set(event.callerKeys ?? [])];
      const put = (Item: Item, ConditionExpression?: string) => doc.send(new PutCommand({ TableName: tableName, Item, ...(ConditionExpression && { ConditionExpression }) }));
      // Each its own write (issue 10: a transaction bills every item twice). The event's conditional
      // put says whether it is new; the others are idempotent and written on every delivery, so a
      // crash between them is repaired by the redelivery.
      const [stored] = await Promise.all([
        // What records are rebuilt from: kept as long as records (platform events feed none).
        put(
          {
            pk,
            sk: keys.event(event.key),
            facts_json: stringifyJson({ event: event.envelope.event, timestamp: event.envelope.timestamp, data: eventFacts(event.envelope.data) }),
            timestamp_ms: event.timestampMs,
            received_at: event.receivedAt,
            // Which caller lookup items point here (hashes only), so an erasure can delete them.
            ...(callerKeys.length > 0 && { caller_keys: callerKeys }),
            expires_at: expiresAt(scope.kind === 'platform' ? opts.retention.rawEventDays : opts.retention.recordDays),
          },
          'attribute_not_exists(pk)',
        ).then(
          () => true,
          (err: unknown) => {
            if (err instanceof ConditionalCheckFailedException) return false;
            throw err;
          },
        ),
        // The body exactly as signed (personal data): kept RAW_EVENT_RETENTION_DAYS, served by
        // `GET /webhooks/{event_key}` (e.g. when a `ThreeTone Event` carries its data in part).
        put({ pk: keys.webhook(event.key), sk: keys.webhookBody, body: event.rawText, expires_at: expiresAt(opts.retention.rawEventDays) }),
        // Caller lookup (README "Erasure"): keyed hash → this scope; kept as long as the facts.
        ...callerKeys.map((h) => put({ pk: keys.caller(h), sk: pk, expires_at: expiresAt(opts.retention.recordDays) })),
        ...(scope.kind === 'conversation' && event.linkCall !== undefined
          ? [put({ pk: keys.call(event.linkCall), sk: keys.link, conversation_id: scope.conversationId })]
          : []),
      ]);
      return stored ? 'stored' : 'duplicate';
    },

    isErased: (scope) => isErased(scopePk(scope)),

    async discardEvent(scope, event) {
      // What insertEvent wrote for this webhook, after its scope turned out erased meanwhile.
      const pk = scopePk(scope, event.key);
      const del = (k: { pk: string; sk: string }) => doc.send(new DeleteCommand({ TableName: tableName, Key: k }));
      await Promise.all([
        del({ pk: keys.webhook(event.key), sk: keys.webhookBody }),
        ...[...new Set(event.callerKeys ?? [])].map((h) => del({ pk: keys.caller(h), sk: pk })),
        ...(scope.kind === 'conversation' && event.linkCall !== undefined ? [del({ pk: keys.call(event.linkCall), sk: keys.link })] : []),
      ]);
      await del({ pk, sk: keys.event(event.key) });
    },

    async listEvents(scope) {
      const items = await queryAll({
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :evt)',
        ExpressionAttributeValues: { ':pk': scopePk(scope), ':evt': keys.eventPrefix },
        ConsistentRead: true,
      });
      return items.map(
        (it): StoredEvent => ({
          key: String(it.sk).slice(keys.eventPrefix.length),
          envelope: parseJson(String(it.facts_json)) as StoredEvent['envelope'],
          timestampMs: Number(it.timestamp_ms),
          receivedAt: String(it.received_at),
          ...(Array.isArray(it.caller_keys) && { callerKeys: it.caller_keys.map(String) }),
        }),
      );
    },

    async getCallLink(callId) {
      const out = await doc.send(new GetCommand({ TableName: tableName, Key: { pk: keys.call(callId), sk: keys.link }, ConsistentRead: true }));
      return typeof out.Item?.conversation_id === 'string' ? out.Item.conversation_id : null;
    },

    async getRecord(conversationId) {
      const out = await doc.send(
        new GetCommand({ TableName: tableName, Key: { pk: keys.conversation(conversationId), sk: keys.record }, ConsistentRead: true }),
      );
      if (!out.Item) return null;
      return { rev: Number(out.Item.rev), record: recordOfItem(out.Item), state: stateOfItem(out.Item) } as RecordSnapshot;
    },

    async putTranscript(conversationId, turns) {
      const pk = keys.conversation(conversationId);
      const chunks: TranscriptTurn[][] = [[]];
      let size = 0;
      for (const turn of turns) {
        const bytes = Buffer.byteLength(JSON.stringify(turn));
        if (size + bytes > TRANSCRIPT_CHUNK_BYTES && chunks[chunks.length - 1]!.length > 0) {
          chunks.push([]);
          size = 0;
        }
        chunks[chunks.length - 1]!.push(turn);
        size += bytes;
      }
      const expires_at = expiresAt(opts.retention.transcriptDays);
      for (const [i, chunk] of chunks.entries()) {
        await writeUnlessErased(pk, {
          Put: { TableName: tableName, Item: { pk, sk: keys.transcript(i), turns_gz: compressJson(chunk), chunk: i, chunks: chunks.length, expires_at } },
        });
      }
      // A shorter rewrite leaves no stale tail behind.
      const existing = await queryAll({
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :t)',
        ExpressionAttributeValues: { ':pk': pk, ':t': keys.transcriptPrefix },
        ProjectionExpression: 'pk, sk, chunk',
        ConsistentRead: true,
      });
      for (const it of existing) {
        if (Number(it.chunk) >= chunks.length) await doc.send(new DeleteCommand({ TableName: tableName, Key: { pk, sk: it.sk } }));
      }
    },

    async commit(change: RecordChange) {
      const pk = keys.conversation(change.conversationId);
      const rev = (change.expectedRev ?? 0) + 1;
      const agent = change.record.agent_id ?? 'unknown';
      const sortKey = `${change.sortTime}#${change.conversationId}`;
      const recordPut: TransactItem = {
        Put: {
          TableName: tableName,
          Item: {
            pk,
            sk: keys.record,
            rev,
            ...recordAttributes(change.record, change.state),
            // Beside the record for the indexes to carry (listings filter on it). Nothing else
            // beside it: every byte past a KB is another write unit, twice in the transaction.
            status: change.record.status,
            gsi1pk: keys.agentConversations(agent, shardOf(change.conversationId)),
            gsi1sk: sortKey,
            gsi2pk: keys.allConversations(shardOf(change.conversationId)),
            gsi2sk: sortKey,
            expires_at: expiresAt(opts.retention.recordDays),
            ...outboxAttribute(change.outbox),
          },
          ...(change.expectedRev === null
            ? { ConditionExpression: 'attribute_not_exists(pk)' }
            : { ConditionExpression: 'rev = :rev', ExpressionAttributeValues: { ':rev': change.expectedRev } }),
        },
      };
      const items: TransactItem[] = [
        recordPut,
        ...change.aggregateDeltas.map((d) => aggregateUpdate(tableName, d, change.conversationId)),
      ];
      // Exact without a condition of its own: the record's `rev` condition orders every change.
      const queue = change.enrichmentQueue;
      if (queue?.op === 'add') {
        items.push({
          Put: {
            TableName: tableName,
            Item: {
              pk,
              sk: keys.enrichment,
              conversation_id: change.conversationId,
              ended_at: queue.endedAt,
              attempts: 0,
              not_before: 0,
              gsi2pk: keys.enrichmentQueue,
              gsi2sk: `${queue.endedAt}#${change.conversationId}`,
            },
          },
        });
      } else if (queue?.op === 'remove') {
        items.push({ Delete: { TableName: tableName, Key: { pk, sk: keys.enrichment } } });
      }
      const audio = change.audioQueue;
      if (audio?.op === 'add') items.push(queuePut(pk, keys.audio, keys.audioQueue, change.conversationId, audio.endedAt));
      else if (audio?.op === 'remove') items.push({ Delete: { TableName: tableName, Key: { pk, sk: keys.audio } } });
      // A record's first commit checks the tombstone. Later ones need not: an erasure deletes the
      // record in the transaction that puts the tombstone, so their `rev` condition fails, and the
      // retry (no record now) is a first commit, which the tombstone refuses. Saves a read per commit.
      const creates = change.expectedRev === null;
      if (creates) items.push(notErased(tableName, pk));
      try {
        if (items.length === 1) {
          // The record alone: one conditional put (a transaction bills the item twice, issue 10).
          await doc.send(new PutCommand(recordPut.Put as ConstructorParameters<typeof PutCommand>[0]));
        } else {
          await doc.send(new TransactWriteCommand({ TransactItems: items }));
        }
      } catch (err) {
        if (creates && isConditionFailure(err, items.length - 1)) throw new ConversationErasedError(pk);
        if (err instanceof ConditionalCheckFailedException || isConditionFailure(err, 0) || isTransactionConflict(err)) {
          throw new ConcurrentUpdateError(change.conversationId);
        }
        throw err;
      }
    },

    async dueEnrichments(nowMs, limit) {
      // A few more than asked: an enricher holds one conversation at a time, so a few runs at once
      // hold no more than this, and the held ones at the head do not hide the due ones behind them.
      const due = await queueItems({ want: limit + HELD_AT_ONCE, filter: 'not_before <= :now', values: { ':now': nowMs } });
      // Whole items: the index carries neither the details fetched while a transcript waited nor the lease.
      return (await getItems(due)).filter((it) => !isHeld(it, nowMs)).slice(0, limit).map(toPendingEnrichment);
    },

    leaseEnrichment: (conversationId, nowMs, leaseMs) => leaseItem(conversationId, keys.enrichment, nowMs, leaseMs),

    async deferEnrichment(conversationId, change) {
      const names: Record<string, string> = {};
      const values: Record<string, unknown> = { ':nb': change.notBeforeMs };
      const sets = ['not_before = :nb'];
      if (change.attempts !== undefined) {
        sets.push('attempts = :a');
        values[':a'] = change.attempts;
      }
      if (change.details !== undefined) {
        sets.push('#d = :d');
        names['#d'] = 'details_json';
        values[':d'] = change.details === null ? null : JSON.stringify(change.details);
      }
      try {
        await doc.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { pk: keys.conversation(conversationId), sk: keys.enrichment },
            UpdateExpression: `SET ${sets.join(', ')} REMOVE ${LEASE}, lease_until`,
            ConditionExpression: 'attribute_exists(pk)',
            ...(Object.keys(names).length ? { ExpressionAttributeNames: names } : {}),
            ExpressionAttributeValues: values,
          }),
        );
      } catch (err) {
        if (!(err instanceof ConditionalCheckFailedException)) throw err; // it left the queue meanwhile
      }
    },

    async overdueEnrichments(endedBefore, limit) {
      return (await queueItems({ want: limit, before: endedBefore, filter: 'attribute_not_exists(gave_up)' })).map(toPendingEnrichment);
    },

    async markEnrichmentGaveUp(conversationId) {
      try {
        await doc.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { pk: keys.conversation(conversationId), sk: keys.enrichment },
            UpdateExpression: 'SET gave_up = :t',
            ConditionExpression: 'attribute_exists(pk)',
            ExpressionAttributeValues: { ':t': true },
          }),
        );
      } catch (err) {
        if (!(err instanceof ConditionalCheckFailedException)) throw err;
      }
    },

    async enrichmentBacklog() {
      let pending = 0;
      let start: Record<string, unknown> | undefined;
      do {
        const out = await doc.send(
          new QueryCommand({
            TableName: tableName,
            IndexName: TABLE.byTimeIndex.name,
            KeyConditionExpression: 'gsi2pk = :q',
            ExpressionAttributeValues: { ':q': keys.enrichmentQueue },
            Select: 'COUNT',
            ExclusiveStartKey: start,
          }),
        );
        pending += out.Count ?? 0;
        start = out.LastEvaluatedKey;
      } while (start);
      if (pending === 0) return { pending, oldestEndedAt: null };
      // The oldest still waiting: conversations already completed from webhook facts (`gave_up`) stay
      // queued for late details, but are no back-pressure (else the age alarm would never recover).
      const [oldest] = await queueItems({ want: 1, filter: 'attribute_not_exists(gave_up)' });
      return { pending, oldestEndedAt: typeof oldest?.ended_at === 'string' ? oldest.ended_at : null };
    },

    async dueAudio(nowMs, limit) {
      const items = await queueItems({
        queue: keys.audioQueue,
        want: limit,
        // Held ones too (the index does not carry leases): taking the lease then fails, as it should.
        filter: 'not_before <= :now',
        values: { ':now': nowMs },
      });
      return items.map((it) => ({
        conversationId: String(it.conversation_id),
        endedAt: String(it.ended_at),
        attempts: Number(it.attempts ?? 0),
        notBeforeMs: Number(it.not_before ?? 0),
        ...(String(it.pk).startsWith(keys.erased('')) && { erased: true }),
      }));
    },

    async audioCleanedUp(conversationId) {
      await doc.send(new DeleteCommand({ TableName: tableName, Key: { pk: keys.erased(keys.conversation(conversationId)), sk: keys.audio } }));
    },

    leaseAudio: (conversationId, nowMs, leaseMs) => leaseItem(conversationId, keys.audio, nowMs, leaseMs),

    async deferAudio(conversationId, change) {
      try {
        await doc.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { pk: keys.conversation(conversationId), sk: keys.audio },
            UpdateExpression: `SET not_before = :nb${change.attempts === undefined ? '' : ', attempts = :a'} REMOVE ${LEASE}, lease_until`,
            ConditionExpression: 'attribute_exists(pk)',
            ExpressionAttributeValues: { ':nb': change.notBeforeMs, ...(change.attempts !== undefined && { ':a': change.attempts }) },
          }),
        );
      } catch (err) {
        if (!(err instanceof ConditionalCheckFailedException)) throw err; // it left the queue meanwhile
      }
    },
  };
}

const toPendingEnrichment = (it: Item): PendingEnrichment => ({
  conversationId: String(it.conversation_id),
  endedAt: String(it.ended_at),
  attempts: Number(it.attempts ?? 0),
  notBeforeMs: Number(it.not_before ?? 0),
  details: typeof it.details_json === 'string' ? (JSON.parse(it.details_json) as Record<string, unknown>) : null,
});

