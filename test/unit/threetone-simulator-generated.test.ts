/**
 * The simulator's pure parts, without its HTTP server: the fold of mirrored webhooks, the facts and
 * response bodies generated from the seed, and the fault injector.
 */
import { describe, expect, it } from 'vitest';
import { createFaultInjector } from '#local/threetone-simulator/faults.js';
import { detailsOf, factsOf, listItemOf, summaryOf, transcriptOf } from '#local/threetone-simulator/generated.js';
import { createObservedState, observe, type Observed, type SimulatorEnvelope } from '#local/threetone-simulator/observed.js';

const NOW_MS = Date.parse('2024-01-15T12:00:00.000Z');
const now = () => NOW_MS;

const envelope = (event: string, timestamp: string | number, data: Record<string, unknown>): SimulatorEnvelope => ({ event, timestamp, data });

/** The one conversation the envelopes describe, folded into a fresh state. */
function observedFrom(...envelopes: SimulatorEnvelope[]): Observed {
  const state = createObservedState();
  for (const e of envelopes) observe(state, e, now);
  const [only, ...others] = state.conversations.values();
  if (!only || others.length > 0) throw new Error(`expected one conversation, got ${state.conversations.size}`);
  return only;
}

/** A finished conversation: started 10:30:00, ended 10:33:00 (180 s). */
const finished = (id: string, endData: Record<string, unknown> = {}) =>
  observedFrom(
    envelope('conversation_started', '2024-01-15T10:30:00Z', { conversation_id: id, agent_id: 'agent-1' }),
    envelope('conversation_ended', '2024-01-15T10:33:00Z', { conversation_id: id, ...endData }),
  );

describe('observe', () => {
  it('takes the start from event data before any envelope timestamp', () => {
    // Arrange: the data says 10:00; the envelopes say 10:05 and 10:01
    const c = observedFrom(
      envelope('conversation_started', '2024-01-15T10:05:00Z', { conversation_id: 'c1', started_at: '2024-01-15T10:00:00Z' }),
      envelope('call_started', '2024-01-15T10:01:00Z', { conversation_id: 'c1' }),
    );

    // Act
    const f = factsOf(c, 0, now);

    // Assert
    expect(f.startMs).toBe(Date.parse('2024-01-15T10:00:00Z'));
  });

  it('takes the start from a conversation_started timestamp before an earlier call_started one', () => {
    // Arrange
    const c = observedFrom(
      envelope('call_started', '2024-01-15T10:00:00Z', { conversation_id: 'c1' }),
      envelope('conversation_started', '2024-01-15T10:00:05Z', { conversation_id: 'c1' }),
    );

    // Act
    const f = factsOf(c, 0, now);

    // Assert
    expect(f.startMs).toBe(Date.parse('2024-01-15T10:00:05Z'));
  });

  it('takes the start from call_started when no other start is known', () => {
    const c = observedFrom(envelope('call_started', '2024-01-15T10:00:00Z', { conversation_id: 'c1' }));
    expect(factsOf(c, 0, now).startMs).toBe(Date.parse('2024-01-15T10:00:00Z'));
  });

  it('takes the end from event data, then conversation_ended, then call_ended', () => {
    // Arrange: three conversations, each with one fewer source of the end
    const fromData = observedFrom(
      envelope('conversation_ended', '2024-01-15T10:40:00Z', { conversation_id: 'c1', ended_at: '2024-01-15T10:35:00Z' }),
      envelope('call_ended', '2024-01-15T10:45:00Z', { conversation_id: 'c1' }),
    );
    const fromConversationEvent = observedFrom(
      envelope('call_ended', '2024-01-15T10:45:00Z', { conversation_id: 'c2' }),
      envelope('conversation_ended', '2024-01-15T10:40:00Z', { conversation_id: 'c2' }),
    );
    const fromCallEvent = observedFrom(envelope('call_ended', '2024-01-15T10:45:00Z', { conversation_id: 'c3' }));

    // Act / Assert
    expect(factsOf(fromData, 0, now).endMs).toBe(Date.parse('2024-01-15T10:35:00Z'));
    expect(factsOf(fromConversationEvent, 0, now).endMs).toBe(Date.parse('2024-01-15T10:40:00Z'));
    expect(factsOf(fromCallEvent, 0, now).endMs).toBe(Date.parse('2024-01-15T10:45:00Z'));
  });

  it('keeps the earliest start and the latest end across repeated events', () => {
    // Arrange: redeliveries out of order
    const c = observedFrom(
      envelope('conversation_started', '2024-01-15T10:02:00Z', { conversation_id: 'c1' }),
      envelope('conversation_started', '2024-01-15T10:01:00Z', { conversation_id: 'c1' }),
      envelope('conversation_ended', '2024-01-15T10:09:00Z', { conversation_id: 'c1' }),
      envelope('conversation_ended', '2024-01-15T10:08:00Z', { conversation_id: 'c1' }),
    );

    // Act
    const f = factsOf(c, 0, now);

    // Assert
    expect(f.startMs).toBe(Date.parse('2024-01-15T10:01:00Z'));
    expect(f.endMs).toBe(Date.parse('2024-01-15T10:09:00Z'));
  });

  it('reads ISO strings, Unix seconds and Unix milliseconds as the same instant', () => {
    // Arrange
    const ms = Date.parse('2024-01-15T10:30:00Z');

    // Act
    const starts = [ms / 1000, ms, '2024-01-15T10:30:00Z', String(ms / 1000)].map(
      (t) => observedFrom(envelope('conversation_started', t, { conversation_id: 'c1' })).startFromConversationEvent,
    );

    // Assert
    expect(starts).toEqual([ms, ms, ms, ms]);
  });

  it('uses the clock for an envelope timestamp that is not a time', () => {
    const c = observedFrom(envelope('conversation_started', 'not a time', { conversation_id: 'c1' }));
    expect(c.firstSeenMs).toBe(NOW_MS);
    expect(c.startFromConversationEvent).toBe(NOW_MS);
  });

  it('holds call events until a conversation names their call_id, then applies them to it', () => {
    // Arrange
    const state = createObservedState();
    observe(state, envelope('call_started', '2024-01-15T10:00:00Z', { call_id: 'call-9', direction: 'outbound' }), now);
    const before = state.conversations.size;

    // Act
    observe(state, envelope('conversation_started', '2024-01-15T10:00:05Z', { conversation_id: 'c1', call_id: 'call-9' }), now);

    // Assert
    expect(before).toBe(0);
    const c = state.conversations.get('c1');
    expect(c?.callId).toBe('call-9');
    expect(c?.direction).toBe('outbound');
    expect(c?.startFromCallEvent).toBe(Date.parse('2024-01-15T10:00:00Z'));
    expect(state.pendingCallEvents.size).toBe(0);
  });

  it('ignores envelopes that name neither a conversation nor a call', () => {
    const state = createObservedState();
    observe(state, envelope('conversation_started', '2024-01-15T10:00:00Z', { agent_id: 'agent-1' }), now);
    expect(state.conversations.size).toBe(0);
    expect(state.pendingCallEvents.size).toBe(0);
  });
});

