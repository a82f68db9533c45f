/**
 * ConversationStore on DynamoDB (layout: docs/data-model.md). Every write is idempotent or
 * conditional; the record, its aggregate deltas and its outbox entries go in one transaction.
 *
 * Whatever comes from a webhook's arbitrary JSON (its facts, the body itself, the events that carry
 * its `data`, transcripts) is stored as JSON text, never as a DynamoDB map: a map would limit the
 * payload's depth (32 levels), refuse numbers a double cannot hold, and rewrite them. Only values
 * this service computed (records, aggregates, bookkeeping) are attributes.
 */
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  TransactWriteCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import type { AggregateDelta } from '#core/aggregates.js';
import type { BusEvent } from '#core/bus-events.js';
import { eventFacts } from '#core/event-facts.js';
import { parseJson, stringifyJson } from '#core/json-text.js';
import type { TranscriptTurn } from '#core/types.js';
import {
  ConcurrentUpdateError,
  type ConversationStore,
  type EventScope,
  type OutboxEntry,
  type RecordChange,
  type RecordSnapshot,
  type StoredEvent,
} from '#functions/ports.js';
import { keys, TABLE } from './table-schema.js';

type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];
type Item = Record<string, unknown>;

export interface StoreOptions {
  /** Days to keep each data class; 0 keeps it forever. */
  retention: { rawEventDays: number; transcriptDays: number; recordDays: number };
  now?: () => number;
}

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

function isConditionFailure(err: unknown, index = 0): boolean {
  if (!(err instanceof TransactionCanceledException)) return false;
  return err.CancellationReasons?.[index]?.Code === 'ConditionalCheckFailed';
}

function isTransactionConflict(err: unknown): boolean {
  if (err instanceof TransactionCanceledException) {
    return (err.CancellationReasons ?? []).some((r) => r.Code === 'TransactionConflict');
  }
  return (err as { name?: string } | undefined)?.name === 'TransactionConflictException';
}

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

  const outboxPut = (pk: string, event: BusEvent, createdAt: string): TransactItem => ({
    Put: {
      TableName: tableName,
      Item: {
        pk,
        sk: keys.outbox(event.detail.event_id),
        event_json: stringifyJson(event),
        created_at: createdAt,
        gsi2pk: keys.pendingOutbox,
        gsi2sk: `${createdAt}#${event.detail.event_id}`,
      },
    },
  });

  function aggregateUpdate(delta: AggregateDelta): TransactItem {
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
        Key: { pk: keys.agent(delta.agentId), sk: keys.day(delta.date) },
        UpdateExpression: `SET #agent = :agent, #date = :date${adds.length ? ` ADD ${adds.join(', ')}` : ''}`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      },
    };
  }

  return {
    async insertEvent(scope, event, outbox) {
      const pk = scopePk(scope, event.key);
      const createdAt = new Date(now()).toISOString();
      const items: TransactItem[] = [
        {
          // What records are rebuilt from: kept as long as records (platform events feed none).
          Put: {
            TableName: tableName,
            Item: {
              pk,
              sk: keys.event(event.key),
              facts_json: stringifyJson({ event: event.envelope.event, timestamp: event.envelope.timestamp, data: eventFacts(event.envelope.data) }),
              timestamp_ms: event.timestampMs,
              received_at: event.receivedAt,
              expires_at: expiresAt(scope.kind === 'platform' ? opts.retention.rawEventDays : opts.retention.recordDays),
            },
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        },
        {
          // The body exactly as signed (personal data): kept RAW_EVENT_RETENTION_DAYS, served by
          // `GET /webhooks/{event_key}` (e.g. when a `ThreeTone Event` carries its data in part).
          Put: {
            TableName: tableName,
            Item: { pk: keys.webhook(event.key), sk: keys.webhookBody, body: event.rawText, expires_at: expiresAt(opts.retention.rawEventDays) },
          },
        },
        ...outbox.map((e) => outboxPut(pk, e, createdAt)),
      ];
      try {
        await doc.send(new TransactWriteCommand({ TransactItems: items }));
        return true;
      } catch (err) {
        if (isConditionFailure(err, 0)) return false;
        throw err;
      }
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
        }),
      );
    },

    async linkCall(callId, conversationId) {
      await doc.send(new PutCommand({ TableName: tableName, Item: { pk: keys.call(callId), sk: keys.link, conversation_id: conversationId } }));
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
      return { rev: Number(out.Item.rev), record: out.Item.record, state: out.Item.state } as RecordSnapshot;
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
        await doc.send(
          new PutCommand({ TableName: tableName, Item: { pk, sk: keys.transcript(i), turns_json: JSON.stringify(chunk), chunk: i, chunks: chunks.length, expires_at } }),
        );
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
      const createdAt = new Date(now()).toISOString();
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
            record: change.record,
            state: change.state,
            sort_time: change.sortTime,
            gsi1pk: keys.agent(agent),
            gsi1sk: sortKey,
            gsi2pk: keys.allConversations,
            gsi2sk: sortKey,
            updated_at: createdAt,
            expires_at: expiresAt(opts.retention.recordDays),
          },
          ...(change.expectedRev === null
            ? { ConditionExpression: 'attribute_not_exists(pk)' }
            : { ConditionExpression: 'rev = :rev', ExpressionAttributeValues: { ':rev': change.expectedRev } }),
        },
      };
      const items: TransactItem[] = [
        recordPut,
        ...change.aggregateDeltas.map(aggregateUpdate),
        ...change.outbox.map((e) => outboxPut(pk, e, createdAt)),
      ];
      try {
        await doc.send(new TransactWriteCommand({ TransactItems: items }));
      } catch (err) {
        if (isConditionFailure(err, 0) || isTransactionConflict(err)) throw new ConcurrentUpdateError(change.conversationId);
        throw err;
      }
    },

    async pendingOutbox(scope, eventKey) {
      const pk = scopePk(scope, eventKey);
      const items = await queryAll({
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :o)',
        ExpressionAttributeValues: { ':pk': pk, ':o': keys.outboxPrefix },
        ConsistentRead: true,
      });
      return items.map(toOutboxEntry);
    },

    async sweepOutbox(olderThanMs, limit) {
      const out = await doc.send(
        new QueryCommand({
          TableName: tableName,
          IndexName: TABLE.byTimeIndex.name,
          KeyConditionExpression: 'gsi2pk = :o AND gsi2sk < :t',
          ExpressionAttributeValues: { ':o': keys.pendingOutbox, ':t': new Date(olderThanMs).toISOString() },
          Limit: limit,
        }),
      );
      return (out.Items ?? []).map(toOutboxEntry);
    },

    async deleteOutbox(entries) {
      await Promise.all(entries.map((e) => doc.send(new DeleteCommand({ TableName: tableName, Key: { pk: e.ref.pk, sk: e.ref.sk } }))));
    },
  };
}

const toOutboxEntry = (it: Item): OutboxEntry => ({ ref: { pk: String(it.pk), sk: String(it.sk) }, event: parseJson(String(it.event_json)) as BusEvent });
