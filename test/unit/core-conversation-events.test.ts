import { describe, expect, it } from 'vitest';
import { type BusEvent, DetailType, SCHEMA_VERSION } from '#core/bus-events.js';
import { deadLetterAlert, nothingPublished, planConversationEvents, planWebhookEvents, type Published } from '#core/conversation-events.js';
import { foldConversation, type WebhookState } from '#core/conversation-state.js';
import { normalizeDetails } from '#core/normalize-details.js';
import { buildRecord } from '#core/record.js';
import { REDACTED, redact } from '#core/redact.js';
import type { ConversationRecord, NormalizedDetails } from '#core/types.js';
import { conversationScript, envelope, stored, type ConversationScriptOptions } from '#test/helpers/envelopes.js';

const THRESHOLDS = { longDurationSeconds: 600, lowSatisfaction: 2.5 };
const NOW = '2024-01-15T12:00:00.000Z';
const START = '2024-01-15T10:30:00.000Z';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

interface Step {
  state: WebhookState;
  record: ConversationRecord;
}

/** State and record of a scripted conversation, with or without details from the API. */
function step(script: ConversationScriptOptions, rawDetails: Record<string, unknown> | null = null): Step {
  const conversationId = script.conversationId ?? 'conv_1';
  const state = foldConversation(conversationId, conversationScript({ conversationId, start: START, ...script }).map((e) => stored(e)));
  let details: Omit<NormalizedDetails, 'transcript'> | null = null;
  if (rawDetails) {
    const { transcript: _t, ...rest } = normalizeDetails(conversationId, rawDetails);
    details = rest;
  }
  return { state, record: buildRecord({ conversationId, state, details, transcript: null, thresholds: THRESHOLDS }) };
}

function plan(after: Step, published: Published = nothingPublished(), before: ConversationRecord | null = null) {
  return planConversationEvents({ before, after: after.record, state: after.state, published, thresholds: THRESHOLDS, now: NOW });
}

const types = (events: readonly BusEvent[]) => events.map((e) => e.detailType);

