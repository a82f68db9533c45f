/**
 * Erasure (README "Erasure") through the real processor, enricher and erasure against DynamoDB Local:
 * everything of the conversation is gone (the table is scanned to prove it), the aggregates equal a
 * run that never had it, `Conversation Erased` is published once and schema-valid, a repeat changes
 * nothing, late webhooks and in-flight enrichment store nothing, and erasure by phone number finds
 * exactly that caller's conversations without any number stored in clear.
 */
import { GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { decompressJson } from '#adapters/compressed-json.js';
import { createDynamoDbConversationStore } from '#adapters/dynamodb-conversation-store.js';
import { DetailType } from '#core/bus-events.js';
import { eventKey } from '#core/event-key.js';
import type { Envelope } from '#core/types.js';
import { createProcessor } from '#functions/processor/processor.js';
import { conversationScript, envelope } from '#test/helpers/envelopes.js';
import { schemaErrors } from '#test/helpers/event-schemas.js';
import { body, createHarness, type Harness, TEST_CALLER_HASH_KEY, THRESHOLDS } from '#test/helpers/processor-harness.js';

const harnesses: Harness[] = [];
afterEach(async () => {
  await Promise.all(harnesses.splice(0).map((h) => h.close()));
});

async function harness(): Promise<Harness> {
  const h = await createHarness();
  harnesses.push(h);
  return h;
}

type Item = Record<string, unknown>;

async function scan(h: Harness): Promise<Item[]> {
  const items: Item[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await h.table.doc.send(new ScanCommand({ TableName: h.table.tableName, ConsistentRead: true, ExclusiveStartKey: start }));
    items.push(...((page.Items ?? []) as Item[]));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

const DAY = '2026-11-20';
const at = (hh: number, mm: number) => Date.UTC(2026, 10, 20, hh, mm);

/** Details ThreeTone reports, with a transcript (stored as chunks). */
function details(id: string, topics: string[], satisfaction: number) {
  return {
    conversation_id: id,
    agent_id: 'agent_e',
    status: 'done',
    duration_seconds: 300,
    satisfaction_score: satisfaction,
    resolution_status: 'resolved',
    topics,
    transcript: [
      { role: 'agent', message: 'Hello', time_in_call_secs: 0 },
      { role: 'user', message: 'My number is +1 555 010 0777', time_in_call_secs: 3 },
    ],
  };
}

/** Aggregates as comparable numbers: a counter absent and a counter at 0 are the same. */
const normalized = (days: Awaited<ReturnType<Harness['agentDays']>>) =>
  days
    .map((d) => ({
      date: d.date,
      counters: d.counters,
      topics: Object.fromEntries(Object.entries(d.topics).filter(([, n]) => n !== 0)),
    }))
    .filter((d) => Object.values(d.counters).some((n) => n !== 0));

const KEEP_PHONE = '+15550100111';
const ERASE_PHONE = '+15550100777';

/** The kept conversation and the one to erase (calls too, an escalation, a call-only webhook). */
function scripts() {
  const keep = conversationScript({ conversationId: 'c-keep', agentId: 'agent_e', start: at(9, 0), durationSeconds: 300, phoneNumber: KEEP_PHONE });
  const erase = conversationScript({ conversationId: 'c-erase', agentId: 'agent_e', start: at(10, 0), durationSeconds: 300, phoneNumber: ERASE_PHONE, family: 'both', escalate: true });
  // Arrives before the call is linked: stored under CALL#call_c-erase.
  const callOnly = envelope('call_analyzed', { call_id: 'call_c-erase', caller_id: ERASE_PHONE, from_number: ERASE_PHONE }, new Date(at(10, 1)).toISOString());
  return { keep, erase, callOnly };
}

async function seed(h: Harness, withErased: boolean) {
  const { keep, erase, callOnly } = scripts();
  h.api.details.set('c-keep', details('c-keep', ['billing'], 4));
  h.api.details.set('c-erase', details('c-erase', ['billing', 'refund'], 2));
  if (withErased) {
    expect((await h.deliver([body(callOnly)])).deadLettered).toEqual([]);
    expect((await h.deliver(erase.map(body))).deadLettered).toEqual([]);
  }
  expect((await h.deliver(keep.map(body))).deadLettered).toEqual([]);
  await h.settle();
}

const mentions = (it: Item, ...needles: string[]) => needles.some((n) => JSON.stringify(it).includes(n));

describe('DELETE /conversations/{id}: erasing one conversation', () => {
  it('removes everything of it, corrects the aggregates exactly, publishes Conversation Erased once, and is idempotent', async () => {
    // Arrange: one run with both conversations, one that never had the erased one
    const h = await harness();
    const baseline = await harness();
    await seed(h, true);
    await seed(baseline, false);
    const { erase, callOnly } = scripts();
    const before = await scan(h);
    expect(before.some((it) => String(it.pk).startsWith('CONV#c-erase') && String(it.sk).startsWith('TRANSCRIPT#'))).toBe(true);
    expect(before.some((it) => it.pk === 'CALL#call_c-erase' && String(it.sk).startsWith('EVT#'))).toBe(true);
    expect(before.some((it) => it.pk === 'CALL#call_c-erase' && it.sk === 'LINK')).toBe(true);
    expect(before.filter((it) => String(it.pk).startsWith('CALLER#')).length).toBeGreaterThan(0);
    expect(normalized(await h.agentDays('agent_e'))).not.toEqual(normalized(await baseline.agentDays('agent_e')));

    // Act
    const first = await h.erasure.eraseConversation('c-erase');

    // Assert: gone, except the tombstones (id and time only)
    expect(first).toMatchObject({ conversationId: 'c-erase', alreadyErased: false });
    const after = await scan(h);
    const left = after.filter((it) => mentions(it, 'c-erase'));
    expect(left.map((it) => `${String(it.pk)}|${String(it.sk)}`).sort()).toEqual([
      'ERASED#CALL#call_c-erase|TOMBSTONE',
      // The audio queue's cleanup item: the recording is deleted once more when no upload can be under way (README "Audio").
      'ERASED#CONV#c-erase|AUDIO',
      'ERASED#CONV#c-erase|TOMBSTONE',
    ]);
    const callTombstone = left.find((it) => it.pk === 'ERASED#CALL#call_c-erase')!;
    expect(Object.keys(callTombstone).sort()).toEqual(['erased_at', 'expires_at', 'pk', 'sk']);
    // The conversation's tombstone carries `Conversation Erased` for the change stream (ids and the time only).
    const tombstone = left.find((it) => it.pk === 'ERASED#CONV#c-erase' && it.sk === 'TOMBSTONE')!;
    expect(Object.keys(tombstone).sort()).toEqual(['erased_at', 'expires_at', 'outbox_gz', 'pk', 'sk']);
    const carried = decompressJson(tombstone.outbox_gz as Uint8Array) as { detailType: string; detail: Record<string, unknown> }[];
    expect(carried.map((e) => e.detailType)).toEqual([DetailType.ConversationErased]);
    expect(Object.keys(carried[0]!.detail).sort()).toEqual(['agent_id', 'conversation_id', 'erased_at', 'event_id', 'schema_version']);
    // Only the id and times, as a tombstone.
    const cleanup = left.find((it) => it.sk === 'AUDIO')!;
    expect(Object.keys(cleanup).sort()).toEqual(['attempts', 'conversation_id', 'ended_at', 'expires_at', 'gsi2pk', 'gsi2sk', 'not_before', 'pk', 'sk']);
    expect(cleanup.expires_at).toBe(left.find((it) => it.pk === 'ERASED#CONV#c-erase' && it.sk === 'TOMBSTONE')!.expires_at);
    for (const key of [...erase, callOnly].map(eventKey)) {
      expect(after.find((it) => it.pk === `WEBHOOK#${key}`)).toBeUndefined();
      expect(after.find((it) => it.sk === `EVT#${key}`)).toBeUndefined();
    }
    expect(after.filter((it) => it.gsi2pk === 'ENRICH')).toEqual([]);
    // Its caller lookup items went too; the kept conversation's stayed
    expect(after.filter((it) => String(it.pk).startsWith('CALLER#')).map((it) => it.sk)).toEqual(['CONV#c-keep']);
    // Nothing anywhere holds the erased number any more
    expect(after.filter((it) => mentions(it, '5550100777'))).toEqual([]);
    // The aggregates are those of a run that never had it
    expect(normalized(await h.agentDays('agent_e'))).toEqual(normalized(await baseline.agentDays('agent_e')));
    // Conversation Erased, once, as its schema says
    const erased = h.bus.ofType(DetailType.ConversationErased);
    expect(erased).toHaveLength(1);
    expect(erased[0]!.detail).toMatchObject({ conversation_id: 'c-erase', agent_id: 'agent_e', erased_at: first!.erasedAt });
    expect(schemaErrors(erased[0]!)).toBeNull();

    // Act: again
    const second = await h.erasure.eraseConversation('c-erase');

    // Assert: the same outcome, nothing corrected or published twice
    expect(second).toEqual({ conversationId: 'c-erase', erasedAt: first!.erasedAt, alreadyErased: true });
    expect(normalized(await h.agentDays('agent_e'))).toEqual(normalized(await baseline.agentDays('agent_e')));
    expect(h.bus.ofType(DetailType.ConversationErased)).toHaveLength(1);
    expect(await scan(h)).toEqual(after);
    // Unknown ids: nothing to erase, nothing written
    expect(await h.erasure.eraseConversation('never-seen')).toBeNull();
    expect((await scan(h)).filter((it) => mentions(it, 'never-seen'))).toEqual([]);
  }, 60_000);

  it('acknowledges late webhooks of an erased conversation and stores nothing of them', async () => {
    // Arrange
    const h = await harness();
    await seed(h, true);
    await h.erasure.eraseConversation('c-erase');
    const before = await scan(h);
    const published = h.bus.events.length;
    const late = [
      envelope('conversation_ended', { conversation_id: 'c-erase', agent_id: 'agent_e', call_id: 'call_c-erase', phone_number: ERASE_PHONE, duration_seconds: 301 }, new Date(at(10, 6)).toISOString()),
      envelope('call_ended', { call_id: 'call_c-erase', caller_id: ERASE_PHONE }, new Date(at(10, 6)).toISOString()),
      envelope('call_started', { call_id: 'call_c-erase', conversation_id: 'c-erase', customer_phone: ERASE_PHONE }, new Date(at(10, 7)).toISOString()),
    ];

    // Act
    const out = await h.deliver(late.map(body), { maxReceiveCount: 1 });
    await h.settle();

    // Assert: processed (nothing dead-lettered), nothing stored, nothing published
    expect(out.deadLettered).toEqual([]);
    expect(await scan(h)).toEqual(before);
    expect(h.bus.events.length).toBe(published);
  }, 60_000);

  it('a webhook whose writes land after the erasure checked nothing: the rebuild finds the tombstone and deletes what it wrote', async () => {
    // Arrange: the erasure runs between the webhook's tombstone check and its rebuild (its writes are not one transaction)
    const h = await harness();
    await seed(h, true);
    // The webhook's first read (its record, else its tombstone) finds it not erased, and the erasure
    // (with its purge) completes right after that read.
    let raced = false;
    const doc = new Proxy(h.table.doc, {
      get(target, prop, receiver) {
        if (prop !== 'send') return Reflect.get(target, prop, receiver);
        return async (command: unknown) => {
          const sk = command instanceof GetCommand ? command.input.Key?.sk : undefined;
          if (!raced && (sk === 'RECORD' || sk === 'TOMBSTONE')) {
            raced = true;
            const before = sk === 'RECORD' ? await target.send(command as GetCommand) : {};
            await h.erasure.eraseConversation('c-erase');
            return before;
          }
          return target.send(command as GetCommand);
        };
      },
    });
    const store = createDynamoDbConversationStore(doc, h.table.tableName, { retention: { rawEventDays: 30, transcriptDays: 0, recordDays: 0 } });
    const processor = createProcessor({ store, publisher: h.bus, config: { alerts: THRESHOLDS, maxReceiveCount: 5, redactFields: [], enrichment: { maxAgeDays: 7 } }, callerHashKey: async () => TEST_CALLER_HASH_KEY });
    const late = envelope('call_started', { call_id: 'call_c-erase-2', conversation_id: 'c-erase', customer_phone: ERASE_PHONE }, new Date(at(10, 7)).toISOString());

    // Act
    await processor.processMessage(body(late), new Date().toISOString());

    // Assert: its event, body, caller lookup and call link are gone (the purge ran before they were written); only tombstones mention it
    expect(raced).toBe(true);
    const left = (await scan(h)).filter((it) => mentions(it, 'c-erase'));
    expect(left.map((it) => `${String(it.pk)}|${String(it.sk)}`).sort()).toEqual(['ERASED#CALL#call_c-erase|TOMBSTONE', 'ERASED#CONV#c-erase|AUDIO', 'ERASED#CONV#c-erase|TOMBSTONE']);
    expect((await scan(h)).find((it) => it.pk === `WEBHOOK#${eventKey(late)}`)).toBeUndefined();
    expect((await scan(h)).filter((it) => mentions(it, '5550100777'))).toEqual([]);
  }, 60_000);

  it('an enrichment in flight when the conversation is erased writes nothing', async () => {
    // Arrange: erased while the enricher holds ThreeTone's answer
    const h = await harness();
    await seed(h, true);
    await h.erasure.eraseConversation('c-erase');
    const before = await scan(h);
    const store = createDynamoDbConversationStore(h.table.doc, h.table.tableName, { retention: { rawEventDays: 30, transcriptDays: 0, recordDays: 0 } });
    const processor = createProcessor({ store, publisher: h.bus, config: { alerts: THRESHOLDS, maxReceiveCount: 5, redactFields: [], enrichment: { maxAgeDays: 7 } } });
    const { transcript, ...rest } = details('c-erase', ['refund'], 1);
    const fetched = { details: { ...rest, status: 'done' } as never, turns: transcript };

    // Act: the rebuild the enricher would run with what it fetched
    const result = await processor.rebuildConversation('c-erase', undefined, { fetched });
    await h.settle();

    // Assert
    expect(result).toEqual({ queued: false, erased: true });
    expect(await scan(h)).toEqual(before);
    expect(h.api.calls.filter((c) => c.endsWith(':c-erase'))).toHaveLength(1); // only the fetch before erasure
  }, 60_000);

  it('corrects the aggregates exactly once while webhooks of the conversation are processed concurrently', async () => {
    // Arrange
    const h = await harness();
    const baseline = await harness();
    await seed(h, true);
    await seed(baseline, false);
    const more = [
      envelope('escalation_triggered', { conversation_id: 'c-erase', agent_id: 'agent_e', reason: 'again' }, new Date(at(10, 3)).toISOString()),
      envelope('conversation_ended', { conversation_id: 'c-erase', agent_id: 'agent_e', duration_seconds: 420, phone_number: ERASE_PHONE }, new Date(at(10, 7)).toISOString()),
    ];
    h.api.details.set('c-erase', { ...details('c-erase', ['complaint'], 1), duration_seconds: 420 });

    // Act: both at once, whichever wins each race
    const [delivered] = await Promise.all([h.deliver(more.map(body), { batchSize: 1 }), h.erasure.eraseConversation('c-erase')]);
    await h.settle();

    // Assert
    expect(delivered.deadLettered).toEqual([]);
    expect(normalized(await h.agentDays('agent_e'))).toEqual(normalized(await baseline.agentDays('agent_e')));
    const left = (await scan(h)).filter((it) => mentions(it, 'c-erase', '5550100777'));
    expect(left.every((it) => String(it.pk).startsWith('ERASED#'))).toBe(true);
    expect(h.bus.distinct(DetailType.ConversationErased)).toHaveLength(1);
  }, 60_000);
});

describe('POST /erasures: erasing every conversation of one caller', () => {
  const P = '+1 (555) 010-0999';
  it('finds all and only that caller\'s conversations by the keyed hash, in any phone field and format', async () => {
    // Arrange
    const h = await harness();
    const t = (m: number) => new Date(at(11, m)).toISOString();
    const webhooks: Envelope[] = [
      ...conversationScript({ conversationId: 'p-1', agentId: 'agent_p', start: at(11, 0), phoneNumber: '+15550100999' }),
      envelope('conversation_started', { conversation_id: 'p-2', agent_id: 'agent_p', metadata: { phone_call: { from_number: '1-555-010-0999', to_number: '+15550100000' } } }, t(5)),
      envelope('conversation_ended', { conversation_id: 'p-2', agent_id: 'agent_p', duration_seconds: 60 }, t(6)),
      ...conversationScript({ conversationId: 'q-1', agentId: 'agent_p', start: at(11, 10), phoneNumber: '+15550100888' }),
      envelope('call_started', { call_id: 'solo-call', customer_phone: 15550100999 as unknown as string }, t(20)),
    ];
    expect((await h.deliver(webhooks.map(body))).deadLettered).toEqual([]);
    await h.settle();
    const lookups = (await scan(h)).filter((it) => String(it.pk).startsWith('CALLER#'));
    expect(lookups.length).toBeGreaterThanOrEqual(4);
    for (const it of lookups) {
      expect(String(it.pk)).toMatch(/^CALLER#[0-9a-f]{64}$/);
      expect(mentions(it, '5550100999', '5550100888', '5550100000')).toBe(false);
    }

    // Act
    const result = await h.erasure.eraseCaller(P);

    // Assert
    expect(result!.conversations.map((c) => c.conversationId)).toEqual(['p-1', 'p-2']);
    expect(result!.calls).toBe(1);
    const after = await scan(h);
    expect(after.filter((it) => mentions(it, 'p-1', 'p-2', 'solo-call') && !String(it.pk).startsWith('ERASED#'))).toEqual([]);
    expect(after.filter((it) => mentions(it, '5550100999'))).toEqual([]);
    expect(after.some((it) => it.pk === 'CONV#q-1' && it.sk === 'RECORD')).toBe(true);
    expect(h.bus.distinct(DetailType.ConversationErased).map((e) => e.detail.conversation_id).sort()).toEqual(['p-1', 'p-2']);
    // Again: nothing left to find
    expect(await h.erasure.eraseCaller(P)).toEqual({ conversations: [], calls: 0 });
    expect(await h.erasure.eraseCaller('12')).toBeNull();
  }, 60_000);
});
