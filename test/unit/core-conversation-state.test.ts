import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { END_EVENTS, foldConversation, START_EVENTS, SYNTHETIC_SOURCE } from '#core/conversation-state.js';
import { normalizeDetails, normalizeTranscript } from '#core/normalize-details.js';
import { buildRecord } from '#core/record.js';
import { transcriptMetrics } from '#core/transcript-metrics.js';
import type { Envelope, NormalizedDetails } from '#core/types.js';
import { conversationScript, envelope, stored } from '#test/helpers/envelopes.js';

const CONV = 'conv_1';
const T0 = Date.UTC(2024, 0, 15, 10, 0);
const iso = (offsetSecs: number) => new Date(T0 + offsetSecs * 1000).toISOString();
const THRESHOLDS = { longDurationSeconds: 600, lowSatisfaction: 2.5 };

// ------------------------------------------------------------------ generators

const EVENT_NAMES = [
  'conversation_started',
  'call_started',
  'conversation_ended',
  'call_ended',
  'escalation_triggered',
  'agent_busy',
  'call_transferred',
] as const;

const offsetArb = fc.integer({ min: 0, max: 7200 });

/** One webhook of conversation CONV, with random time, time format and optional data fields. */
const envelopeArb: fc.Arbitrary<Envelope> = fc
  .record({
    event: fc.constantFrom(...EVENT_NAMES),
    offset: offsetArb,
    unixTimestamp: fc.boolean(),
    agent_id: fc.option(fc.constantFrom('agent_a', 'agent_b')),
    direction: fc.option(fc.constantFrom('inbound', 'outbound')),
    duration: fc.option(fc.integer({ min: 0, max: 3000 })),
    satisfaction: fc.option(fc.constantFrom(1, 2.4, 3, 4.5)),
    topics: fc.option(fc.subarray(['billing', 'refund', 'outage'])),
    dataTime: fc.option(offsetArb),
    reason: fc.option(fc.constantFrom('asked for a human', 'angry caller')),
    /** An end the reconciler made up for a missed webhook (one in four end events). */
    synthetic: fc.integer({ min: 0, max: 3 }).map((n) => n === 0),
  })
  .map((s) => {
    const isCall = s.event.startsWith('call_');
    const data: Record<string, unknown> = isCall ? { call_id: 'call_1', conversation_id: CONV } : { conversation_id: CONV };
    if (s.agent_id !== null) data.agent_id = s.agent_id;
    if (s.direction !== null) data.direction = s.direction;
    if (s.duration !== null) data[isCall ? 'duration' : 'duration_seconds'] = s.duration;
    if (s.satisfaction !== null) data.satisfaction_score = s.satisfaction;
    if (s.topics !== null) data.topics = s.topics;
    if (s.dataTime !== null) {
      if (START_EVENTS.has(s.event)) data.started_at = iso(s.dataTime);
      if (END_EVENTS.has(s.event)) data.ended_at = iso(s.dataTime);
      if (s.event === 'escalation_triggered') data.escalated_at = iso(s.dataTime);
    }
    if (s.reason !== null && s.event === 'escalation_triggered') data.reason = s.reason;
    if (s.synthetic && END_EVENTS.has(s.event)) data.source = SYNTHETIC_SOURCE;
    return envelope(s.event, data, s.unixTimestamp ? (T0 + s.offset * 1000) / 1000 : iso(s.offset));
  });

/**
 * A set of events, and the same events delivered another way: permuted, with some delivered again
 * (at-least-once) at random positions.
 */
const deliveriesArb = fc.array(envelopeArb, { minLength: 1, maxLength: 8 }).chain((events) =>
  fc.tuple(
    fc.constant(events),
    fc.shuffledSubarray(events, { minLength: events.length, maxLength: events.length }),
    fc.array(fc.tuple(fc.nat(events.length - 1), fc.nat()), { maxLength: 4 }),
  ).map(([original, permuted, dups]) => {
    const redelivered = [...permuted];
    for (const [which, where] of dups) redelivered.splice(where % (redelivered.length + 1), 0, original[which]!);
    return { original: original.map((e) => stored(e)), redelivered: redelivered.map((e) => stored(e)) };
  }),
);