describe('planConversationEvents', () => {
  it('plans Conversation Started on the first sign of a conversation, and only then', () => {
    // Arrange
    const active = step({ ongoing: true });

    // Act
    const first = plan(active);
    const second = plan(active, first.published);

    // Assert
    expect(types(first.events)).toEqual([DetailType.ConversationStarted]);
    expect(first.events[0]).toMatchObject({
      time: START,
      detail: { conversation_id: 'conv_1', agent_id: 'agent_support', started_at: START, direction: 'inbound', schema_version: SCHEMA_VERSION },
    });
    expect(first.published.started).toBe(true);
    expect(second.events).toEqual([]);
  });

  it('does not mutate the published bookkeeping it is given', () => {
    const published = nothingPublished();
    plan(step({ escalate: true }, { rating: 1, duration_seconds: 900 }), published);
    expect(published).toEqual(nothingPublished());
  });

  it('plans one Conversation Escalated per escalation, once', () => {
    // Arrange
    const escalated = step({ ongoing: true, escalate: { reason: 'wants a human', afterSeconds: 30 } });

    // Act
    const first = plan(escalated);
    const again = plan(escalated, first.published);

    // Assert
    const esc = first.events.filter((e) => e.detailType === DetailType.ConversationEscalated);
    expect(esc).toHaveLength(1);
    expect(esc[0]?.detail).toMatchObject({ conversation_id: 'conv_1', agent_id: 'agent_support', reason: 'wants a human', escalated_at: '2024-01-15T10:30:30.000Z' });
    expect(esc[0]?.time).toBe('2024-01-15T10:30:30.000Z');
    expect(again.events).toEqual([]);
  });

  it('plans only the new escalation when a second one arrives', () => {
    // Arrange
    const one = step({ ongoing: true, escalate: { afterSeconds: 30 } });
    const { published } = plan(one);
    const second = stored(envelope('escalation_triggered', { conversation_id: 'conv_1', reason: 'again' }, '2024-01-15T10:31:40Z'));
    const events = [...conversationScript({ conversationId: 'conv_1', start: START, ongoing: true, escalate: { afterSeconds: 30 } }).map((e) => stored(e)), second];
    const state = foldConversation('conv_1', events);
    const record = buildRecord({ conversationId: 'conv_1', state, details: null, transcript: null, thresholds: THRESHOLDS });

    // Act
    const next = plan({ state, record }, published, one.record);

    // Assert
    expect(types(next.events)).toEqual([DetailType.ConversationEscalated]);
    expect(next.events[0]?.detail.reason).toBe('again');
    expect(next.published.escalations).toHaveLength(2);
  });

  it('plans each alert type once, with its value and threshold', () => {
    // Arrange: 900 s, rating 2, escalated
    const s = step({ durationSeconds: 900, escalate: true }, { call_duration_secs: 900, rating: 2 });

    // Act
    const first = plan(s);
    const again = plan(s, first.published, s.record);

    // Assert
    const alerts = first.events.filter((e) => e.detailType === DetailType.ConversationAlert).map((e) => e.detail);
    expect(alerts).toEqual([
      expect.objectContaining({ alert_type: 'long_duration', conversation_id: 'conv_1', agent_id: 'agent_support', value: 900, threshold: 600 }),
      expect.objectContaining({ alert_type: 'low_satisfaction', value: 2, threshold: 2.5 }),
      expect.objectContaining({ alert_type: 'escalation', value: 1, threshold: 1 }),
    ]);
    expect(first.published.alerts).toEqual(['long_duration', 'low_satisfaction', 'escalation']);
    expect(again.events).toEqual([]);
  });

  it('values the escalation alert at the number of escalations, and at 1 when only the details say escalated', () => {
    const byDetails = plan(step({}, { escalated: true })).events.find((e) => e.detail.alert_type === 'escalation');
    expect(byDetails?.detail).toMatchObject({ value: 1, threshold: 1 });

    const events = [
      ...conversationScript({ conversationId: 'conv_1', start: START, escalate: { afterSeconds: 10 } }),
      envelope('escalation_triggered', { conversation_id: 'conv_1', reason: 'again' }, '2024-01-15T10:31:00Z'),
    ];
    const state = foldConversation('conv_1', events.map((e) => stored(e)));
    const record = buildRecord({ conversationId: 'conv_1', state, details: null, transcript: null, thresholds: THRESHOLDS });
    const twice = plan({ state, record }).events.find((e) => e.detail.alert_type === 'escalation');
    expect(twice?.detail).toMatchObject({ value: 2, threshold: 1 });
  });

  it('plans no alert for a conversation within thresholds', () => {
    const { events } = plan(step({ durationSeconds: 120 }, { rating: 5 }));
    expect(types(events)).not.toContain(DetailType.ConversationAlert);
  });

  it('plans Conversation Ended as soon as the end is known, and Completed only once the details are stored', () => {
    // Arrange
    const ended = step({ durationSeconds: 120 });
    const stored_ = step({ durationSeconds: 120 }, { rating: 4, call_successful: 'success' });

    // Act
    const whileFetching = plan(ended);
    const completed = plan(stored_, whileFetching.published, ended.record);
    const redelivered = plan(stored_, completed.published, stored_.record);

    // Assert
    expect(types(whileFetching.events)).toEqual([DetailType.ConversationStarted, DetailType.ConversationEnded]);
    expect(whileFetching.events[1]?.detail).toMatchObject({
      conversation_id: 'conv_1',
      ended_at: ended.record.ended_at,
      duration_seconds: 120,
      escalated: false,
    });
    expect(types(completed.events)).toEqual([DetailType.ConversationCompleted]);
    expect(completed.events[0]).toMatchObject({ time: stored_.record.ended_at, detail: { ...stored_.record, schema_version: SCHEMA_VERSION } });
    expect(completed.published.completed).toBe(true);
    expect(redelivered.events).toEqual([]);
  });

  it('plans Started and Completed together when the first event seen already completes the conversation', () => {
    expect(types(plan(step({ durationSeconds: 60 }, { rating: 4 })).events)).toEqual([
      DetailType.ConversationStarted,
      DetailType.ConversationEnded,
      DetailType.ConversationCompleted,
    ]);
  });

  it('plans Conversation Updated for a correction after completion, and nothing for an unchanged record', () => {
    // Arrange
    const original = step({ durationSeconds: 120 }, { rating: 4 });
    const { published } = plan(original);
    const corrected = step({ durationSeconds: 120 }, { rating: 5 });

    // Act
    const update = plan(corrected, published, original.record);
    const unchanged = plan(corrected, published, corrected.record);

    // Assert
    expect(types(update.events)).toEqual([DetailType.ConversationUpdated]);
    expect(update.events[0]?.detail).toMatchObject({ conversation_id: 'conv_1', satisfaction_score: 5 });
    expect(unchanged.events).toEqual([]);
  });

  it('does not take a completed record read back with its fields in another order for a change', () => {
    // Arrange: the store returns maps in no particular order
    const s = step({ durationSeconds: 120 }, { rating: 4 });
    const { published } = plan(s);
    const readBack = Object.fromEntries(Object.entries(s.record).reverse()) as unknown as ConversationRecord;

    // Act / Assert
    expect(plan(s, published, readBack).events).toEqual([]);
  });

  it('gives deterministic event ids: the same inputs give the same ids', () => {
    // Arrange
    const s = step({ durationSeconds: 900, escalate: true }, { rating: 1 });

    // Act
    const a = plan(s).events.map((e) => e.detail.event_id);
    const b = plan(step({ durationSeconds: 900, escalate: true }, { rating: 1 })).events.map((e) => e.detail.event_id);

    // Assert
    expect(a).toEqual(b);
    expect(a).toHaveLength(7); // started, ended, escalated, 3 alerts, completed
    expect(new Set(a).size).toBe(a.length);
    for (const id of a) expect(id).toMatch(UUID);
  });

  it('gives another conversation other event ids', () => {
    const a = plan(step({ conversationId: 'conv_1', escalate: true }, { rating: 1 })).events.map((e) => e.detail.event_id);
    const b = plan(step({ conversationId: 'conv_2', escalate: true }, { rating: 1 })).events.map((e) => e.detail.event_id);
    expect(a.filter((id) => b.includes(id))).toEqual([]);
  });

  it('gives a Conversation Completed the same id whenever it is re-planned (outbox replay after a crash)', () => {
    const s = step({}, { rating: 4 });
    const completedId = (p: ReturnType<typeof plan>) => p.events.find((e) => e.detailType === DetailType.ConversationCompleted)?.detail.event_id;
    expect(completedId(plan(s, { ...nothingPublished(), started: true }))).toBe(completedId(plan(s)));
  });

  it('puts schema_version on every event', () => {
    const { events } = plan(step({ durationSeconds: 900, escalate: true }, { rating: 1 }));
    for (const e of events) expect(e.detail.schema_version).toBe(SCHEMA_VERSION);
  });
});