describe('factsOf', () => {
  it('gives the same details for the same seed and the same webhooks', () => {
    // Arrange: two separate folds of the same envelopes
    const a = finished('conv-same');
    const b = finished('conv-same');

    // Act
    const first = JSON.stringify(detailsOf(factsOf(a, 7, now)));
    const second = JSON.stringify(detailsOf(factsOf(b, 7, now)));

    // Assert
    expect(second).toBe(first);
  });

  it('generates other values under another seed', () => {
    // Arrange
    const ids = Array.from({ length: 10 }, (_, i) => `conv-${i}`);

    // Act
    const under = (seed: number) => ids.map((id) => JSON.stringify(detailsOf(factsOf(finished(id), seed, now))));

    // Assert: at least one conversation of ten answers differently
    expect(under(2)).not.toEqual(under(1));
  });

  it('echoes what the webhooks said instead of generating it', () => {
    // Arrange
    const c = finished('conv-echo', { duration_seconds: 123, turn_count: 6, satisfaction_score: 4.5, topics: ['billing'], escalated: true });

    // Act
    const f = factsOf(c, 0, now);

    // Assert
    expect(f.duration).toBe(123);
    expect(f.turnCount).toBe(6);
    expect(f.transcript).toHaveLength(6);
    expect(f.satisfaction).toBe(4.5);
    expect(f.rating).toBe(4.5);
    expect(f.topics).toEqual(['billing']);
    expect(f.escalated).toBe(true);
    expect(f.summaryTitle).toBe('billing enquiry');
  });

  it('maps a resolution status onto an outcome, and an outcome onto a resolution status', () => {
    const fromResolution = factsOf(finished('c1', { resolution_status: 'unresolved' }), 0, now);
    const fromOutcome = factsOf(finished('c2', { call_successful: 'success' }), 0, now);
    expect(fromResolution.callSuccessful).toBe('failure');
    expect(fromOutcome.resolutionStatus).toBe('resolved');
  });

  it('measures an ongoing conversation without a duration up to now', () => {
    // Arrange: started an hour before NOW, not ended
    const c = observedFrom(envelope('conversation_started', NOW_MS - 3_600_000, { conversation_id: 'c1' }));

    // Act
    const f = factsOf(c, 0, now);

    // Assert
    expect(f.ended).toBe(false);
    expect(f.endMs).toBeNull();
    expect(f.duration).toBe(3600);
  });

  it('measures an ended conversation from its start to its end', () => {
    expect(factsOf(finished('c1'), 0, now).duration).toBe(180);
  });

  it('keeps generated values within their documented ranges', () => {
    for (let i = 0; i < 50; i++) {
      // Arrange: nothing but the start is known
      const c = observedFrom(envelope('conversation_started', '2024-01-15T10:30:00Z', { conversation_id: `conv-${i}` }));

      // Act
      const f = factsOf(c, 3, now);

      // Assert
      expect(f.turnCount).toBeGreaterThanOrEqual(4);
      expect(f.turnCount).toBeLessThanOrEqual(24);
      expect(f.rating).toBeGreaterThanOrEqual(1);
      expect(f.rating).toBeLessThanOrEqual(5);
      expect(['inbound', 'outbound', 'web']).toContain(f.direction);
      expect(f.agentId).toMatch(/^agent_sim_[123]$/);
      expect(['success', 'failure']).toContain(f.callSuccessful);
    }
  });
});

