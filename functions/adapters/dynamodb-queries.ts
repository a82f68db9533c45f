/**
 * DynamoDB adapter of the query side (`ConversationQueries`): reads the items laid out in
 * docs/data-model.md and never writes. Items past their TTL are treated as absent, because DynamoDB
 * deletes them only eventually (and DynamoDB Local never does).
 */
import { Buffer } from 'node:buffer';
import { GetCommand, QueryCommand, ScanCommand, type DynamoDBDocumentClient, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { COUNTERS, emptyCounters, type AgentDay } from '#core/aggregates.js';
import type { ConversationRecord, TranscriptTurn } from '#core/types.js';
import { type ConversationPage, type ConversationQueries, InvalidCursorError, type StoredWebhook, type StoredWebhooks, type WebhookSelection } from '#functions/ports.js';
import { parseJson } from '#core/json-text.js';
import { asId } from '#core/envelope.js';
import { batchGetItems } from './dynamodb-batch-get.js';
import { decompressJson } from './compressed-json.js';
import { ALL_SHARDS, TABLE, keys } from './table-schema.js';
import { RECORD_PROJECTION, recordOfItem } from './record-item.js';
import { orderedRecord } from '#core/record.js';

export interface DynamoDbQueriesOptions {
  /** Clock for TTL checks. @default () => new Date() */
  readonly now?: () => Date;
}

type Item = Record<string, unknown>;
type Index = (typeof TABLE)['byAgentIndex'] | (typeof TABLE)['byTimeIndex'];

/** DynamoDB's TTL ignores values more than five years in the past: such items are never deleted. */
const TTL_HORIZON_SECONDS = 5 * 365 * 86_400;
/** Bounds the work of one listing page when many items in a row have expired or are filtered out. */
const MAX_QUERIES_PER_PAGE = 5;
/**
 * Items one query reads when a status filter applies: DynamoDB counts items before the filter, so
 * reading `limit + 1` would make pages of active conversations (few among many ended) mostly empty.
 */
const FILTERED_QUERY_ITEMS = 500;
const MAX_CURSOR_LENGTH = 4096;
const TOPIC_PREFIX = 'topic:';

/** Same rule as DynamoDB's TTL process: a number of epoch seconds not after now, within five years. */
function isLive(item: Item, nowSeconds: number): boolean {
  const exp = item[TABLE.ttlAttribute];
  if (typeof exp !== 'number' || !Number.isFinite(exp)) return true;
  return exp > nowSeconds || exp < nowSeconds - TTL_HORIZON_SECONDS;
}

const invalidCursor = () => new InvalidCursorError();

export function createDynamoDbQueries(
  doc: DynamoDBDocumentClient,
  tableName: string,
  options: DynamoDbQueriesOptions = {},
): ConversationQueries {
  const now = options.now ?? (() => new Date());

  const nowSeconds = () => Math.floor(now().getTime() / 1000);

  /** The live records of `keyed` (index entries), in that order, each with its entry. */
  async function getRecords(keyed: readonly Item[]): Promise<{ entry: Item; record: ConversationRecord }[]> {
    const items = await batchGetItems(
      doc,
      tableName,
      keyed.map((it) => ({ [TABLE.partitionKey]: it[TABLE.partitionKey], [TABLE.sortKey]: it[TABLE.sortKey] })),
      { projection: { expression: '#pk, #rgz, #rmap, #ttl', names: { '#pk': TABLE.partitionKey, ...RECORD_PROJECTION, '#ttl': TABLE.ttlAttribute } } },
    );
    const found = new Map(items.map((it) => [String(it[TABLE.partitionKey]), it]));
    const t = nowSeconds();
    return keyed.flatMap((entry) => {
      const it = found.get(String(entry[TABLE.partitionKey]));
      const record = it !== undefined && isLive(it, t) ? recordOfItem(it) : null;
      return record ? [{ entry, record: orderedRecord(record) }] : [];
    });
  }

  async function queryAll(input: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey'>): Promise<Item[]> {
    const items: Item[] = [];
    let startKey: Item | undefined;
    do {
      const out = await doc.send(new QueryCommand({ ...input, TableName: tableName, ExclusiveStartKey: startKey }));
      items.push(...((out.Items ?? []) as Item[]));
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    return items;
  }

  return {
    async getRecord(conversationId) {
      // Strongly consistent: a consumer reacting to `Conversation Completed` must find the record.
      const { Item: item } = await doc.send(
        new GetCommand({
          TableName: tableName,
          Key: { [TABLE.partitionKey]: keys.conversation(conversationId), [TABLE.sortKey]: keys.record },
          ProjectionExpression: '#rgz, #rmap, #ttl',
          ExpressionAttributeNames: { ...RECORD_PROJECTION, '#ttl': TABLE.ttlAttribute },
          ConsistentRead: true,
        }),
      );
      const record = item && isLive(item, nowSeconds()) ? recordOfItem(item) : null;
      return record ? orderedRecord(record) : null;
    },

    async getTranscript(conversationId) {
      const items = await queryAll({
        KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
        ExpressionAttributeNames: { '#pk': TABLE.partitionKey, '#sk': TABLE.sortKey },
        ExpressionAttributeValues: { ':pk': keys.conversation(conversationId), ':prefix': keys.transcriptPrefix },
        ConsistentRead: true,
      });
      const t = nowSeconds();
      const chunks = items
        .filter((item) => isLive(item, t))
        .map((item) => ({ index: chunkIndex(item), item }))
        .sort((a, b) => a.index - b.index);
      if (chunks.length === 0) return null;
      // Chunk 0 says how many chunks the current transcript has; any beyond are left over from an
      // older, longer version and are not part of it.
      const declared = chunks[0]!.index === 0 ? chunks[0]!.item.chunks : undefined;
      const count = typeof declared === 'number' ? declared : Number.POSITIVE_INFINITY;
      return chunks.filter((c) => c.index < count).flatMap((c) => decompressJson(c.item.turns_gz as Uint8Array) as TranscriptTurn[]);
    },

    async getWebhook(eventKey) {
      const out = await doc.send(
        new GetCommand({ TableName: tableName, Key: { [TABLE.partitionKey]: keys.webhook(eventKey), [TABLE.sortKey]: keys.webhookBody } }),
      );
      return out.Item && isLive(out.Item, nowSeconds()) && typeof out.Item.body === 'string' ? out.Item.body : null;
    },

    async listConversations({ agentId, status, from, to, limit, cursor }): Promise<ConversationPage> {
      if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
      const index: Index = agentId === undefined ? TABLE.byTimeIndex : TABLE.byAgentIndex;
      const partitions = ALL_SHARDS.map((shard) => (agentId === undefined ? keys.allConversations(shard) : keys.agentConversations(agentId, shard)));
      // Sort keys are `<ISO time>#<id>` (unique across shards): `from` itself sorts before every id
      // at that instant, and `$` (the character after `#`) after every one, so both bounds are
      // inclusive of the instant.
      const lower = from;
      const upper = to === undefined ? undefined : `${to}$`;
      const listing = agentId ?? null;
      const after = cursor === undefined ? undefined : decodeCursor(cursor, listing, lower, upper);
      // Newest first below the cursor: `<= sk` when the cursor's own item was not returned yet.
      const top = after === undefined ? upper : upper === undefined || after.sk < upper ? after.sk : upper;
      const condition = ['#ipk = :ipk'];
      const values: Item = {};
      if (lower !== undefined && top !== undefined) {
        condition.push('#isk BETWEEN :lo AND :hi');
        Object.assign(values, { ':lo': lower, ':hi': top });
      } else if (lower !== undefined) {
        condition.push('#isk >= :lo');
        values[':lo'] = lower;
      } else if (top !== undefined) {
        condition.push('#isk <= :hi');
        values[':hi'] = top;
      }
      const excluded = after !== undefined && !after.inclusive ? after.sk : undefined;

      /** One shard: up to `limit + 1` kept items, newest first, and how far down it was read (null: to its end). */
      async function readShard(partition: string): Promise<{ kept: Item[]; boundary: string | null }> {
        const kept: Item[] = [];
        let startKey: Item | undefined;
        for (let queries = 0; queries < MAX_QUERIES_PER_PAGE; queries++) {
          const out = await doc.send(
            new QueryCommand({
              TableName: tableName,
              IndexName: index.name,
              KeyConditionExpression: condition.join(' AND '),
              ExpressionAttributeNames: {
                '#ipk': index.partitionKey,
                ...(condition.length > 1 && { '#isk': index.sortKey }),
                ...(status !== undefined && { '#status': 'status' }),
              },
              ExpressionAttributeValues: { ...values, ':ipk': partition, ...(status !== undefined && { ':status': status }) },
              // The index carries the status beside the keys; the records are read by key below.
              ...(status !== undefined && { FilterExpression: '#status = :status' }),
              ScanIndexForward: false,
              Limit: status === undefined ? limit - kept.length + 2 : Math.max(limit - kept.length + 2, FILTERED_QUERY_ITEMS),
              ExclusiveStartKey: startKey,
            }),
          );
          for (const item of (out.Items ?? []) as Item[]) {
            if (String(item[index.sortKey]) !== excluded) kept.push(item);
          }
          startKey = out.LastEvaluatedKey;
          if (kept.length > limit || !startKey) break;
        }
        return { kept, boundary: startKey ? String(startKey[index.sortKey]) : null };
      }

      // Every shard was read down to its boundary: below the highest boundary some shard is unread,
      // so only items above it can be returned now; the next page resumes there (inclusive).
      const shards = await Promise.all(partitions.map(readShard));
      const boundary = shards.reduce<string | null>((b, s) => (s.boundary !== null && (b === null || s.boundary > b) ? s.boundary : b), null);
      const merged = shards
        .flatMap((s) => s.kept)
        .filter((it) => boundary === null || String(it[index.sortKey]) > boundary)
        .sort((a, b) => (String(a[index.sortKey]) > String(b[index.sortKey]) ? -1 : 1));
      // The records, in index order, until one more than a page is found (erased or expired ones are
      // skipped): then the page ends at the `limit`-th and says more follow.
      const live: { entry: Item; record: ConversationRecord }[] = [];
      for (let i = 0; i < merged.length && live.length <= limit; ) {
        const chunk = merged.slice(i, i + limit + 1 - live.length);
        i += chunk.length;
        live.push(...(await getRecords(chunk)));
      }
      if (live.length > limit) {
        const page = live.slice(0, limit);
        return { items: page.map((l) => l.record), nextCursor: encodeCursor({ sk: String(page[limit - 1]!.entry[index.sortKey]), inclusive: false, listing }) };
      }
      return { items: live.map((l) => l.record), nextCursor: boundary === null ? null : encodeCursor({ sk: boundary, inclusive: true, listing }) };
    },

    async getAgentDays(agentId, from, to) {
      const items = await queryAll({
        KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :from AND :to',
        ExpressionAttributeNames: { '#pk': TABLE.partitionKey, '#sk': TABLE.sortKey },
        // Each day is SHARDS items (`DAY#<date>#<shard>`), summed here; `$` sorts after `#<shard>`.
        ExpressionAttributeValues: { ':pk': keys.agent(agentId), ':from': keys.day(from), ':to': `${keys.day(to)}$` },
        ConsistentRead: true,
      });
      return sumDays(items.map(toAgentDay));
    },
  };
}

const isMap = (v: unknown): v is Item => typeof v === 'object' && v !== null && !Array.isArray(v);


function chunkIndex(item: Item): number {
  if (typeof item.chunk === 'number') return item.chunk;
  const n = Number(String(item[TABLE.sortKey]).slice(keys.transcriptPrefix.length));
  return Number.isFinite(n) ? n : Number.MAX_SAFE_INTEGER;
}

function toAgentDay(item: Item): AgentDay {
  const counters = emptyCounters();
  for (const k of COUNTERS) {
    const v = item[k];
    counters[k] = typeof v === 'number' && Number.isFinite(v) ? v : 0;
  }
  const topics: Record<string, number> = {};
  for (const [name, v] of Object.entries(item)) {
    if (name.startsWith(TOPIC_PREFIX) && typeof v === 'number' && Number.isFinite(v)) topics[name.slice(TOPIC_PREFIX.length)] = v;
  }
  return { date: String(item[TABLE.sortKey]).slice(keys.day('').length).split('#')[0]!, counters, topics };
}

/** One AgentDay per date: the shards of a day added up, in date order. */
function sumDays(shards: AgentDay[]): AgentDay[] {
  const byDate = new Map<string, AgentDay>();
  for (const d of shards) {
    const acc = byDate.get(d.date);
    if (!acc) {
      byDate.set(d.date, { date: d.date, counters: { ...d.counters }, topics: { ...d.topics } });
      continue;
    }
    for (const k of COUNTERS) acc.counters[k] += d.counters[k];
    for (const [topic, n] of Object.entries(d.topics)) acc.topics[topic] = (acc.topics[topic] ?? 0) + n;
  }
  return [...byDate.values()].sort((a, b) => (a.date < b.date ? -1 : 1));
}

/** Where a listing resumes: below `sk` (or at it, when `inclusive`). Opaque to clients: base64url JSON. */
interface Cursor {
  sk: string;
  inclusive: boolean;
  /** The listing it belongs to: the agent id, or null for all conversations. */
  listing: string | null;
}

function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify({ k: c.sk, i: c.inclusive ? 1 : 0, a: c.listing }), 'utf8').toString('base64url');
}

