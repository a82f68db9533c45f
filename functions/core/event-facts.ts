/**
 * The facts of a webhook: the fields of its `data` that building a conversation record reads, and
 * nothing else. Stored events keep these for as long as the record (a record is rebuilt from its
 * events), while the full payload, which may hold personal data such as phone numbers, is kept
 * apart and expires after RAW_EVENT_RETENTION_DAYS. `foldConversation` gives the same state for
 * an event's facts as for its full data.
 */
import { DETAIL_PATHS } from './normalize-details.js';

/** Read by `foldConversation` beside the normalized details. */
const FOLD_PATHS = ['conversation_id', 'call_id', 'reason', 'escalation_reason', 'message', 'escalated_at', 'source'];

const PATHS: readonly string[] = [...new Set([...Object.values(DETAIL_PATHS).flat(), ...FOLD_PATHS])];

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function eventFacts(data: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const path of PATHS) {
    const parts = path.split('.');
    let src: unknown = data;
    for (const p of parts) src = isObj(src) ? src[p] : undefined;
    if (src === undefined) continue;
    let dst = out;
    for (const p of parts.slice(0, -1)) {
      if (!isObj(dst[p])) dst[p] = {};
      dst = dst[p] as Record<string, unknown>;
    }
    dst[parts[parts.length - 1]!] = src;
  }
  return out;
}
