import { keys } from '#adapters/table-schema.js';
import { decompressJson } from '#adapters/compressed-json.js';
import { recordOfItem, stateOfItem } from '#adapters/record-item.js';
import { DeleteCommand, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DetailType } from '#core/bus-events.js';
import type { Envelope } from '#core/types.js';
import { createDynamoDbQueries } from '#adapters/dynamodb-queries.js';
import { ThreeToneError } from '#adapters/threetone-http.js';
import { body, createHarness, type Harness, sqsRecord } from '#test/helpers/processor-harness.js';

const DAY = '2026-11-20';
const t = (hhmmss: string) => `${DAY}T${hhmmss}Z`;
const env = (event: string, timestamp: string, data: Record<string, unknown>): Envelope => ({ event, timestamp, data });

interface Spec {
  id: string;
  agent: string;
  startedAt: string;
  endedAt: string;
  duration: number;
  resolved: boolean;
  satisfaction: number | null;
  topics: string[];
  escalate?: boolean;
}

/** Webhooks of one conversation: started, maybe escalated, ended (and a call_ended twin). */
function webhooks(s: Spec): Envelope[] {
  const out = [
    env('conversation_started', s.startedAt, { conversation_id: s.id, agent_id: s.agent, direction: 'inbound', phone_number: '+15550100' }),
    env('conversation_ended', s.endedAt, { conversation_id: s.id, agent_id: s.agent }),
    env('call_ended', s.endedAt, { conversation_id: s.id, call_id: `call-${s.id}`, agent_id: s.agent }),
  ];
  if (s.escalate) out.push(env('escalation_triggered', s.startedAt.replace(/:00Z$/, ':30Z'), { conversation_id: s.id, agent_id: s.agent, reason: 'customer asked for a human' }));
  return out;
}

/** Details in the guide shape for even conversations, the reference shape for odd ones. */
function details(s: Spec, i: number): Record<string, unknown> {
  const transcript = [
    { role: 'user', message: 'hi', time_in_call_secs: 1 },
    { role: 'agent', message: 'hello', time_in_call_secs: 3 },
  ];
  return i % 2 === 0
    ? { conversation_id: s.id, agent_id: s.agent, duration_seconds: s.duration, turn_count: 2, resolution_status: s.resolved ? 'resolved' : 'unresolved', satisfaction_score: s.satisfaction, topics: s.topics, transcript }
    : { conversation_id: s.id, agent_id: s.agent, status: 'done', metadata: { call_duration_secs: s.duration, start_time_unix_secs: Date.parse(s.startedAt) / 1000 }, message_count: 2, analysis: { call_successful: s.resolved ? 'success' : 'failure' }, rating: s.satisfaction, topics: s.topics };
}

function specs(n: number): Spec[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `conv-${i}`,
    agent: `agent-${i % 3}`,
    startedAt: t(`1${i % 10}:0${i % 6}:00`),
    endedAt: t(`1${i % 10}:3${i % 6}:00`),
    duration: 60 + i * 7,
    resolved: i % 3 !== 1,
    satisfaction: i % 4 === 3 ? null : 1 + ((i * 37) % 40) / 10,
    topics: i % 2 ? ['billing'] : ['billing', 'pricing'],
    escalate: i % 5 === 0,
  }));
}