describe('detailsOf', () => {
  it('answers shape A with the guide’s field names and ISO times', () => {
    // Arrange
    const f = { ...factsOf(finished('conv-a', { duration_seconds: 180 }), 0, now), shape: 'A' as const };

    // Act
    const d = detailsOf(f);

    // Assert
    expect(d.started_at).toBe('2024-01-15T10:30:00.000Z');
    expect(d.ended_at).toBe('2024-01-15T10:33:00.000Z');
    expect(d.duration_seconds).toBe(180);
    expect(d.status).toBe('completed');
    expect(d).toHaveProperty('satisfaction_score');
    expect(d).toHaveProperty('turn_count');
    expect(d).not.toHaveProperty('metadata');
    expect(d).not.toHaveProperty('rating');
    expect(Array.isArray(d.transcript)).toBe(true);
  });

  it('answers shape B with the reference’s field names and Unix seconds', () => {
    // Arrange
    const f = { ...factsOf(finished('conv-b', { duration_seconds: 180 }), 0, now), shape: 'B' as const, omitTranscript: false };

    // Act
    const d = detailsOf(f);

    // Assert
    expect(d.metadata).toMatchObject({ start_time_unix_secs: Date.parse('2024-01-15T10:30:00Z') / 1000, call_duration_secs: 180 });
    expect(d.status).toBe('done');
    expect(d).toHaveProperty('rating');
    expect(d).toHaveProperty('message_count');
    expect(d).toHaveProperty('analysis.call_successful');
    expect(d).not.toHaveProperty('started_at');
    expect(d).not.toHaveProperty('duration_seconds');
    expect(d).not.toHaveProperty('satisfaction_score');
    expect(Array.isArray(d.transcript)).toBe(true);
  });

  it('leaves the transcript out of shape B details only when the facts say so', () => {
    const f = factsOf(finished('conv-omit'), 0, now);
    expect(detailsOf({ ...f, shape: 'B', omitTranscript: true })).not.toHaveProperty('transcript');
    expect(detailsOf({ ...f, shape: 'A', omitTranscript: true })).toHaveProperty('transcript');
  });

  it('keeps a webhook outcome that maps onto no resolution in shape A, and such a resolution in shape B', () => {
    const f = factsOf(finished('conv-odd', { call_successful: 'weird', resolution_status: 'escalated' }), 0, now);
    expect(detailsOf({ ...f, shape: 'A' }).call_successful).toBe('weird');
    expect(detailsOf({ ...f, shape: 'B' }).resolution_status).toBe('escalated');
  });

  it('answers both shapes for some conversations of one seed', () => {
    const shapes = new Set(Array.from({ length: 20 }, (_, i) => factsOf(finished(`conv-${i}`), 0, now).shape));
    expect([...shapes].sort()).toEqual(['A', 'B']);
  });
});