/** Accepts only a cursor this listing could have produced: its own, with a sort key inside the requested range. */
function decodeCursor(cursor: string, listing: string | null, lower?: string, upper?: string): Cursor {
  if (cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalidCursor();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalidCursor();
  }
  if (!isMap(parsed) || Object.keys(parsed).length !== 3 || typeof parsed.k !== 'string' || (parsed.i !== 0 && parsed.i !== 1) || parsed.a !== listing) throw invalidCursor();
  const sk = parsed.k;
  if (sk.length === 0 || (lower !== undefined && sk < lower) || (upper !== undefined && sk > upper)) throw invalidCursor();
  return { sk, inclusive: parsed.i === 1, listing };
}


/**
 * The stored webhooks of a conversation or of a time range (`StoredWebhooks`), for replay. Reads
 * only: a conversation's events are one Query of its partition plus one per call it links (as the
 * processor folds them); a range is a Scan of the table filtered on `EVT#` items' `received_at`
 * (an operator's occasional action: it reads the whole table, paced by the SDK's retries). The
 * bodies come from their `WEBHOOK#` items, `null` once past RAW_EVENT_RETENTION_DAYS.
 */
export function createDynamoDbStoredWebhooks(doc: DynamoDBDocumentClient, tableName: string, options: DynamoDbQueriesOptions = {}): StoredWebhooks {
  const now = options.now ?? (() => new Date());
  const eventItems = { ':evt': keys.eventPrefix };

  async function* queryEvents(pk: string): AsyncGenerator<Item[]> {
    let startKey: Item | undefined;
    do {
      const out = await doc.send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :evt)',
          ExpressionAttributeNames: { '#pk': TABLE.partitionKey, '#sk': TABLE.sortKey },
          ExpressionAttributeValues: { ':pk': pk, ...eventItems },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      yield (out.Items ?? []) as Item[];
      startKey = out.LastEvaluatedKey;
    } while (startKey);
  }

  async function* scanRange(from: string, to: string): AsyncGenerator<Item[]> {
    let startKey: Item | undefined;
    do {
      const out = await doc.send(
        new ScanCommand({
          TableName: tableName,
          FilterExpression: 'begins_with(#sk, :evt) AND #at BETWEEN :from AND :to',
          ProjectionExpression: '#pk, #sk, #at',
          ExpressionAttributeNames: { '#pk': TABLE.partitionKey, '#sk': TABLE.sortKey, '#at': 'received_at' },
          ExpressionAttributeValues: { ...eventItems, ':from': from, ':to': to },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      yield (out.Items ?? []) as Item[];
      startKey = out.LastEvaluatedKey;
    } while (startKey);
  }

  /** The bodies of `eventKeys` (`WEBHOOK#<key>` items), those expired or missing absent from the map. */
  async function bodies(eventKeys: readonly string[]): Promise<Map<string, string>> {
    const nowS = Math.floor(now().getTime() / 1000);
    const items = await batchGetItems(
      doc,
      tableName,
      eventKeys.map((k) => ({ [TABLE.partitionKey]: keys.webhook(k), [TABLE.sortKey]: keys.webhookBody })),
      { consistentRead: true },
    );
    const found = new Map<string, string>();
    for (const it of items) {
      if (typeof it.body === 'string' && isLive(it, nowS)) found.set(String(it[TABLE.partitionKey]).slice(keys.webhook('').length), it.body);
    }
    return found;
  }

  async function withBodies(items: readonly Item[], seen: Set<string>): Promise<StoredWebhook[]> {
    const fresh = items
      .map((it) => ({ eventKey: String(it[TABLE.sortKey]).slice(keys.eventPrefix.length), receivedAt: String(it.received_at) }))
      .filter((w) => !seen.has(w.eventKey) && (seen.add(w.eventKey), true));
    if (fresh.length === 0) return [];
    const found = await bodies(fresh.map((w) => w.eventKey));
    return fresh.map((w) => ({ ...w, body: found.get(w.eventKey) ?? null }));
  }

  return {
    async *select(selection: WebhookSelection) {
      const seen = new Set<string>();
      if (selection.kind === 'range') {
        for await (const page of scanRange(selection.from, selection.to)) {
          const out = await withBodies(page, seen);
          if (out.length > 0) yield out;
        }
        return;
      }
      // The conversation's events, then those of each call they name (events of a call stored
      // before the call was linked live under `CALL#<call_id>`), as the processor's fold reads them.
      const callIds = new Set<string>();
      const pks = [keys.conversation(selection.conversationId)];
      for (let i = 0; i < pks.length; i++) {
        for await (const page of queryEvents(pks[i]!)) {
          for (const it of page) {
            const facts = parseJson(String(it.facts_json)) as { data?: Record<string, unknown> } | null;
            const callId = facts?.data ? asId(facts.data.call_id) : null;
            if (callId && !callIds.has(callId)) {
              callIds.add(callId);
              pks.push(keys.call(callId));
            }
          }
          const out = await withBodies(page, seen);
          if (out.length > 0) yield out;
        }
      }
    },
  };
}
