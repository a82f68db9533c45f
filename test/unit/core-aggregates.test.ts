import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AgentDay,
  type AggregateDelta,
  agentMetrics,
  aggregateDelta,
  type Contribution,
  contributionOf,
  COUNTERS,
  type Counter,
  emptyCounters,
  UNKNOWN_AGENT,
} from '#core/aggregates.js';
import type { ConversationRecord } from '#core/types.js';
import { conversationRecord } from '#test/helpers/records.js';

const record = (overrides: Partial<ConversationRecord> = {}): ConversationRecord =>
  conversationRecord({
    started_at: '2024-01-15T23:58:00.000Z',
    ended_at: '2024-01-16T00:01:00.000Z',
    duration_seconds: 180.5,
    turn_count: 12,
    satisfaction_score: 4.2,
    topics: ['refund', 'billing', 'refund'],
    transcript_turns: 12,
    ...overrides,
  });

function contribution(overrides: Partial<Contribution> = {}): Contribution {
  return {
    agent_id: 'agent_a',
    date: '2024-01-16',
    resolved: 1,
    duration_ms: 180_000,
    turns: 12,
    satisfaction_milli: 4200,
    escalated: 0,
    topics: ['billing'],
    ...overrides,
  };
}

/** Applies deltas to buckets the way the store does: add every counter and topic count. */
function applyAll(deltas: readonly AggregateDelta[], buckets = new Map<string, AgentDay & { agentId: string }>()) {
  for (const d of deltas) {
    const id = `${d.agentId}#${d.date}`;
    const b = buckets.get(id) ?? { agentId: d.agentId, date: d.date, counters: emptyCounters(), topics: {} };
    for (const [k, v] of Object.entries(d.counters)) b.counters[k as Counter] += v;
    for (const [t, v] of Object.entries(d.topics)) b.topics[t] = (b.topics[t] ?? 0) + v;
    buckets.set(id, b);
  }
  return buckets;
}

/** A bucket's content with zeros removed, for comparing "what is stored" regardless of zero entries. */
const nonZero = (b: { counters: Record<string, number>; topics: Record<string, number> }) => ({
  counters: Object.fromEntries(Object.entries(b.counters).filter(([, v]) => v !== 0)),
  topics: Object.fromEntries(Object.entries(b.topics).filter(([, v]) => v !== 0)),
});

describe('contributionOf', () => {
  it('turns an ended, stored record into integer counters for the UTC day of its end', () => {
    expect(contributionOf(record())).toEqual({
      agent_id: 'agent_a',
      date: '2024-01-16',
      resolved: 1,
      duration_ms: 180_500,
      turns: 12,
      satisfaction_milli: 4200,
      escalated: 0,
      topics: ['billing', 'refund'],
    });
  });

  it('does not count an active conversation', () => {
    expect(contributionOf(record({ status: 'active', ended_at: null }))).toBeNull();
  });

  it('does not count an ended conversation whose details are not stored yet', () => {
    expect(contributionOf(record({ details_stored: false, enrichment: 'pending' }))).toBeNull();
    expect(contributionOf(record({ details_stored: false, enrichment: 'gave_up' }))?.agent_id).toBe('agent_a');
  });

  it('keeps missing metrics as null (not zero) and files an unknown agent under "unknown"', () => {
    const c = contributionOf(record({ agent_id: null, duration_seconds: null, turn_count: null, satisfaction_score: null, resolution_status: 'unknown', escalated: true }));
    expect(c).toMatchObject({ agent_id: UNKNOWN_AGENT, duration_ms: null, turns: null, satisfaction_milli: null, resolved: 0, escalated: 1 });
  });

  it('counts only "resolved" as resolved', () => {
    for (const s of ['unresolved', 'unknown', null, 'escalated']) expect(contributionOf(record({ resolution_status: s }))?.resolved).toBe(0);
  });
});