describe('transcriptOf', () => {
  it('writes the asked number of turns, alternating, agent first', () => {
    // Act
    const turns = transcriptOf(0, 'conv-t', 9, 300, 'billing', true);

    // Assert
    expect(turns).toHaveLength(9);
    turns.forEach((t, i) => expect(t.role).toBe(i % 2 === 0 ? 'agent' : 'user'));
  });

  it('puts turn times in increasing order within the duration', () => {
    for (const count of [2, 7, 24]) {
      // Act
      const times = transcriptOf(5, `conv-${count}`, count, 60, undefined, true).map((t) => t.time_in_call_secs);

      // Assert
      times.forEach((t, i) => {
        expect(t).toBeGreaterThanOrEqual(0);
        expect(t).toBeLessThanOrEqual(60);
        if (i > 0) expect(t).toBeGreaterThan(times[i - 1] as number);
      });
    }
  });

  it('opens with a greeting and the topic, and says goodbye only when the conversation ended', () => {
    // Act
    const ended = transcriptOf(0, 'conv-t', 5, 120, 'technical_support', true);
    const ongoing = transcriptOf(0, 'conv-t', 5, 120, 'technical_support', false);

    // Assert
    expect(ended[0]?.message).toBe('Hello, thanks for calling. How can I help you today?');
    expect(ended[1]?.message).toBe('Hi, I have a question about technical support.');
    expect(ended[4]?.message).toBe('Thanks for calling, goodbye.');
    expect(ongoing[4]?.message).not.toBe('Thanks for calling, goodbye.');
  });

  it('never marks the opening turn or a user turn as interrupted', () => {
    const turns = transcriptOf(1, 'conv-i', 40, 600, undefined, true);
    expect(turns[0]?.interrupted).toBe(false);
    for (const t of turns.filter((x) => x.role === 'user')) expect(t.interrupted).toBe(false);
  });
});

describe('listItemOf and summaryOf', () => {
  it('lists a conversation with its Unix start and its outcome', () => {
    // Arrange
    const f = factsOf(finished('conv-l', { resolution_status: 'resolved', topics: ['pricing'] }), 0, now);

    // Act
    const item = listItemOf(f);

    // Assert
    expect(item.start_time_unix_secs).toBe(Date.parse('2024-01-15T10:30:00Z') / 1000);
    expect(item.call_successful).toBe('success');
    expect(item.status).toBe('done');
    expect(item.transcript_summary).toBe('The caller asked about pricing; the agent resolved it.');
  });

  it('says the agent could not resolve a conversation that did not succeed', () => {
    const f = factsOf(finished('conv-s', { call_successful: 'failure' }), 0, now);
    expect(summaryOf(f)).toMatch(/the agent could not resolve it\.$/);
  });
});

describe('createFaultInjector', () => {
  it('fails the next requests in queue order, then none', () => {
    // Arrange
    const faults = createFaultInjector(0);
    faults.controller.failNext(1, '500');
    faults.controller.failNext(1, '429', { retryAfterSeconds: 7 });

    // Act
    const taken = [faults.take(undefined), faults.take(undefined), faults.take(undefined)];

    // Assert
    expect(taken).toEqual([{ kind: '500', retryAfterSeconds: 1 }, { kind: '429', retryAfterSeconds: 7 }, undefined]);
  });

  it('fails only the named conversation’s requests when one is named', () => {
    const faults = createFaultInjector(0);
    faults.controller.failNext(1, 'timeout', { conversationId: 'c1' });
    expect(faults.take('c2')).toBeUndefined();
    expect(faults.take('c1')?.kind).toBe('timeout');
    expect(faults.take('c1')).toBeUndefined();
  });

  it('draws random failures from the seed: the same seed fails the same requests', () => {
    // Arrange
    const draws = (seed: number) => {
      const faults = createFaultInjector(seed);
      faults.controller.setRandomFailureRate(0.5, 'reset');
      return Array.from({ length: 40 }, () => faults.take(undefined)?.kind ?? null);
    };

    // Act
    const a = draws(11);
    const b = draws(11);

    // Assert
    expect(b).toEqual(a);
    expect(a).toContain('reset');
    expect(a).toContain(null);
  });

  it('rejects a negative count, an unknown kind and a probability outside [0, 1]', () => {
    const { controller } = createFaultInjector(0);
    expect(() => controller.failNext(-1, '500')).toThrow(RangeError);
    expect(() => controller.failNext(1, 'nope' as '500')).toThrow(/unknown fault kind/);
    expect(() => controller.setRandomFailureRate(1.5)).toThrow(RangeError);
  });

  it('clears queued faults and the random rate', () => {
    const faults = createFaultInjector(0);
    faults.controller.failNext(3, '500');
    faults.controller.setRandomFailureRate(1);
    faults.controller.clear();
    expect(faults.take(undefined)).toBeUndefined();
  });
});