const TRANSCRIPT = normalizeTranscript([
  { role: 'agent', message: 'Hello', time_in_call_secs: 0 },
  { role: 'user', message: 'Hi, my bill is wrong', time_in_call_secs: 2 },
  { role: 'agent', message: 'Let me look', time_in_call_secs: 4 },
])!;

/** Details as the processor would hold them (normalized, transcript apart), or none yet. */
const detailsArb: fc.Arbitrary<Omit<NormalizedDetails, 'transcript'> | null> = fc.option(
  fc
    .record({
      call_duration_secs: fc.option(fc.integer({ min: 0, max: 3000 })),
      message_count: fc.option(fc.integer({ min: 0, max: 50 })),
      call_successful: fc.option(fc.constantFrom('success', 'failure', 'unknown')),
      rating: fc.option(fc.integer({ min: 1, max: 5 })),
      agent_id: fc.option(fc.constantFrom('agent_a', 'agent_c')),
    })
    .map((raw) => {
      const { transcript: _ignored, ...rest } = normalizeDetails(CONV, raw);
      return rest;
    }),
);

// ------------------------------------------------------------------ properties

describe('foldConversation: order independence (properties)', () => {
  it('folds any permutation with any redeliveries into the same state', () => {
    fc.assert(
      fc.property(deliveriesArb, ({ original, redelivered }) => {
        expect(foldConversation(CONV, redelivered)).toEqual(foldConversation(CONV, original));
      }),
      { numRuns: 150 },
    );
  });

  it('builds the same record from any permutation with any redeliveries', () => {
    fc.assert(
      fc.property(deliveriesArb, detailsArb, fc.boolean(), ({ original, redelivered }, details, withTranscript) => {
        const transcript = withTranscript ? { turns: TRANSCRIPT.length, metrics: transcriptMetrics(TRANSCRIPT) } : null;
        const build = (events: typeof original) =>
          buildRecord({ conversationId: CONV, state: foldConversation(CONV, events), details, transcript, thresholds: THRESHOLDS });
        expect(build(redelivered)).toEqual(build(original));
      }),
      { numRuns: 150 },
    );
  });

  it('never regresses status: with an end event in the set the conversation is ended, whatever the order', () => {
    fc.assert(
      fc.property(deliveriesArb, ({ original, redelivered }) => {
        const hasEnd = original.some((e) => END_EVENTS.has(e.envelope.event));
        expect(foldConversation(CONV, redelivered).status).toBe(hasEnd ? 'ended' : 'active');
      }),
      { numRuns: 150 },
    );
  });

  it('takes started_at as the earliest start time and ended_at as the latest conversation_ended time (else the latest call_ended, else the latest synthetic one)', () => {
    fc.assert(
      fc.property(deliveriesArb, ({ original, redelivered }) => {
        // Arrange: a start/end event's time is its data's started_at/ended_at, else its envelope time
        const timeOf = (e: (typeof original)[number], field: string) => {
          const v = e.envelope.data[field];
          return typeof v === 'string' ? Date.parse(v) : e.timestampMs;
        };
        const starts = original.filter((e) => START_EVENTS.has(e.envelope.event)).map((e) => timeOf(e, 'started_at'));
        const endEvents = original.filter((e) => END_EVENTS.has(e.envelope.event));
        const real = endEvents.filter((e) => e.envelope.data.source !== SYNTHETIC_SOURCE);
        const conversationEnds = real.filter((e) => e.envelope.event === 'conversation_ended').map((e) => timeOf(e, 'ended_at'));
        const callEnds = real.filter((e) => e.envelope.event === 'call_ended').map((e) => timeOf(e, 'ended_at'));
        const ends = conversationEnds.length ? conversationEnds : callEnds.length ? callEnds : endEvents.map((e) => timeOf(e, 'ended_at'));

        // Act
        const state = foldConversation(CONV, redelivered);

        // Assert
        expect(state.started_at).toBe(starts.length ? new Date(Math.min(...starts)).toISOString() : null);
        expect(state.ended_at).toBe(ends.length ? new Date(Math.max(...ends)).toISOString() : null);
        expect(state.first_event_at).toBe(new Date(Math.min(...original.map((e) => e.timestampMs))).toISOString());
      }),
      { numRuns: 150 },
    );
  });

  it('counts each distinct event once, and each distinct escalation once', () => {
    fc.assert(
      fc.property(deliveriesArb, ({ original, redelivered }) => {
        const keys = new Set(original.map((e) => e.key));
        const escalationKeys = new Set(original.filter((e) => e.envelope.event === 'escalation_triggered').map((e) => e.key));
        const state = foldConversation(CONV, redelivered);
        expect(state.event_count).toBe(keys.size);
        expect(state.escalations.map((e) => e.key).sort()).toEqual([...escalationKeys].sort());
      }),
      { numRuns: 150 },
    );
  });

  it('gives the same record for every order of a realistic script (conversation_*, call_* and both)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<'conversation' | 'call' | 'both'>('conversation', 'call', 'both'),
        fc.boolean(),
        fc.constantFrom<'iso' | 'unix'>('iso', 'unix'),
        fc.integer({ min: 1, max: 1200 }),
        (family, escalate, timestampFormat, durationSeconds) => {
          const script = conversationScript({ conversationId: CONV, family, escalate, timestampFormat, durationSeconds }).map((e) => stored(e));
          const reversed = [...script].reverse();
          const doubled = [...script, ...reversed];
          const build = (events: typeof script) =>
            buildRecord({ conversationId: CONV, state: foldConversation(CONV, events), details: null, transcript: null, thresholds: THRESHOLDS });
          expect(build(reversed)).toEqual(build(script));
          expect(build(doubled)).toEqual(build(script));
          expect(build(script)).toMatchObject({ status: 'ended', duration_seconds: durationSeconds, escalated: escalate });
        },
      ),
      { numRuns: 50 },
    );
  });
});