describe('aggregateDelta', () => {
  it('adds a new contribution', () => {
    expect(aggregateDelta(null, contribution())).toEqual([
      {
        agentId: 'agent_a',
        date: '2024-01-16',
        counters: {
          conversations: 1,
          resolved: 1,
          duration_ms_sum: 180_000,
          duration_n: 1,
          turns_sum: 12,
          turns_n: 1,
          satisfaction_milli_sum: 4200,
          satisfaction_n: 1,
          escalations: 0,
        },
        topics: { billing: 1 },
      },
    ]);
  });

  it('subtracts a withdrawn contribution', () => {
    // Act
    const deltas = aggregateDelta(contribution({ satisfaction_milli: null }), null);

    // Assert
    expect(deltas).toHaveLength(1);
    expect(deltas[0]).toMatchObject({ agentId: 'agent_a', date: '2024-01-16', topics: { billing: -1 } });
    expect(nonZero({ counters: deltas[0]!.counters as Record<string, number>, topics: {} }).counters).toEqual({
      conversations: -1,
      resolved: -1,
      duration_ms_sum: -180_000,
      duration_n: -1,
      turns_sum: -12,
      turns_n: -1,
    });
  });

  it('gives nothing when neither side counts', () => {
    expect(aggregateDelta(null, null)).toEqual([]);
  });

  it('gives nothing for an identical contribution (a redelivery)', () => {
    expect(aggregateDelta(contribution(), contribution())).toEqual([]);
  });

  it('gives only the changed fields for a correction in the same bucket', () => {
    // Arrange: satisfaction 4.2 → 3.0; a topic replaced
    const before = contribution({ topics: ['billing', 'outage'] });
    const after = contribution({ satisfaction_milli: 3000, topics: ['billing', 'refund'] });

    // Act / Assert
    expect(aggregateDelta(before, after)).toEqual([
      { agentId: 'agent_a', date: '2024-01-16', counters: { satisfaction_milli_sum: -1200 }, topics: { outage: -1, refund: 1 } },
    ]);
  });

  it('adds the count as well as the sum when a missing metric appears', () => {
    const [d] = aggregateDelta(contribution({ turns: null }), contribution({ turns: 7 }));
    expect(d?.counters).toEqual({ turns_sum: 7, turns_n: 1 });
  });

  it('moves the whole contribution when the day changes', () => {
    const before = contribution();
    const after = contribution({ date: '2024-01-17' });
    const deltas = aggregateDelta(before, after);
    expect(deltas.map((d) => [d.date, d.counters.conversations])).toEqual([
      ['2024-01-16', -1],
      ['2024-01-17', 1],
    ]);
    expect(deltas[0]).toEqual(aggregateDelta(before, null)[0]);
    expect(deltas[1]).toEqual(aggregateDelta(null, after)[0]);
  });

  it('moves the whole contribution when the agent changes', () => {
    const deltas = aggregateDelta(contribution(), contribution({ agent_id: 'agent_b' }));
    expect(deltas.map((d) => [d.agentId, d.counters.conversations])).toEqual([
      ['agent_a', -1],
      ['agent_b', 1],
    ]);
  });

  it('sums to exactly the final contribution over any chain of corrections (property)', () => {
    // Arrange
    const contributionArb = fc.record({
      agent_id: fc.constantFrom('agent_a', 'agent_b'),
      date: fc.constantFrom('2024-01-15', '2024-01-16'),
      resolved: fc.constantFrom<0 | 1>(0, 1),
      duration_ms: fc.option(fc.integer({ min: 0, max: 3_600_000 })),
      turns: fc.option(fc.integer({ min: 0, max: 100 })),
      satisfaction_milli: fc.option(fc.integer({ min: 1000, max: 5000 })),
      escalated: fc.constantFrom<0 | 1>(0, 1),
      topics: fc.subarray(['billing', 'outage', 'refund']),
    });

    fc.assert(
      fc.property(fc.array(fc.option(contributionArb, { freq: 4 }), { minLength: 1, maxLength: 8 }), (chain) => {
        // Act: null → c0 → c1 → ... → cn, each step applied as a delta
        const deltas: AggregateDelta[] = [];
        let prev: Contribution | null = null;
        for (const next of chain) {
          deltas.push(...aggregateDelta(prev, next));
          prev = next;
        }
        const buckets = applyAll(deltas);

        // Assert: every bucket holds the final contribution and nothing else
        const final = chain[chain.length - 1] ?? null;
        const expected = final ? applyAll(aggregateDelta(null, final)) : new Map();
        const ids = new Set([...buckets.keys(), ...expected.keys()]);
        for (const id of ids) {
          const got = buckets.get(id);
          const want = expected.get(id);
          expect(got ? nonZero(got) : { counters: {}, topics: {} }).toEqual(want ? nonZero(want) : { counters: {}, topics: {} });
        }
        if (final) {
          const b = buckets.get(`${final.agent_id}#${final.date}`)!;
          expect(b.counters.conversations).toBe(1);
          expect(b.counters.duration_ms_sum).toBe(final.duration_ms ?? 0);
          expect(b.counters.satisfaction_n).toBe(final.satisfaction_milli === null ? 0 : 1);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('agentMetrics', () => {
  const day = (date: string, counters: Partial<Record<Counter, number>>, topics: Record<string, number> = {}): AgentDay => ({
    date,
    counters: { ...emptyCounters(), ...counters },
    topics,
  });

  it('sums counters and averages over the conversations that have each value', () => {
    // Arrange: 3 conversations; durations for 3, turns for 2, satisfaction for 1
    const days = [
      day('2024-01-16', { conversations: 1, resolved: 0, duration_ms_sum: 60_000, duration_n: 1, escalations: 1 }, { refund: 1 }),
      day('2024-01-15', { conversations: 2, resolved: 2, duration_ms_sum: 240_500, duration_n: 2, turns_sum: 30, turns_n: 2, satisfaction_milli_sum: 4200, satisfaction_n: 1 }, { billing: 2, refund: 1 }),
    ];

    // Act
    const m = agentMetrics('agent_a', '2024-01-15', '2024-01-16', days);

    // Assert
    expect(m).toMatchObject({
      agent_id: 'agent_a',
      from: '2024-01-15',
      to: '2024-01-16',
      conversations: 3,
      resolved: 2,
      resolution_rate: 0.6667,
      avg_duration_seconds: 100.1667, // 300.5 s / 3
      avg_turn_count: 15, // over 2, not 3
      avg_satisfaction: 4.2, // over 1, not 3
      escalations: 1,
      topics: { billing: 2, refund: 2 },
    });
  });

  it('lists days in ascending order with their own figures', () => {
    const m = agentMetrics('agent_a', '2024-01-01', '2024-01-31', [
      day('2024-01-20', { conversations: 1, resolved: 1 }),
      day('2024-01-03', { conversations: 2, resolved: 1, satisfaction_milli_sum: 9000, satisfaction_n: 2 }, { billing: 1 }),
    ]);
    expect(m.days).toEqual([
      { date: '2024-01-03', conversations: 2, resolved: 1, resolution_rate: 0.5, avg_duration_seconds: null, avg_turn_count: null, avg_satisfaction: 4.5, escalations: 0, topics: { billing: 1 } },
      { date: '2024-01-20', conversations: 1, resolved: 1, resolution_rate: 1, avg_duration_seconds: null, avg_turn_count: null, avg_satisfaction: null, escalations: 0, topics: {} },
    ]);
  });

  it('omits days whose conversations were all corrected away, and topics at zero', () => {
    const m = agentMetrics('agent_a', '2024-01-15', '2024-01-16', [
      day('2024-01-15', { conversations: 0 }, { billing: 0 }),
      day('2024-01-16', { conversations: 1 }, { billing: 0, refund: 1 }),
    ]);
    expect(m.days.map((d) => d.date)).toEqual(['2024-01-16']);
    expect(m.topics).toEqual({ refund: 1 });
  });

  it('gives zeros and nulls when there is nothing', () => {
    expect(agentMetrics('agent_a', '2024-01-15', '2024-01-16', [])).toEqual({
      agent_id: 'agent_a',
      from: '2024-01-15',
      to: '2024-01-16',
      conversations: 0,
      resolved: 0,
      resolution_rate: null,
      avg_duration_seconds: null,
      avg_turn_count: null,
      avg_satisfaction: null,
      escalations: 0,
      topics: {},
      days: [],
    });
  });

  it('reports exactly the current records after corrections and redeliveries', () => {
    // Arrange: two conversations; the first is corrected (satisfaction 2 → 4), one is redelivered
    const a1 = contributionOf(record({ conversation_id: 'a', satisfaction_score: 2, duration_seconds: 100 }));
    const a2 = contributionOf(record({ conversation_id: 'a', satisfaction_score: 4, duration_seconds: 100 }));
    const b = contributionOf(record({ conversation_id: 'b', satisfaction_score: null, duration_seconds: 300, resolution_status: 'unresolved', topics: ['outage'] }));
    const deltas = [...aggregateDelta(null, a1), ...aggregateDelta(a1, a2), ...aggregateDelta(null, b), ...aggregateDelta(b, b)];

    // Act
    const buckets = [...applyAll(deltas).values()].filter((x) => x.agentId === 'agent_a');
    const m = agentMetrics('agent_a', '2024-01-16', '2024-01-16', buckets);

    // Assert
    expect(m).toMatchObject({ conversations: 2, resolved: 1, resolution_rate: 0.5, avg_duration_seconds: 200, avg_satisfaction: 4, topics: { billing: 1, outage: 1, refund: 1 } });
  });

  it('has a counter for every field it sums', () => {
    expect(Object.keys(emptyCounters()).sort()).toEqual([...COUNTERS].sort());
  });
});
