import { describe, expect, it } from 'vitest';
import { foldConversation, type WebhookState } from '#core/conversation-state.js';
import { normalizeDetails, normalizeTranscript } from '#core/normalize-details.js';
import { alertsFor, buildRecord, orderedRecord, sortTime, type RecordInput } from '#core/record.js';
import { transcriptMetrics } from '#core/transcript-metrics.js';
import type { NormalizedDetails } from '#core/types.js';
import { conversationScript, envelope, stored } from '#test/helpers/envelopes.js';

const CONV = 'conv_1';
const T0 = Date.UTC(2024, 0, 15, 10, 0);
const iso = (offsetSecs: number) => new Date(T0 + offsetSecs * 1000).toISOString();
const THRESHOLDS = { longDurationSeconds: 600, lowSatisfaction: 2.5 };

/** Webhook state of a conversation that started at T0 and ended `durationSeconds` later. */
function endedState(opts: { durationSeconds?: number; endData?: Record<string, unknown>; escalate?: boolean } = {}): WebhookState {
  const duration = opts.durationSeconds ?? 180;
  const events = [
    envelope('conversation_started', { conversation_id: CONV, agent_id: 'agent_a', call_id: 'call_1', direction: 'inbound' }, iso(0)),
    envelope('conversation_ended', { conversation_id: CONV, ...opts.endData }, iso(duration)),
  ];
  if (opts.escalate) events.push(envelope('escalation_triggered', { conversation_id: CONV, reason: 'asked for a human' }, iso(10)));
  return foldConversation(CONV, events.map((e) => stored(e)));
}

function details(raw: Record<string, unknown>): Omit<NormalizedDetails, 'transcript'> {
  const { transcript: _t, ...rest } = normalizeDetails(CONV, raw);
  return rest;
}

const build = (input: Partial<RecordInput> & Pick<RecordInput, 'state'>) =>
  buildRecord({ conversationId: CONV, details: null, transcript: null, thresholds: THRESHOLDS, ...input });

const TURNS = normalizeTranscript([
  { role: 'agent', message: 'Hello', time_in_call_secs: 0 },
  { role: 'user', message: 'Hi', time_in_call_secs: 2 },
  { role: 'agent', message: 'How can I help?', time_in_call_secs: 3 },
  { role: 'user', message: 'Billing', time_in_call_secs: 6, interrupted: true },
])!;
const TRANSCRIPT = { turns: TURNS.length, metrics: transcriptMetrics(TURNS) };

describe('buildRecord: sources and precedence', () => {
  it('builds a complete record from webhooks, details and transcript', () => {
    // Arrange
    const state = endedState({ durationSeconds: 180 });
    const d = details({ agent_id: 'agent_a', call_duration_secs: 175, message_count: 4, call_successful: 'success', rating: 4, topics: ['billing'], call_summary_title: 'Billing' });

    // Act
    const record = build({ state, details: d, transcript: TRANSCRIPT });

    // Assert
    expect(record).toEqual({
      conversation_id: CONV,
      agent_id: 'agent_a',
      call_id: 'call_1',
      status: 'ended',
      direction: 'inbound',
      started_at: iso(0),
      ended_at: iso(180),
      duration_seconds: 175,
      turn_count: 4,
      resolution_status: 'resolved',
      satisfaction_score: 4,
      topics: ['billing'],
      escalated: false,
      escalation_reason: null,
      alerts: [],
      transcript_turns: 4,
      summary: 'Billing',
      details_stored: true,
      enrichment: 'done',
      audio: { status: 'off', content_type: null, size_bytes: null },
      derived: [],
      metrics: { agent_turns: 2, user_turns: 2, interruptions: 1, mean_agent_response_gap_seconds: 1 },
    });
  });

  it('says where its audio stands: pending while AUDIO_ARCHIVE is on, then stored with type and size', () => {
    const state = endedState({ durationSeconds: 180 });
    expect(build({ state, audio: { state: undefined, archiveEnabled: true } }).audio).toEqual({ status: 'pending', content_type: null, size_bytes: null });
    const stored = build({ state, audio: { state: { stored: { content_type: 'audio/mpeg', size_bytes: 1234 } }, archiveEnabled: false } });
    expect(stored.audio).toEqual({ status: 'stored', content_type: 'audio/mpeg', size_bytes: 1234 });
    expect(Object.keys(stored).indexOf('audio')).toBe(Object.keys(stored).indexOf('enrichment') + 1);
  });

  it('lets details override what the webhooks hinted', () => {
    // Arrange: the end webhook says 100 s, satisfaction 1, agent_b; the API says otherwise
    const state = endedState({ endData: { duration_seconds: 100, satisfaction_score: 1, turn_count: 3, resolution_status: 'unresolved', topics: ['x'] } });
    const d = details({ duration_seconds: 170, satisfaction_score: 4.5, turn_count: 9, resolution_status: 'resolved', topics: ['billing'], started_at: iso(-10), direction: 'outbound', agent_id: 'agent_z' });

    // Act
    const record = build({ state, details: d });

    // Assert
    expect(record).toMatchObject({
      duration_seconds: 170,
      satisfaction_score: 4.5,
      turn_count: 9,
      resolution_status: 'resolved',
      topics: ['billing'],
      started_at: iso(-10),
      direction: 'outbound',
      agent_id: 'agent_z',
    });
  });

  it('falls back to webhook hints for what the details lack', () => {
    const state = endedState({ endData: { duration_seconds: 100, satisfaction_score: 3, topics: ['refund'] } });
    const record = build({ state, details: details({ call_successful: 'failure' }) });
    expect(record).toMatchObject({ duration_seconds: 100, satisfaction_score: 3, topics: ['refund'], resolution_status: 'unresolved', derived: [] });
  });

  it('derives the duration from start and end when no one gives it, and says so', () => {
    // Arrange
    const state = endedState({ durationSeconds: 95 });

    // Act
    const record = build({ state, details: details({ rating: 5 }) });

    // Assert
    expect(record.duration_seconds).toBe(95);
    expect(record.derived).toEqual(['duration_seconds']);
  });

  it('derives the duration from the details\u2019 own times when they have them', () => {
    const state = endedState({ durationSeconds: 95 });
    const record = build({ state, details: details({ started_at: iso(5), ended_at: iso(65) }) });
    expect(record).toMatchObject({ duration_seconds: 60, derived: ['duration_seconds'] });
  });

  it('does not derive a negative duration', () => {
    const state = endedState({ durationSeconds: 95 });
    const record = build({ state, details: details({ started_at: iso(200) }) });
    expect(record.duration_seconds).toBeNull();
    expect(record.derived).not.toContain('duration_seconds');
  });

  it('derives the turn count from the transcript when no one gives it, and says so', () => {
    const record = build({ state: endedState(), details: details({}), transcript: TRANSCRIPT });
    expect(record).toMatchObject({ turn_count: 4, transcript_turns: 4 });
    expect(record.derived).toContain('turn_count');
  });

  it('does not list a metric as derived when the platform gave it', () => {
    const record = build({ state: endedState(), details: details({ duration_seconds: 1, turn_count: 2 }), transcript: TRANSCRIPT });
    expect(record.derived).toEqual([]);
  });

  it('has no end, no duration and no details while the conversation is active', () => {
    // Arrange
    const state = foldConversation(CONV, conversationScript({ conversationId: CONV, start: iso(0), ongoing: true }).map((e) => stored(e)));

    // Act
    const record = build({ state });

    // Assert
    expect(record).toMatchObject({ status: 'active', ended_at: null, duration_seconds: null, details_stored: false, topics: [], escalated: false, metrics: null });
  });

  it('marks details_stored only when details are given', () => {
    expect(build({ state: endedState() }).details_stored).toBe(false);
    expect(build({ state: endedState(), details: details({}) }).details_stored).toBe(true);
  });

  it('keeps the webhook call id over the details\u2019 one (it links call_* events)', () => {
    const record = build({ state: endedState(), details: details({ call_id: 'call_from_api' }) });
    expect(record.call_id).toBe('call_1');
  });

  it('reports the earliest escalation\u2019s reason', () => {
    const state = foldConversation(CONV, [
      stored(envelope('escalation_triggered', { conversation_id: CONV, reason: 'second' }, iso(50))),
      stored(envelope('escalation_triggered', { conversation_id: CONV, reason: 'first' }, iso(20))),
    ]);
    expect(build({ state })).toMatchObject({ escalated: true, escalation_reason: 'first' });
  });

  it('is escalated when the details say so even without an escalation webhook', () => {
    expect(build({ state: endedState(), details: details({ analysis: { escalated: true } }) }).escalated).toBe(true);
    expect(build({ state: endedState({ endData: { escalated: true } }) }).escalated).toBe(true);
    expect(build({ state: endedState({ endData: { escalated: true } }), details: details({ escalated: false }) }).escalated).toBe(false);
  });
});

