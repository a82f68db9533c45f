/**
 * How a conversation's record and its processing state sit in the `RECORD` item: each gzip-compressed
 * JSON in a binary attribute (`record_gz`, `state_gz`). Both are written whole by every commit and
 * read back whole (nothing filters on their fields: listings filter on the top-level `status`), and
 * DynamoDB bills a write by the item's size, per KB, twice in a transaction (issue 10). Items written
 * before this layout (maps `record`, `state`) are still read.
 */
import type { ConversationRecord } from '#core/types.js';
import type { ProcessingState } from '#functions/ports.js';
import { compressJson, decompressJson } from './compressed-json.js';

export const RECORD_ATTRIBUTES = { record: 'record_gz', state: 'state_gz', legacyRecord: 'record', legacyState: 'state' } as const;

export const recordAttributes = (record: ConversationRecord, state: ProcessingState): Record<string, Uint8Array> => ({
  [RECORD_ATTRIBUTES.record]: compressJson(record),
  [RECORD_ATTRIBUTES.state]: compressJson(state),
});

const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array;
const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !isBytes(v);

/** The record an item holds, or null when it holds none. */
export function recordOfItem(item: Record<string, unknown>): ConversationRecord | null {
  const gz = item[RECORD_ATTRIBUTES.record];
  if (isBytes(gz)) return decompressJson(gz) as ConversationRecord;
  const legacy = item[RECORD_ATTRIBUTES.legacyRecord];
  return isMap(legacy) ? (legacy as unknown as ConversationRecord) : null;
}

export function stateOfItem(item: Record<string, unknown>): ProcessingState | null {
  const gz = item[RECORD_ATTRIBUTES.state];
  if (isBytes(gz)) return decompressJson(gz) as ProcessingState;
  const legacy = item[RECORD_ATTRIBUTES.legacyState];
  return isMap(legacy) ? (legacy as unknown as ProcessingState) : null;
}

/** A projection of both forms of the record (for readers that want the record alone). */
export const RECORD_PROJECTION = { '#rgz': RECORD_ATTRIBUTES.record, '#rmap': RECORD_ATTRIBUTES.legacyRecord } as const;
