/**
 * The single DynamoDB table: key names, index names and item keys, shared by the adapters, the CDK
 * construct and the local engine so they cannot drift apart. See docs/data-model.md.
 */
export const TABLE = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /** Epoch seconds; DynamoDB TTL deletes the item after it. */
  ttlAttribute: 'expires_at',
  /** Conversations of one agent, newest first: gsi1pk = AGENT#<agent_id>, gsi1sk = <sort time>#<id>. */
  byAgentIndex: { name: 'by-agent', partitionKey: 'gsi1pk', sortKey: 'gsi1sk' },
  /**
   * All conversations by time (gsi2pk = CONVERSATIONS), pending outbox entries (gsi2pk = OUTBOX),
   * the enrichment queue (gsi2pk = ENRICH, by end time) and the audio queue (gsi2pk = AUDIO, likewise).
   * One partition is enough: ThreeTone's API limit (100 requests/minute) bounds the conversation rate.
   */
  byTimeIndex: { name: 'by-time', partitionKey: 'gsi2pk', sortKey: 'gsi2sk' },
} as const;

export const keys = {
  conversation: (id: string) => `CONV#${id}`,
  call: (id: string) => `CALL#${id}`,
  platformEvent: (eventKey: string) => `EVENT#${eventKey}`,
  agent: (id: string) => `AGENT#${id}`,
  record: 'RECORD',
  link: 'LINK',
  event: (eventKey: string) => `EVT#${eventKey}`,
  eventPrefix: 'EVT#',
  /** A webhook body as signed: its own partition, so it is found by the event key alone. */
  webhook: (eventKey: string) => `WEBHOOK#${eventKey}`,
  webhookBody: 'BODY',
  transcript: (chunk: number) => `TRANSCRIPT#${String(chunk).padStart(4, '0')}`,
  transcriptPrefix: 'TRANSCRIPT#',
  outbox: (eventId: string) => `OUTBOX#${eventId}`,
  outboxPrefix: 'OUTBOX#',
  day: (date: string) => `DAY#${date}`,
  allConversations: 'CONVERSATIONS',
  pendingOutbox: 'OUTBOX',
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