describe('alerts', () => {
  it.each([
    [600, false],
    [600.001, true],
    [1200, true],
  ])('raises long_duration for %d s only strictly above the 600 s threshold (%s)', (duration, expected) => {
    const record = build({ state: endedState(), details: details({ duration_seconds: duration }) });
    expect(record.alerts.includes('long_duration')).toBe(expected);
  });

  it.each([
    [2.5, false],
    [2.499, true],
    [1, true],
    [0, true],
  ])('raises low_satisfaction for %d only strictly below the 2.5 threshold (%s)', (score, expected) => {
    const record = build({ state: endedState(), details: details({ satisfaction_score: score }) });
    expect(record.alerts.includes('low_satisfaction')).toBe(expected);
  });

  it('raises escalation when the conversation was escalated', () => {
    expect(build({ state: endedState({ escalate: true }), details: details({}) }).alerts).toEqual(['escalation']);
    expect(build({ state: endedState(), details: details({}) }).alerts).toEqual([]);
  });

  it('raises no alert for a missing value', () => {
    expect(alertsFor({ duration_seconds: null, satisfaction_score: null, escalated: false }, THRESHOLDS)).toEqual([]);
  });

  it('uses the configured thresholds', () => {
    const r = { duration_seconds: 100, satisfaction_score: 4, escalated: true };
    expect(alertsFor(r, { longDurationSeconds: 99, lowSatisfaction: 4.5 })).toEqual(['long_duration', 'low_satisfaction', 'escalation']);
  });
});

describe('sortTime', () => {
  it('is the start, else the end, else the first event seen', () => {
    const state = endedState();
    const record = build({ state });
    expect(sortTime(record, state)).toBe(iso(0));
    expect(sortTime({ ...record, started_at: null }, state)).toBe(iso(180));
    expect(sortTime({ ...record, started_at: null, ended_at: null }, state)).toBe(state.first_event_at);
  });
});

describe('orderedRecord', () => {
  it('puts a record read back in any field order into the documented order, keeping extra fields last', () => {
    // Arrange
    const record = build({ state: endedState(), details: details({ rating: 4 }) });
    const shuffled = { extra: 1, ...Object.fromEntries(Object.entries(record).reverse()) } as unknown as typeof record;

    // Act
    const ordered = orderedRecord(shuffled);

    // Assert
    expect(ordered).toStrictEqual({ ...record, extra: 1 });
    expect(Object.keys(ordered)).toEqual([...Object.keys(record), 'extra']);
  });
});
