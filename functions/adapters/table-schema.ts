/**
 * The single DynamoDB table: key names, index names and item keys, shared by the adapters, the CDK
 * construct and the local engine so they cannot drift apart. See docs/data-model.md.
 */
import { Buffer } from 'node:buffer';

export const TABLE = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /** Epoch seconds; DynamoDB TTL deletes the item after it. */
  ttlAttribute: 'expires_at',
  /**
   * The change stream the outbox publisher reads (docs/decisions.md D30): a write that produces bus
   * events carries them in `outboxAttribute` (gzip JSON), and the stream publishes them. Both images:
   * a change is published only when its events are new (another revision, or other events).
   */
  stream: 'NEW_AND_OLD_IMAGES',
  outboxAttribute: 'outbox_gz',
  /** Conversations of one agent, newest first: gsi1pk = AGENT#<agent_id>#<shard>, gsi1sk = <sort time>#<id>. */
  byAgentIndex: { name: 'by-agent', partitionKey: 'gsi1pk', sortKey: 'gsi1sk', include: ['status'] },
  /**
   * All conversations by time (gsi2pk = CONVERSATIONS#<shard>), the enrichment queue (gsi2pk = ENRICH,
   * by end time) and the audio queue (gsi2pk = AUDIO, likewise).
   */
  byTimeIndex: {
    name: 'by-time',
    partitionKey: 'gsi2pk',
    sortKey: 'gsi2sk',
    // What the listing filters on, and what the enrichment queue is read and filtered by. Not leases
    // (`held_until`): taking one would rewrite the entry. `lease_until`, where leases were kept
    // before, is no longer written; it stays listed so that an upgrade need not rebuild the index.
    include: ['status', 'conversation_id', 'ended_at', 'attempts', 'not_before', 'lease_until', 'gave_up'],
  },
} as const;

/**
 * Write shards of the partitions many conversations share (docs/data-model.md "Key heat"): the
 * time index's conversation partition, an agent's conversations on `by-agent`, and an agent's day
 * aggregate (one item per shard, summed on read). A conversation's shard comes from its id, so a
 * record and its corrections always meet the same item. Readers query every shard and merge.
 */
export const SHARDS = 8;

/** FNV-1a (32 bits) of the UTF-8 bytes, modulo SHARDS: cheap, stable, evenly spread. */
export function shardOf(id: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(id, 'utf8')) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % SHARDS;
}

export const ALL_SHARDS: readonly number[] = Array.from({ length: SHARDS }, (_, i) => i);

export const keys = {
  conversation: (id: string) => `CONV#${id}`,
  call: (id: string) => `CALL#${id}`,
  platformEvent: (eventKey: string) => `EVENT#${eventKey}`,
  /** An agent's day aggregates (table pk). */
  agent: (id: string) => `AGENT#${id}`,
  /** One shard of an agent's conversations on `by-agent` (gsi1pk). */
  agentConversations: (id: string, shard: number) => `AGENT#${id}#${shard}`,
  record: 'RECORD',
  link: 'LINK',
  event: (eventKey: string) => `EVT#${eventKey}`,
  eventPrefix: 'EVT#',
  /** A webhook body as signed: its own partition, so it is found by the event key alone. */
  webhook: (eventKey: string) => `WEBHOOK#${eventKey}`,
  webhookBody: 'BODY',
  transcript: (chunk: number) => `TRANSCRIPT#${String(chunk).padStart(4, '0')}`,
  transcriptPrefix: 'TRANSCRIPT#',
  day: (date: string) => `DAY#${date}`,
  /** One shard of an agent's day aggregate (sk under `AGENT#<id>`). */
  dayShard: (date: string, shard: number) => `DAY#${date}#${shard}`,
  /** One shard of all conversations on `by-time` (gsi2pk). */
  allConversations: (shard: number) => `CONVERSATIONS#${shard}`,
  /** A conversation's place on the enrichment queue (sk under its `CONV#` pk). */
  enrichment: 'ENRICH',
  /** by-time partition of the enrichment queue, sorted by `<ended_at>#<id>`. */
  enrichmentQueue: 'ENRICH',
  /** A conversation's place on the audio queue (its recording waits to be archived; sk under its `CONV#` pk). */
  audio: 'AUDIO',
  /**
   * by-time partition of the audio queue, sorted by `<ended_at>#<id>`; also holds the erasure's
   * cleanup items (`ERASED#CONV#<id>` / `AUDIO`, sorted by `<erased_at>#<id>`).
   */
  audioQueue: 'AUDIO',
  /** ThreeTone's request budget: one item per time bucket, and the 429 block. */
  budget: 'BUDGET#threetone',
  budgetBucket: (window: 'MINUTE' | 'HOUR', bucket: number) => `${window}#${bucket}`,
  budgetBlock: 'BLOCK',
  /**
   * An erasure tombstone: what a scope (`CONV#<id>` or `CALL#<id>`) was erased (only the id and the
   * erasure time), so that a late webhook cannot store it again. Its own partition, so an erasure's
   * purge of the scope never meets it.
   */
  erased: (scopePk: string) => `ERASED#${scopePk}`,
  tombstone: 'TOMBSTONE',
  /** Caller lookup: a keyed hash of a normalized phone number; one item per scope (sk = the scope's pk). */
  caller: (hash: string) => `CALLER#${hash}`,
} as const;

/**
 * An index as deployed: its keys and the attributes it carries besides keys (`include`). Indexes
 * carry only what their readers filter on, never whole items (issue 10: an index entry is rewritten
 * whenever an attribute it carries changes); readers fetch the items themselves by key.
 */
export interface IndexDefinition {
  readonly name: string;
  readonly partitionKey: string;
  readonly sortKey: string;
  readonly include: readonly string[];
}

/** Every index of the table, for the CDK construct, the local engine and the cost benchmark. */
export const TABLE_INDEXES: readonly IndexDefinition[] = [TABLE.byAgentIndex, TABLE.byTimeIndex];