describe('planWebhookEvents', () => {
  const redactFields = new Set(['phone_number', 'caller_id']);

  it('always plans a ThreeTone Event as received, with personal fields redacted at any depth', () => {
    // Arrange
    const env = envelope(
      'call_started',
      {
        call_id: 'call_1',
        Phone_Number: '+15555550100',
        caller_id: '+15555550101',
        customer: { phone_number: '+15555550102', name: 'Ada' },
        legs: [{ phone_number: '+15555550103', carrier: 'x' }],
        absent: { phone_number: null },
      },
      '2024-01-15T10:30:00Z',
    );
    const original = structuredClone(env);

    // Act
    const events = planWebhookEvents({ envelope: env, key: 'k1', timestampIso: '2024-01-15T10:30:00.000Z', redactFields });

    // Assert
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      detailType: DetailType.ThreeToneEvent,
      time: '2024-01-15T10:30:00.000Z',
      detail: {
        event: 'call_started',
        timestamp: '2024-01-15T10:30:00Z',
        data: {
          call_id: 'call_1',
          Phone_Number: REDACTED,
          caller_id: REDACTED,
          customer: { phone_number: REDACTED, name: 'Ada' },
          legs: [{ phone_number: REDACTED, carrier: 'x' }],
          absent: { phone_number: null },
        },
        schema_version: SCHEMA_VERSION,
      },
    });
    expect(JSON.stringify(events)).not.toContain('+1555555');
    expect(env).toEqual(original);
  });

  it('passes data through untouched when redaction is off', () => {
    const env = envelope('call_started', { phone_number: '+15555550100' }, 1705314600);
    const [e] = planWebhookEvents({ envelope: env, key: 'k', timestampIso: '2024-01-15T10:30:00.000Z', redactFields: new Set() });
    expect(e?.detail.data).toEqual({ phone_number: '+15555550100' });
  });

  it('derives the event id from the event key', () => {
    const env = envelope('agent_busy', { agent_id: 'a' }, '2024-01-15T10:30:00Z');
    const id = (key: string) => planWebhookEvents({ envelope: env, key, timestampIso: NOW, redactFields })[0]?.detail.event_id;
    expect(id('k1')).toBe(id('k1'));
    expect(id('k1')).not.toBe(id('k2'));
  });

  it.each(['system_error', 'quota_exceeded', 'maintenance_scheduled'])('adds a Platform Alert for %s', (event) => {
    // Arrange
    const env = envelope(event, { message: 'Upstream degraded', region: 'eu', phone_number: '+15555550100' }, '2024-01-15T10:30:00Z');

    // Act
    const events = planWebhookEvents({ envelope: env, key: `k-${event}`, timestampIso: NOW, redactFields });

    // Assert
    expect(types(events)).toEqual([DetailType.ThreeToneEvent, DetailType.PlatformAlert]);
    expect(events[1]?.detail).toMatchObject({
      alert_type: event,
      message: 'Upstream degraded',
      source: { event, timestamp: '2024-01-15T10:30:00Z', data: { region: 'eu', phone_number: REDACTED } },
      schema_version: SCHEMA_VERSION,
    });
    expect(events[1]?.detail.event_id).not.toBe(events[0]?.detail.event_id);
  });

  it('words a Platform Alert from the event name when the data has no message', () => {
    const [, alert] = planWebhookEvents({ envelope: envelope('quota_exceeded', { usage: 101 }, 1), key: 'k', timestampIso: NOW, redactFields });
    expect(alert?.detail.message).toBe('quota exceeded');
  });

  it.each(['conversation_started', 'call_ended', 'agent_busy', 'escalation_triggered', 'some_future_event'])('adds no Platform Alert for %s', (event) => {
    const events = planWebhookEvents({ envelope: envelope(event, { conversation_id: 'c' }, 1), key: 'k', timestampIso: NOW, redactFields });
    expect(types(events)).toEqual([DetailType.ThreeToneEvent]);
  });
});

