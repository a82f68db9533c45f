/**
 * ErasureStore on DynamoDB (README "Erasure", docs/data-model.md). Step 1 is one transaction,
 * conditioned like a record's commit (exactly-once aggregate correction); step 2 (`purge`) deletes
 * the rest in an order that a crashed run resumes: calls (tombstoned first), then caller lookup items
 * and stored bodies, then everything under the conversation, its event facts last (they are how a
 * re-run finds the calls, bodies and lookup items).
 */
import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { AUDIO_CLEANUP_DELAY_MS } from '#core/audio.js';
import type { BusEvent } from '#core/bus-events.js';
import { parseJson } from '#core/json-text.js';
import { ConcurrentUpdateError, type ErasureStore, type RecordSnapshot } from '#functions/ports.js';
import { aggregateUpdate, isConditionFailure, isTransactionConflict, outboxAttribute, type TransactItem } from './dynamodb-conversation-store.js';
import { recordOfItem, stateOfItem } from './record-item.js';
import { keys } from './table-schema.js';

type Item = Record<string, unknown>;

export interface ErasureStoreOptions {
  /** Days a tombstone is kept (0: forever): at least as long as a webhook of the conversation can still arrive. */
  tombstoneDays: number;
  now?: () => number;
}

export function createDynamoDbErasureStore(doc: DynamoDBDocumentClient, tableName: string, opts: ErasureStoreOptions): ErasureStore {
  const now = opts.now ?? Date.now;
  const tombstoneExpiry = () => (opts.tombstoneDays > 0 ? Math.floor(now() / 1000) + opts.tombstoneDays * 86_400 : undefined);

  async function queryAll(pk: string, prefix?: string): Promise<Item[]> {
    const items: Item[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await doc.send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: prefix ? 'pk = :pk AND begins_with(sk, :p)' : 'pk = :pk',
          ExpressionAttributeValues: prefix ? { ':pk': pk, ':p': prefix } : { ':pk': pk },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      items.push(...((page.Items ?? []) as Item[]));
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  }

  const del = (pk: string, sk: string) => doc.send(new DeleteCommand({ TableName: tableName, Key: { pk, sk } }));

  async function inChunks<T>(xs: readonly T[], fn: (x: T) => Promise<unknown>): Promise<void> {
    for (let i = 0; i < xs.length; i += 10) await Promise.all(xs.slice(i, i + 10).map(fn));
  }

  const putTombstone = (scopePk: string, erasedAt: string) =>
    doc.send(new PutCommand({ TableName: tableName, Item: { pk: keys.erased(scopePk), sk: keys.tombstone, erased_at: erasedAt, expires_at: tombstoneExpiry() } }));

  /**
   * Deletes a partition's items: for each event, first its caller lookup items and its stored body;
   * then every other item; the event facts last.
   */
  async function purgePartition(pk: string): Promise<Item[]> {
    const items = await queryAll(pk);
    const events = items.filter((it) => String(it.sk).startsWith(keys.eventPrefix));
    await inChunks(events, async (ev) => {
      const callerKeys = Array.isArray(ev.caller_keys) ? (ev.caller_keys as unknown[]).map(String) : [];
      for (const h of callerKeys) await del(keys.caller(h), pk);
      await del(keys.webhook(String(ev.sk).slice(keys.eventPrefix.length)), keys.webhookBody);
    });
    await inChunks(
      items.filter((it) => !String(it.sk).startsWith(keys.eventPrefix)),
      (it) => del(pk, String(it.sk)),
    );
    await inChunks(events, (ev) => del(pk, String(ev.sk)));
    return events;
  }

  /** Call ids the conversation's events name (the processor links calls the same way). */
  function callIdsOf(events: readonly Item[]): string[] {
    const ids = new Set<string>();
    for (const ev of events) {
      const facts = parseJson(String(ev.facts_json)) as { data?: Record<string, unknown> };
      const c = facts.data?.call_id;
      if (typeof c === 'string' && c !== '') ids.add(c);
      else if (typeof c === 'number' || (typeof c === 'object' && c !== null)) ids.add(String(c));
    }
    return [...ids];
  }

  return {
    async getRecord(conversationId) {
      const out = await doc.send(new GetCommand({ TableName: tableName, Key: { pk: keys.conversation(conversationId), sk: keys.record }, ConsistentRead: true }));
      if (!out.Item) return null;
      return { rev: Number(out.Item.rev), record: recordOfItem(out.Item), state: stateOfItem(out.Item) } as RecordSnapshot;
    },

    async getTombstone(conversationId) {
      const out = await doc.send(
        new GetCommand({ TableName: tableName, Key: { pk: keys.erased(keys.conversation(conversationId)), sk: keys.tombstone }, ConsistentRead: true }),
      );
      return typeof out.Item?.erased_at === 'string' ? { erasedAt: out.Item.erased_at } : null;
    },

    async hasData(conversationId) {
      const out = await doc.send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': keys.conversation(conversationId) },
          ConsistentRead: true,
          Limit: 1,
          ProjectionExpression: 'pk',
        }),
      );
      return (out.Items ?? []).length > 0;
    },

    async commitErasure(change) {
      const pk = keys.conversation(change.conversationId);
      const tombstonePk = keys.erased(pk);
      const items: TransactItem[] = [
        change.expectedRev === null
          ? { ConditionCheck: { TableName: tableName, Key: { pk, sk: keys.record }, ConditionExpression: 'attribute_not_exists(pk)' } }
          : {
              Delete: {
                TableName: tableName,
                Key: { pk, sk: keys.record },
                ConditionExpression: 'rev = :rev',
                ExpressionAttributeValues: { ':rev': change.expectedRev },
              },
            },
        {
          Put: {
            TableName: tableName,
            // Carries `Conversation Erased`: the change stream publishes it once the tombstone is in (D30).
            Item: { pk: tombstonePk, sk: keys.tombstone, erased_at: change.erasedAt, expires_at: tombstoneExpiry(), ...outboxAttribute(change.outbox) },
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        },
        { Delete: { TableName: tableName, Key: { pk, sk: keys.enrichment } } },
        ...change.aggregateDeltas.map((d) => aggregateUpdate(tableName, d, change.conversationId)),
        // On the audio queue, beside the tombstone: the recording is deleted once more when no upload
        // can still be under way (README "Audio", D27).
        {
          Put: {
            TableName: tableName,
            Item: {
              pk: tombstonePk,
              sk: keys.audio,
              conversation_id: change.conversationId,
              ended_at: change.erasedAt,
              attempts: 0,
              not_before: Date.parse(change.erasedAt) + AUDIO_CLEANUP_DELAY_MS,
              gsi2pk: keys.audioQueue,
              gsi2sk: `${change.erasedAt}#${change.conversationId}`,
              expires_at: tombstoneExpiry(),
            },
          },
        },
      ];
      try {
        await doc.send(new TransactWriteCommand({ TransactItems: items }));
      } catch (err) {
        if (isConditionFailure(err, 0) || isConditionFailure(err, 1) || isTransactionConflict(err)) throw new ConcurrentUpdateError(change.conversationId);
        throw err;
      }
    },

    async purge(conversationId, erasedAt) {
      const pk = keys.conversation(conversationId);
      const callIds = callIdsOf(await queryAll(pk, keys.eventPrefix));
      for (const callId of callIds) {
        await putTombstone(keys.call(callId), erasedAt);
        await purgePartition(keys.call(callId));
      }
      await purgePartition(pk);
    },

    async purgeCall(callId, erasedAt) {
      await putTombstone(keys.call(callId), erasedAt);
      await purgePartition(keys.call(callId));
    },

    async scopesOfCaller(callerKey) {
      const items = await queryAll(keys.caller(callerKey));
      const conversationIds: string[] = [];
      const callIds: string[] = [];
      const conv = keys.conversation('');
      const call = keys.call('');
      for (const it of items) {
        const sk = String(it.sk);
        if (sk.startsWith(conv)) conversationIds.push(sk.slice(conv.length));
        else if (sk.startsWith(call)) callIds.push(sk.slice(call.length));
      }
      return { conversationIds, callIds };
    },

    async getCallLink(callId) {
      const out = await doc.send(new GetCommand({ TableName: tableName, Key: { pk: keys.call(callId), sk: keys.link }, ConsistentRead: true }));
      return typeof out.Item?.conversation_id === 'string' ? out.Item.conversation_id : null;
    },
  };
}