describe('processor through the handler, on DynamoDB Local', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness();
  });
  afterEach(() => h.close());

  it('duplicated and shuffled deliveries give exact aggregates and one Conversation Completed each', async () => {
    const convs = specs(18);
    convs.forEach((s, i) => h.api.details.set(s.id, details(s, i)));
    const hooks = convs.flatMap(webhooks).map(body);
    // every webhook delivered twice (ThreeTone retry) and a third of them three times (SQS redelivery)
    const deliveries = [...hooks, ...hooks, ...hooks.filter((_, i) => i % 3 === 0)];

    const { deadLettered } = await h.deliver(deliveries, { batchSize: 7 });

    expect(deadLettered).toEqual([]);
    for (const agent of ['agent-0', 'agent-1', 'agent-2']) {
      const mine = convs.filter((c) => c.agent === agent);
      const [day] = await h.agentDays(agent);
      const rated = mine.filter((c) => c.satisfaction !== null);
      expect(day?.date).toBe(DAY);
      expect(day?.counters).toEqual({
        conversations: mine.length,
        resolved: mine.filter((c) => c.resolved).length,
        duration_ms_sum: mine.reduce((a, c) => a + c.duration * 1000, 0),
        duration_n: mine.length,
        turns_sum: mine.length * 2,
        turns_n: mine.length,
        satisfaction_milli_sum: rated.reduce((a, c) => a + Math.round(c.satisfaction! * 1000), 0),
        satisfaction_n: rated.length,
        escalations: mine.filter((c) => c.escalate).length,
      });
      expect(day?.topics).toEqual({ billing: mine.length, pricing: mine.filter((c) => c.topics.includes('pricing')).length });
    }
    const completed = h.bus.distinct(DetailType.ConversationCompleted);
    expect(completed.map((e) => e.detail.conversation_id).sort()).toEqual(convs.map((c) => c.id).sort());
    expect(h.bus.distinct(DetailType.ConversationStarted)).toHaveLength(convs.length);
    expect(h.bus.distinct(DetailType.ConversationEscalated)).toHaveLength(convs.filter((c) => c.escalate).length);
    // one ThreeTone Event per distinct webhook, whatever the duplicates
    expect(h.bus.distinct(DetailType.ThreeToneEvent)).toHaveLength(hooks.length);
    // details fetched once per conversation, not once per end event or duplicate
    expect(h.api.calls.filter((c) => c.startsWith('details:'))).toHaveLength(convs.length);
    // and no conversation event published twice, although batches held several events of one
    // conversation; a webhook's own ThreeTone Event goes out with each delivery of it (its message
    // is its outbox), always with the same event_id
    const ids = h.bus.events.filter((e) => e.detailType !== DetailType.ThreeToneEvent).map((e) => e.detail.event_id);
    expect(ids.length - new Set(ids).size).toBe(0);
    expect(h.bus.ofType(DetailType.ThreeToneEvent).length).toBe(deliveries.length);
  });

  it('writes a conversation\'s caller lookup items and call link with the first webhook that carries them, not again', async () => {
    const id = 'conv-once';
    const data = { conversation_id: id, agent_id: 'agent-0', call_id: 'call-once', phone_number: '+15550100', caller_id: '+15550199' };
    const hooks = [
      env('call_started', t('10:00:00'), data),
      env('conversation_started', t('10:00:01'), data),
      env('conversation_ended', t('10:04:00'), { ...data, duration_seconds: 239 }),
      env('call_ended', t('10:04:01'), { ...data, duration_seconds: 240 }),
    ];
    h.api.details.set(id, details({ ...specs(1)[0]!, id }, 0));
    const { deadLettered } = await h.deliver(hooks.map(body), { batchSize: 1, shuffle: false });
    expect(deadLettered).toEqual([]);

    const evts = await h.table.doc.send(
      new QueryCommand({ TableName: h.table.tableName, KeyConditionExpression: 'pk = :p AND begins_with(sk, :e)', ExpressionAttributeValues: { ':p': keys.conversation(id), ':e': keys.eventPrefix } }),
    );
    expect(evts.Items).toHaveLength(4);
    // Only the first event wrote lookup items (both numbers), the others found them in the record's state.
    expect(evts.Items!.filter((it) => it.caller_keys !== undefined).map((it) => (it.caller_keys as string[]).length)).toEqual([2]);
    const record = await h.table.doc.send(new GetCommand({ TableName: h.table.tableName, Key: { pk: keys.conversation(id), sk: keys.record } }));
    expect(stateOfItem(record.Item!)?.calls).toEqual(['call-once']);
    expect(stateOfItem(record.Item!)?.caller_keys).toHaveLength(2);
    // ...and an erasure by one of the numbers still finds the conversation.
    const found = await h.erasure.eraseCaller('+1 555 0199');
    expect(found?.conversations.map((c) => c.conversationId)).toEqual([id]);
  });

  it('stores the normalized record and transcript, from either response shape', async () => {
    const [a, b] = specs(2);
    h.api.details.set(a!.id, details(a!, 0));
    h.api.details.set(b!.id, details(b!, 1));
    h.api.transcripts.set(b!.id, { transcript: [{ role: 'user', message: 'x', time_in_call_secs: 0 }, { role: 'agent', message: 'y', time_in_call_secs: 2.5, interrupted: true }] });

    await h.deliver([...webhooks(a!), ...webhooks(b!)].map(body));

    for (const s of [a!, b!]) {
      const { Item } = await h.table.doc.send(new GetCommand({ TableName: h.table.tableName, Key: { pk: `CONV#${s.id}`, sk: 'RECORD' } }));
      expect(recordOfItem(Item!)).toMatchObject({
        conversation_id: s.id,
        agent_id: s.agent,
        call_id: `call-${s.id}`,
        status: 'ended',
        direction: 'inbound',
        started_at: new Date(s.startedAt).toISOString(),
        duration_seconds: s.duration,
        turn_count: 2,
        resolution_status: s.resolved ? 'resolved' : 'unresolved',
        satisfaction_score: s.satisfaction,
        topics: s.topics,
        transcript_turns: 2,
        details_stored: true,
      });
    }
    const chunks = await h.table.doc.send(
      new QueryCommand({ TableName: h.table.tableName, KeyConditionExpression: 'pk = :p AND begins_with(sk, :t)', ExpressionAttributeValues: { ':p': `CONV#${b!.id}`, ':t': 'TRANSCRIPT#' } }),
    );
    expect(decompressJson(chunks.Items?.[0]?.turns_gz as Uint8Array)).toMatchObject([{ role: 'user' }, { role: 'agent', interrupted: true }]);
  });

  it('retries upstream 500s, 429s and timeouts until the details arrive, counting once', async () => {
    const [s] = specs(1);
    h.api.details.set(s!.id, details(s!, 0));
    h.api.failures.push(
      new ThreeToneError('ThreeTone answered 500', { retryable: true, status: 500 }),
      new ThreeToneError('ThreeTone answered 429', { retryable: true, status: 429 }),
      new ThreeToneError('ThreeTone timed out', { retryable: true }),
    );

    const { deadLettered, attempts } = await h.deliver(webhooks(s!).map(body), { batchSize: 1, shuffle: false });

    expect(deadLettered).toEqual([]);
    expect(attempts).toBeGreaterThan(3);
    const [day] = await h.agentDays(s!.agent);
    expect(day?.counters.conversations).toBe(1);
    expect(h.bus.distinct(DetailType.ConversationCompleted)).toHaveLength(1);
  });

  it('an ended conversation ThreeTone does not know ends at once, never dead-letters, and is completed from webhook facts after the wait', async () => {
    const [s] = specs(1);
    let clock = Date.parse(s!.endedAt) + 60_000;
    const h2 = await createHarness({ now: () => clock });
    try {
      // in order, one at a time: an end processed before its start has no duration yet (README "Conversation Ended")
      const { deadLettered } = await h2.deliver(webhooks(s!).slice(0, 2).map(body), { shuffle: false, batchSize: 1 });

      // facts first: ended, with its webhook duration, published, not counted, waiting
      expect(deadLettered).toEqual([]);
      const queries = createDynamoDbQueries(h2.table.doc, h2.table.tableName);
      expect(await queries.getRecord(s!.id)).toMatchObject({ status: 'ended', ended_at: new Date(s!.endedAt).toISOString(), duration_seconds: 1800, details_stored: false, enrichment: 'pending' });
      expect(h2.bus.distinct(DetailType.ConversationEnded).map((e) => e.detail)).toMatchObject([{ conversation_id: s!.id, duration_seconds: 1800, escalated: false }]);
      expect(h2.bus.ofType(DetailType.ConversationCompleted)).toEqual([]);
      expect(h2.bus.ofType(DetailType.PlatformAlert)).toEqual([]);
      expect(await h2.agentDays(s!.agent)).toEqual([]);

      // past ENRICHMENT_GIVE_UP_HOURS: completed from webhook facts, counted
      clock += 6 * 3_600_000;
      await h2.settle();
      expect(await queries.getRecord(s!.id)).toMatchObject({ details_stored: false, enrichment: 'gave_up' });
      expect(h2.bus.distinct(DetailType.ConversationCompleted).map((e) => e.detail.enrichment)).toEqual(['gave_up']);
      expect((await h2.agentDays(s!.agent))[0]?.counters).toMatchObject({ conversations: 1, resolved: 0, duration_ms_sum: 1_800_000 });

      // the details come after all: enriched, aggregates corrected by the difference
      h2.api.details.set(s!.id, details(s!, 0));
      await h2.settle();
      expect(await queries.getRecord(s!.id)).toMatchObject({ details_stored: true, enrichment: 'done', duration_seconds: s!.duration });
      expect((await h2.agentDays(s!.agent))[0]?.counters).toMatchObject({ conversations: 1, resolved: 1, duration_ms_sum: s!.duration * 1000 });
      expect(h2.bus.distinct(DetailType.ConversationCompleted)).toHaveLength(1);
      expect(h2.bus.distinct(DetailType.ConversationUpdated).at(-1)?.detail).toMatchObject({ enrichment: 'done' });
    } finally {
      await h2.close();
    }
  });

  it("publishes a webhook's ThreeTone Event before fetching ThreeTone's details (live state never waits for them)", async () => {
    const [s] = specs(1);
    h.api.details.set(s!.id, details(s!, 0));
    const published: string[] = [];
    const publish = h.bus.publish.bind(h.bus);
    h.bus.publish = async (events) => {
      for (const e of events) published.push(e.detailType === DetailType.ThreeToneEvent ? `ThreeTone Event:${String(e.detail.event)}` : e.detailType);
      return publish(events);
    };
    const fetch = h.api.getConversation.bind(h.api);
    h.api.getConversation = async (id) => {
      published.push('details fetched');
      return fetch(id);
    };
    // The first fetch fails: the message is retried, but the end was already on the bus.
    h.api.failures.push(new ThreeToneError('ThreeTone answered 500', { retryable: true, status: 500 }));

    await h.deliver([body(webhooks(s!)[1]!)], { batchSize: 1, shuffle: false });

    expect(published.indexOf('ThreeTone Event:conversation_ended')).toBeGreaterThanOrEqual(0);
    expect(published.indexOf('ThreeTone Event:conversation_ended')).toBeLessThan(published.indexOf('details fetched'));
    expect(h.bus.distinct(DetailType.ThreeToneEvent)).toHaveLength(1);
    expect(h.bus.distinct(DetailType.ConversationCompleted)).toHaveLength(1);
  });

  it('a partial PutEvents failure is retried until every event is on the bus (the stream retries from the refused change)', async () => {
    const [s] = specs(1);
    h.api.details.set(s!.id, details(s!, 0));
    h.bus.failNextEntries = 2;
    // The refusals hit what the change stream publishes, not a webhook's own ThreeTone Event.
    h.bus.failOnly = (e) => e.detailType !== DetailType.ThreeToneEvent;

    await h.deliver(webhooks(s!).map(body), { batchSize: 1, shuffle: false });

    expect(h.bus.failNextEntries).toBe(0);
    for (const type of [DetailType.ConversationStarted, DetailType.ConversationEnded, DetailType.ConversationCompleted]) {
      expect(h.bus.distinct(type)).toHaveLength(1);
    }
    expect(h.bus.distinct(DetailType.ThreeToneEvent)).toHaveLength(webhooks(s!).length);
    expect((await h.agentDays(s!.agent))[0]?.counters.conversations).toBe(1);
  });

  it('a later correction moves the conversation between days by the difference', async () => {
    const [s] = specs(1);
    h.api.details.set(s!.id, { conversation_id: s!.id, agent_id: s!.agent, turn_count: 4, resolution_status: 'resolved', satisfaction_score: 4 });
    await h.deliver(webhooks(s!).slice(0, 2).map(body));
    const before = await h.agentDays(s!.agent);
    expect(before.map((d) => [d.date, d.counters.conversations])).toEqual([[DAY, 1]]);

    // a late end event past midnight: the conversation now ends (and counts) on the next day
    await h.deliver([body(env('conversation_ended', '2026-11-21T00:05:00Z', { conversation_id: s!.id }))]);

    const after = Object.fromEntries((await h.agentDays(s!.agent)).map((d) => [d.date, d.counters]));
    expect(after[DAY]).toMatchObject({ conversations: 0, resolved: 0, duration_ms_sum: 0, satisfaction_n: 0 });
    expect(after['2026-11-21']).toMatchObject({ conversations: 1, resolved: 1, satisfaction_milli_sum: 4000, duration_n: 1 });
    expect(h.bus.distinct(DetailType.ConversationCompleted)).toHaveLength(1);
    expect(h.bus.distinct(DetailType.ConversationUpdated).length).toBeGreaterThanOrEqual(1);
  });

  it('call events without a conversation id join the conversation once a later event links the call', async () => {
    h.api.details.set('conv-x', { conversation_id: 'conv-x', agent_id: 'agent-9', duration_seconds: 30 });
    const callOnly = env('call_started', t('09:00:00'), { call_id: 'call-x', direction: 'outbound', agent_id: 'agent-9' });
    const linking = env('conversation_ended', t('09:00:30'), { conversation_id: 'conv-x', call_id: 'call-x' });

    await h.deliver([body(callOnly)]);
    await h.deliver([body(linking)]);

    const { Item } = await h.table.doc.send(new GetCommand({ TableName: h.table.tableName, Key: { pk: 'CONV#conv-x', sk: 'RECORD' } }));
    expect(recordOfItem(Item!)).toMatchObject({ direction: 'outbound', started_at: new Date(t('09:00:00')).toISOString(), call_id: 'call-x', status: 'ended' });
  });

  it('concurrent batches on one conversation still count it exactly once', async () => {
    const convs = specs(4);
    convs.forEach((s, i) => h.api.details.set(s.id, details(s, i)));
    const hooks = convs.flatMap(webhooks).map(body);

    await Promise.all([0, 1, 2, 3].map(() => h.handler({ Records: hooks.map((b) => sqsRecord(b)) })));
    await h.deliver(hooks); // anything that lost a race is retried, like SQS would

    const total = (await Promise.all(['agent-0', 'agent-1', 'agent-2'].map((a) => h.agentDays(a)))).flat();
    expect(total.reduce((n, d) => n + d.counters.conversations, 0)).toBe(4);
    expect(h.bus.distinct(DetailType.ConversationCompleted)).toHaveLength(4);
  });

  it('redacts personal data from ThreeTone Event details', async () => {
    await h.deliver([body(env('call_started', t('08:00:00'), { call_id: 'c1', phone_number: '+15550123' }))]);
    const [raw] = h.bus.ofType(DetailType.ThreeToneEvent);
    expect(raw?.detail).toMatchObject({ event: 'call_started', data: { call_id: 'c1', phone_number: '[redacted]' } });
  });

  it('a transcript larger than one DynamoDB item is chunked on write and read back whole by the query API', async () => {
    const turns = Array.from({ length: 1200 }, (_, i) => ({ role: i % 2 ? 'agent' : 'user', message: `turn ${i} ${'x'.repeat(900)}`, time_in_call_secs: i }));
    h.api.details.set('long', { conversation_id: 'long', agent_id: 'a', duration_seconds: 1200, transcript: turns });

    await h.deliver([body(env('conversation_ended', t('12:00:00'), { conversation_id: 'long' }))]);

    const chunks = await h.table.doc.send(
      new QueryCommand({ TableName: h.table.tableName, KeyConditionExpression: 'pk = :p AND begins_with(sk, :t)', ExpressionAttributeValues: { ':p': 'CONV#long', ':t': 'TRANSCRIPT#' }, ProjectionExpression: 'sk' }),
    );
    expect(chunks.Items!.length).toBeGreaterThan(1);
    const read = await createDynamoDbQueries(h.table.doc, h.table.tableName).getTranscript('long');
    expect(read?.map((turn) => turn.message)).toEqual(turns.map((turn) => turn.message));
    const record = await createDynamoDbQueries(h.table.doc, h.table.tableName).getRecord('long');
    expect(record).toMatchObject({ transcript_turns: 1200, metrics: { agent_turns: 600, user_turns: 600 } });
  });

  it('a message that is not a webhook envelope is retried, then dead-lettered with a Platform Alert, storing nothing', async () => {
    const { deadLettered } = await h.deliver(['not json at all']);

    expect(deadLettered).toEqual(['not json at all']);
    const alerts = h.bus.ofType(DetailType.PlatformAlert);
    expect(alerts.map((a) => a.detail)).toMatchObject([{ alert_type: 'dead_lettered', source: { event: null, conversation_id: null, receive_count: 5 } }]);
    expect(h.bus.ofType(DetailType.ThreeToneEvent)).toEqual([]);
  });

  it('details ThreeTone was still analysing are fetched again later, and the aggregates corrected by the difference', async () => {
    const ended = body(env('conversation_ended', t('13:00:00'), { conversation_id: 'np', agent_id: 'agent-np' }));
    h.api.details.set('np', { conversation_id: 'np', agent_id: 'agent-np', status: 'processing', duration_seconds: 60 });
    await h.deliver([ended]);
    const before = (await h.agentDays('agent-np'))[0]!.counters;
    expect(before).toMatchObject({ conversations: 1, resolved: 0, satisfaction_n: 0 });

    // ThreeTone finished its analysis; the enricher looks again once the refetch wait is over
    h.api.details.set('np', { conversation_id: 'np', agent_id: 'agent-np', status: 'done', duration_seconds: 60, satisfaction_score: 4.5, resolution_status: 'resolved' });
    await h.settle();
    expect(h.api.calls.filter((c) => c === 'details:np')).toHaveLength(1); // not yet due
    h.advance(61_000);
    await h.settle();
    h.advance(61_000);
    await h.settle(); // final now: left the queue, no further fetch

    const after = (await h.agentDays('agent-np'))[0]!.counters;
    expect(after).toMatchObject({ conversations: 1, resolved: 1, satisfaction_n: 1, satisfaction_milli_sum: 4500, duration_n: 1 });
    expect(h.api.calls.filter((c) => c === 'details:np')).toHaveLength(2);
    expect(h.bus.distinct(DetailType.ConversationCompleted)).toHaveLength(1);
    expect(h.bus.distinct(DetailType.ConversationUpdated).at(-1)?.detail).toMatchObject({ satisfaction_score: 4.5, resolution_status: 'resolved' });
  });

  it('a failed refetch of non-final details keeps the stored record, and the webhook is not retried for it', async () => {
    const ended = body(env('conversation_ended', t('14:00:00'), { conversation_id: 'np2', agent_id: 'a' }));
    h.api.details.set('np2', { conversation_id: 'np2', agent_id: 'a', status: 'in-progress', duration_seconds: 30 });
    const { deadLettered, attempts } = await h.deliver([ended]);
    h.api.failures.push(new ThreeToneError('ThreeTone answered 503', { retryable: true, status: 503 }));
    h.advance(61_000);

    const run = await h.enricher.drain({ deadlineMs: 10_000 });

    expect(run).toMatchObject({ failed: 1, pending: 1 });
    expect(deadLettered).toEqual([]);
    expect(attempts).toBe(1);
    expect(await createDynamoDbQueries(h.table.doc, h.table.tableName).getRecord('np2')).toMatchObject({ details_stored: true, duration_seconds: 30 });
    expect((await h.agentDays('a'))[0]!.counters.conversations).toBe(1);
  });

  it('after raw payloads expire, a late event still sees the whole conversation: no regression, no recount', async () => {
    const [s1] = specs(1);
    h.api.details.set(s1!.id, details(s1!, 0));
    await h.deliver(webhooks(s1!).map(body));
    const { Items: stored } = await h.table.doc.send(
      new QueryCommand({ TableName: h.table.tableName, KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': `CONV#${s1!.id}` } }),
    );
    const eventKeys = stored!.filter((it) => String(it.sk).startsWith(keys.eventPrefix)).map((it) => String(it.sk).slice(keys.eventPrefix.length));
    const raw = (
      await Promise.all(
        eventKeys.map((k) => h.table.doc.send(new GetCommand({ TableName: h.table.tableName, Key: { pk: keys.webhook(k), sk: keys.webhookBody } }))),
      )
    ).map((out) => out.Item!);
    expect(raw.every((it) => it !== undefined && typeof it.body === 'string')).toBe(true);
    expect(raw.length).toBeGreaterThan(0);
    expect(raw.every((it) => it.expires_at > Date.now() / 1000)).toBe(true);
    // events keep only the facts records are built from: no phone number outlives the raw payload
    expect(JSON.stringify(stored!.filter((it) => String(it.sk).startsWith('EVT#')))).not.toContain('+15550100');
    const before = (await h.agentDays(s1!.agent))[0]!.counters;

    // TTL deletes the raw payloads (DynamoDB Local does not expire items: delete them as TTL would)
    for (const it of raw) await h.table.doc.send(new DeleteCommand({ TableName: h.table.tableName, Key: { pk: it.pk, sk: it.sk } }));
    await h.deliver([body(env('escalation_triggered', t('23:00:00'), { conversation_id: s1!.id, reason: 'late' }))]);

    const { Item } = await h.table.doc.send(new GetCommand({ TableName: h.table.tableName, Key: { pk: `CONV#${s1!.id}`, sk: 'RECORD' } }));
    expect(recordOfItem(Item!)).toMatchObject({ status: 'ended', started_at: new Date(s1!.startedAt).toISOString(), call_id: `call-${s1!.id}`, escalated: true });
    const after = (await h.agentDays(s1!.agent))[0]!.counters;
    expect(after.conversations).toBe(before.conversations);
    expect(after.duration_ms_sum).toBe(before.duration_ms_sum);
  });
});