describe('redact', () => {
  it('leaves scalars, and everything when no field is configured, as they are', () => {
    const value = { phone_number: '1' };
    expect(redact(value, new Set())).toBe(value);
    expect(redact('x', new Set(['x']))).toBe('x');
    expect(redact(null, new Set(['x']))).toBeNull();
  });

  it('replaces a whole object or array held by a redacted field', () => {
    expect(redact({ transcript: [{ message: 'hi' }], keep: 1 }, new Set(['transcript']))).toEqual({ transcript: REDACTED, keep: 1 });
  });
});

describe('deadLetterAlert', () => {
  it('is a Platform Alert with a deterministic id per message', () => {
    const input = { messageId: 'm1', receiveCount: 5, event: 'conversation_ended', conversationId: 'conv_1', error: 'Boom', now: NOW };
    const a = deadLetterAlert(input);
    expect(a).toMatchObject({ detailType: DetailType.PlatformAlert, time: NOW, detail: { alert_type: 'dead_lettered', source: { message_id: 'm1', conversation_id: 'conv_1', receive_count: 5 } } });
    expect(deadLetterAlert(input).detail.event_id).toBe(a.detail.event_id);
    expect(deadLetterAlert({ ...input, messageId: 'm2' }).detail.event_id).not.toBe(a.detail.event_id);
  });
});