// ------------------------------------------------------------------ examples

describe('foldConversation', () => {
  it('ends at conversation_ended: a trailing call_ended changes nothing; a call_ended alone ends it', () => {
    const data = { conversation_id: CONV, call_id: 'call_1' };
    const start = stored(envelope('call_started', data, iso(0)));
    const end = stored(envelope('conversation_ended', data, iso(240)));
    const callEnd = stored(envelope('call_ended', data, iso(241)));
    const pick = ({ status, started_at, ended_at, hints }: ReturnType<typeof foldConversation>) => ({ status, started_at, ended_at, hints });
    expect(pick(foldConversation(CONV, [start, end, callEnd]))).toEqual(pick(foldConversation(CONV, [start, end])));
    expect(foldConversation(CONV, [start, end, callEnd]).ended_at).toBe(iso(240));
    expect(foldConversation(CONV, [start, callEnd])).toMatchObject({ status: 'ended', ended_at: iso(241) });
  });

  it('folds a realistic script: ids, direction, times, escalation', () => {
    // Arrange
    const events = conversationScript({ conversationId: CONV, agentId: 'agent_a', callId: 'call_9', start: iso(0), durationSeconds: 240, escalate: { reason: 'wants a human', afterSeconds: 60 } });

    // Act
    const state = foldConversation(CONV, events.map((e) => stored(e)));

    // Assert
    expect(state).toMatchObject({
      conversation_id: CONV,
      status: 'ended',
      agent_id: 'agent_a',
      call_id: 'call_9',
      direction: 'inbound',
      started_at: iso(0),
      ended_at: iso(240),
      first_event_at: iso(0),
      event_count: 3,
    });
    expect(state.escalations).toEqual([{ key: stored(events[1]!).key, reason: 'wants a human', escalated_at: iso(60) }]);
    expect(state.hints.duration_seconds).toBe(240);
  });

  it('is active with no times while only a start is known', () => {
    const state = foldConversation(CONV, conversationScript({ conversationId: CONV, start: iso(0), ongoing: true }).map((e) => stored(e)));
    expect(state).toMatchObject({ status: 'active', started_at: iso(0), ended_at: null });
  });

  it('is ended when the end arrives before the start', () => {
    const [started, ended] = conversationScript({ conversationId: CONV, start: iso(0), durationSeconds: 30 });
    const state = foldConversation(CONV, [stored(ended!), stored(started!)]);
    expect(state).toMatchObject({ status: 'ended', started_at: iso(0), ended_at: iso(30) });
  });

  it('prefers a start or end time in the data over the envelope time', () => {
    const state = foldConversation(CONV, [
      stored(envelope('conversation_started', { conversation_id: CONV, started_at: iso(-5) }, iso(1))),
      stored(envelope('conversation_ended', { conversation_id: CONV, ended_at: iso(90) }, iso(95))),
    ]);
    expect([state.started_at, state.ended_at]).toEqual([iso(-5), iso(90)]);
  });

  it('uses a reconciler-made end time only when no real end event says otherwise', () => {
    // Arrange
    const start = stored(envelope('conversation_started', { conversation_id: CONV }, iso(0)));
    const synthetic = stored(envelope('conversation_ended', { conversation_id: CONV, source: SYNTHETIC_SOURCE, ended_at: iso(900) }, iso(3600)));
    const real = stored(envelope('conversation_ended', { conversation_id: CONV }, iso(120)));

    // Act
    const withoutReal = foldConversation(CONV, [start, synthetic]);
    const withReal = foldConversation(CONV, [synthetic, real, start]);

    // Assert
    expect(withoutReal).toMatchObject({ status: 'ended', ended_at: iso(900) });
    expect(withReal).toMatchObject({ status: 'ended', ended_at: iso(120) });
  });

  it('lets the latest event win for agent, direction and metric hints', () => {
    const state = foldConversation(CONV, [
      stored(envelope('conversation_ended', { conversation_id: CONV, agent_id: 'agent_b', satisfaction_score: 2 }, iso(100))),
      stored(envelope('conversation_started', { conversation_id: CONV, agent_id: 'agent_a', direction: 'outbound', satisfaction_score: 5 }, iso(0))),
    ]);
    expect(state.agent_id).toBe('agent_b');
    expect(state.direction).toBe('outbound');
    expect(state.hints.satisfaction_score).toBe(2);
  });

  it('keeps times, status and transcript out of the hints (they are folded separately)', () => {
    const state = foldConversation(CONV, [
      stored(envelope('agent_busy', { conversation_id: CONV, status: 'done', ended_at: iso(50), transcript: [{ role: 'agent', message: 'x' }] }, iso(10))),
    ]);
    expect(state.hints).toMatchObject({ status: null, started_at: null, ended_at: null, transcript: null });
    expect(state.status).toBe('active');
    expect(state.ended_at).toBeNull();
  });

  it('reads an escalation reason from its aliases and falls back to the envelope time', () => {
    const state = foldConversation(CONV, [
      stored(envelope('escalation_triggered', { conversation_id: CONV, escalation_reason: 'policy' }, iso(5))),
      stored(envelope('escalation_triggered', { conversation_id: CONV, message: 'transfer' }, iso(6))),
      stored(envelope('escalation_triggered', { conversation_id: CONV }, iso(7))),
    ]);
    expect(state.escalations.map(({ reason, escalated_at }) => ({ reason, escalated_at }))).toEqual([
      { reason: 'policy', escalated_at: iso(5) },
      { reason: 'transfer', escalated_at: iso(6) },
      { reason: null, escalated_at: iso(7) },
    ]);
  });

  it('gives an empty, active state for no events', () => {
    expect(foldConversation(CONV, [])).toMatchObject({ status: 'active', event_count: 0, started_at: null, ended_at: null, escalations: [] });
  });
});
