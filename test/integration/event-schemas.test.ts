import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DetailType } from '#core/bus-events.js';
import { ajv, schemaErrors, schemaFor } from '#test/helpers/event-schemas.js';
import { body, createHarness, type Harness } from '#test/helpers/processor-harness.js';

describe('published JSON Schemas describe the events the processor really emits', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness({ maxReceiveCount: 2 });
    h.api.details.set('s-1', { conversation_id: 's-1', agent_id: 'a', duration_seconds: 900, satisfaction_score: 1.5, resolution_status: 'resolved', topics: ['billing'], transcript: [{ role: 'user', message: 'hi', time_in_call_secs: 0 }] });
    const at = (s: string) => `2026-11-20T10:${s}Z`;
    await h.deliver(
      [
        { event: 'conversation_started', timestamp: at('00:00'), data: { conversation_id: 's-1', agent_id: 'a', direction: 'inbound' } },
        { event: 'escalation_triggered', timestamp: at('05:00'), data: { conversation_id: 's-1', reason: 'asked for a human' } },
        { event: 'conversation_ended', timestamp: at('15:00'), data: { conversation_id: 's-1' } },
        { event: 'call_ended', timestamp: at('16:00'), data: { conversation_id: 's-1', call_id: 'call-1' } },
        { event: 'quota_exceeded', timestamp: at('20:00'), data: { message: 'monthly minutes used up' } },
        { event: 'conversation_ended', timestamp: at('20:00'), data: { conversation_id: 'unknown-to-threetone' } },
      ].map(body),
      // in order, one at a time: call_ended lands after completion and changes the record (call_id)
      { batchSize: 1, shuffle: false },
    );
    expect(await h.erasure.eraseConversation('unknown-to-threetone')).not.toBeNull();
  });
  afterAll(() => h.close());

  it('emits every detail-type in this scenario', () => {
    expect(new Set(h.bus.events.map((e) => e.detailType))).toEqual(new Set(Object.keys(schemaFor)));
  });

  it.each(Object.entries(schemaFor))('%s matches schemas/%s', (detailType, file) => {
    const events = h.bus.ofType(detailType);
    expect(events.length).toBeGreaterThan(0);
    for (const e of events) {
      expect(schemaFor[e.detailType]).toBe(file);
      expect(schemaErrors(e)).toBeNull();
    }
  });

  it('the schemas reject a wrong detail (they are not vacuous)', () => {
    expect(ajv.validate('conversation-alert.json', { event_id: 'x', schema_version: '1', alert_type: 'nope' })).toBe(false);
    expect(ajv.validate('conversation-completed.json', { ...h.bus.ofType(DetailType.ConversationCompleted)[0]!.detail, status: 'active' })).toBe(false);
  });
});
