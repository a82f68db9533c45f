import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { foldConversation } from '#core/conversation-state.js';
import { eventFacts } from '#core/event-facts.js';
import type { Envelope } from '#core/types.js';
import { envelope, stored } from '#test/helpers/envelopes.js';

const T0 = Date.UTC(2024, 0, 15, 10, 0);
const at = (s: number) => new Date(T0 + s * 1000).toISOString();
const factsOnly = (e: Envelope): Envelope => ({ ...e, data: eventFacts(e.data) });

/** Values of the fields the fold reads, in both documented shapes, next to personal and unknown fields. */
const dataArb = fc.record(
  {
    conversation_id: fc.constant('c1'),
    call_id: fc.constantFrom('call-1', 7),
    agent_id: fc.constantFrom('a1', 'a2'),
    direction: fc.constantFrom('inbound', 'OUTBOUND'),
    started_at: fc.integer({ min: 0, max: 3600 }).map(at),
    end_time_unix_secs: fc.integer({ min: 0, max: 3600 }).map((s) => T0 / 1000 + s),
    duration_seconds: fc.constantFrom(12, '30', -1, 'x'),
    rating: fc.constantFrom(1, 4.5, '3'),
    call_successful: fc.constantFrom('success', 'failure', 'unknown'),
    topics: fc.constantFrom(['billing'], [{ name: 'refund' }], 'nope'),
    reason: fc.string(),
    message: fc.string(),
    escalated_at: fc.integer({ min: 0, max: 3600 }).map(at),
    source: fc.constantFrom('reconciler', 'threetone'),
    metadata: fc.record(
      { call_duration_secs: fc.integer({ min: 0, max: 900 }), phone_call: fc.record({ call_sid: fc.constant('sid-1'), from_number: fc.constant('+15550100') }), customer_name: fc.constant('Ada') },
      { requiredKeys: [] },
    ),
    analysis: fc.record({ call_successful: fc.constantFrom('success', 'failure'), transcript_summary: fc.string() }, { requiredKeys: [] }),
    phone_number: fc.constant('+15550199'),
    caller_id: fc.constant('+15550123'),
    extra: fc.jsonValue(),
  },
  { requiredKeys: ['conversation_id'] },
);
const eventArb = fc
  .record({
    event: fc.constantFrom('conversation_started', 'conversation_ended', 'call_started', 'call_ended', 'escalation_triggered', 'agent_busy'),
    offset: fc.integer({ min: 0, max: 3600 }),
    data: dataArb,
  })
  .map(({ event, offset, data }) => envelope(event, data as Record<string, unknown>, at(offset)));

describe('event facts', () => {
  it('fold the same as the full payload, for any events (so records survive the raw payload expiring)', () => {
    fc.assert(
      fc.property(fc.array(eventArb, { minLength: 1, maxLength: 8 }), (events) => {
        const full = foldConversation('c1', events.map((e) => stored(e)));
        const facts = foldConversation('c1', events.map((e) => ({ ...stored(e), envelope: factsOnly(e) })));
        expect(facts).toEqual(full);
      }),
      { numRuns: 200 },
    );
  });

  it('keep no personal or unknown fields', () => {
    const data = {
      conversation_id: 'c1',
      agent_id: 'a1',
      phone_number: '+15550199',
      caller_id: '+15550123',
      customer: { name: 'Ada', email: 'ada@example.com' },
      metadata: { call_duration_secs: 60, phone_call: { call_sid: 'sid-1', from_number: '+15550100' } },
    };
    expect(eventFacts(data)).toEqual({ conversation_id: 'c1', agent_id: 'a1', metadata: { call_duration_secs: 60, phone_call: { call_sid: 'sid-1' } } });
  });
});
