/**
 * The demo's last two steps (`npm run demo`, README "Audio" and "Erasure"), against the running server:
 * 1. one conversation's recording: wait until the record says it is archived, fetch it through the
 *    query API (its media type and size as the record says), and a byte range (206);
 * 2. one conversation erased: `DELETE /conversations/{id}`, then the record and the recording answer
 *    404, `Conversation Erased` is on the local bus, and its agent's aggregates lost exactly it.
 */
import type { AgentMetrics } from '#core/aggregates.js';
import type { ConversationRecord } from '#core/types.js';
import { readEvents } from './local-bus.js';
import { getJson, type Target } from './send.js';

export interface DemoCheck {
  name: string;
  ok: boolean | null; // null: skipped
  detail?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const headers = (target: Target, extra: Record<string, string> = {}) => ({ ...extra, ...(target.apiKey && { 'x-api-key': target.apiKey }) });
const path = (id: string, suffix = '') => `/conversations/${encodeURIComponent(id)}${suffix}`;

/** Waits for the recording to be archived (the enricher fetches it after the details), then downloads it whole and in part. */
export async function demoAudio(target: Target, conversationId: string, timeoutMs: number): Promise<DemoCheck[]> {
  let record: ConversationRecord | null = null;
  const end = Date.now() + timeoutMs;
  for (;;) {
    const res = await getJson<ConversationRecord>(target, path(conversationId));
    record = res.status === 200 ? res.body : null;
    const status = record?.audio?.status;
    if (status !== undefined && status !== 'pending') break;
    if (Date.now() >= end) break;
    await sleep(1000);
  }
  const audio = record?.audio;
  if (audio?.status === 'off') return [{ name: 'audio archived and served', ok: null, detail: 'AUDIO_ARCHIVE is off' }];
  if (audio?.status !== 'stored') {
    return [{ name: 'audio archived and served', ok: false, detail: `${conversationId}: audio.status ${audio?.status ?? 'absent'} after ${timeoutMs / 1000} s` }];
  }
  const whole = await fetch(`${target.url}${path(conversationId, '/audio')}`, { headers: headers(target) });
  const bytes = Buffer.from(await whole.arrayBuffer());
  const type = whole.headers.get('content-type');
  const part = await fetch(`${target.url}${path(conversationId, '/audio')}`, { headers: headers(target, { range: 'bytes=0-3' }) });
  const first = Buffer.from(await part.arrayBuffer());
  const contentRange = part.headers.get('content-range');
  console.log(
    `\naudio of ${conversationId}, GET ${path(conversationId, '/audio')}: ${whole.status}, ${type}, ${bytes.length.toLocaleString('en-US')} bytes ` +
      `(record: ${audio.content_type}, ${audio.size_bytes?.toLocaleString('en-US')} bytes); ` +
      `Range: bytes=0-3 → ${part.status} (${contentRange}) ${JSON.stringify(first.toString('latin1'))}`,
  );
  return [
    {
      name: 'audio served as the record says (type, size)',
      ok: whole.status === 200 && type === audio.content_type && bytes.length === audio.size_bytes,
      detail: `${whole.status}, ${type}, ${bytes.length} bytes`,
    },
    {
      name: 'a Range request gives 206 with the bytes asked for',
      ok: part.status === 206 && contentRange === `bytes 0-3/${audio.size_bytes}` && first.equals(bytes.subarray(0, 4)),
      detail: `${part.status} ${contentRange}`,
    },
  ];
}

/** Erases one conversation and shows that it is gone, announced, and no longer counted. */
export async function demoErasure(
  target: Target,
  conversationId: string,
  metrics: () => Promise<AgentMetrics>,
  eventsFile: string | undefined,
): Promise<DemoCheck[]> {
  const before = await metrics();
  const res = await fetch(`${target.url}${path(conversationId)}`, { method: 'DELETE', headers: headers(target) });
  const answer = (await res.json().catch(() => null)) as { status?: string; erased_at?: string } | null;
  const record = await getJson(target, path(conversationId));
  const audio = await fetch(`${target.url}${path(conversationId, '/audio')}`, { headers: headers(target) });
  await audio.arrayBuffer();
  const after = await metrics();
  console.log(
    `\nerasure of ${conversationId}: DELETE → ${res.status} ${answer?.status ?? ''} at ${answer?.erased_at ?? '?'}; ` +
      `GET record → ${record.status}; GET audio → ${audio.status}; ${before.agent_id} conversations ${before.conversations} → ${after.conversations}`,
  );
  const checks: DemoCheck[] = [
    { name: 'erasure: DELETE answers 200 erased', ok: res.status === 200 && answer?.status === 'erased', detail: String(res.status) },
    { name: 'erasure: record and audio are gone (404)', ok: record.status === 404 && audio.status === 404, detail: `record ${record.status}, audio ${audio.status}` },
    {
      name: 'erasure: the agent aggregates lost exactly that conversation',
      ok: after.conversations === before.conversations - 1,
      detail: `${before.conversations} → ${after.conversations}`,
    },
  ];
  if (!eventsFile) {
    checks.push({ name: 'erasure: Conversation Erased published', ok: null, detail: 'no events file known (pass --events-file)' });
    return checks;
  }
  let published = false;
  for (const end = Date.now() + 10_000; !published && Date.now() < end; await sleep(300)) {
    published = (await readEvents(eventsFile)).some((e) => e['detail-type'] === 'Conversation Erased' && e.detail.conversation_id === conversationId);
  }
  checks.push({ name: 'erasure: Conversation Erased published', ok: published, detail: eventsFile });
  return checks;
}
