import { describe, expect, it } from 'vitest';
import { parseEnvelope } from '#core/envelope.js';
import { eventKey } from '#core/event-key.js';
import { verifySignature } from '#core/signature.js';
import type { Envelope } from '#core/types.js';
import { conversationEvents, createRng, deliveryPlan, demoTraffic, serializeEnvelope, signedRequest } from '#local/traffic.js';

const NOW = new Date('2025-06-01T12:00:00.000Z');
const HOUR_MS = 3_600_000;

describe('createRng', () => {
  it('gives the same stream for the same seed and another for another seed', () => {
    const a = createRng(42);
    const b = createRng(42);
    const c = createRng(43);
    const xs = Array.from({ length: 5 }, a);
    expect(Array.from({ length: 5 }, b)).toEqual(xs);
    expect(Array.from({ length: 5 }, c)).not.toEqual(xs);
    for (const x of xs) expect(x >= 0 && x < 1).toBe(true);
  });
});

describe('conversationEvents', () => {
  it('gives started → escalation → ended, with calls around them, in time order', () => {
    // Arrange
    const start = new Date(NOW.getTime() - 600_000);

    // Act
    const events = conversationEvents({
      conversationId: 'conv_1',
      agentId: 'agent_a',
      start,
      durationSeconds: 300,
      escalate: { reason: 'customer asked for a human', afterSeconds: 120 },
      withCall: true,
      rng: createRng(1),
    });

    // Assert
    expect(events.map((e) => e.event)).toEqual(['call_started', 'conversation_started', 'escalation_triggered', 'conversation_ended', 'call_ended']);
    const times = events.map((e) => Date.parse(String(e.timestamp)));
    expect(times).toEqual([...times].sort((x, y) => x - y));
    expect(times[0]).toBe(start.getTime());
    const callId = events[0]!.data.call_id;
    expect(callId).toMatch(/^call_[0-9a-f]{16}$/);
    for (const e of events) {
      expect(e.data).toMatchObject({ conversation_id: 'conv_1', agent_id: 'agent_a', call_id: callId });
    }
    const ended = events.find((e) => e.event === 'conversation_ended')!;
    expect(ended.timestamp).toBe(new Date(start.getTime() + 300_000).toISOString());
    expect(ended.data).toMatchObject({ duration_seconds: 300, direction: expect.stringMatching(/^(inbound|outbound|web)$/) });
    expect(ended.data.caller_id).toEqual(expect.any(String));
    expect(events[2]!.data).toMatchObject({ reason: 'customer asked for a human', escalated_at: new Date(start.getTime() + 120_000).toISOString() });
  });

  it('without options gives just conversation_started and conversation_ended, no call_id', () => {
    const events = conversationEvents({ conversationId: 'c', agentId: 'a', start: NOW, durationSeconds: 60, rng: createRng(2) });
    expect(events.map((e) => e.event)).toEqual(['conversation_started', 'conversation_ended']);
    for (const e of events) expect(e.data).not.toHaveProperty('call_id');
  });

  it('uses only fictional 555-01xx phone numbers', () => {
    const rng = createRng(3);
    for (let i = 0; i < 50; i++) {
      for (const e of conversationEvents({ conversationId: `c${i}`, agentId: 'a', start: NOW, durationSeconds: 60, rng })) {
        for (const field of ['phone_number', 'caller_id']) {
          const v = e.data[field];
          if (typeof v === 'string' && v.startsWith('+')) expect(v).toMatch(/^\+1\d{3}55501\d{2}$/);
        }
      }
    }
  });
});

describe('deliveryPlan', () => {
  const envelopes: Envelope[] = Array.from({ length: 200 }, (_, i) => ({
    event: 'conversation_started',
    timestamp: new Date(NOW.getTime() + i * 1000).toISOString(),
    data: { conversation_id: `c${i}`, agent_id: 'a' },
  }));

  it('delivers every envelope at least once; duplicates are byte-identical repeats of an earlier body', () => {
    const plan = deliveryPlan(envelopes, { duplicateRate: 0.3, shuffleWindow: 8, rng: createRng(5) });

    const originals = plan.filter((d) => !d.duplicate);
    const duplicates = plan.filter((d) => d.duplicate);
    expect(new Set(originals.map((d) => d.body))).toEqual(new Set(envelopes.map(serializeEnvelope)));
    expect(originals).toHaveLength(envelopes.length);
    expect(duplicates.length).toBeGreaterThan(30);
    expect(duplicates.length).toBeLessThan(90);
    for (const dup of duplicates) {
      const first = plan.findIndex((d) => d.body === dup.body);
      expect(plan.indexOf(dup)).toBeGreaterThan(first);
      expect(Buffer.from(dup.body).equals(Buffer.from(plan[first]!.body))).toBe(true);
    }
  });

  it('moves each delivery less than the window, and does move some', () => {
    const plan = deliveryPlan(envelopes, { duplicateRate: 0, shuffleWindow: 6, rng: createRng(6) });

    const positions = plan.map((d) => envelopes.findIndex((e) => serializeEnvelope(e) === d.body));
    positions.forEach((original, now) => expect(Math.abs(now - original)).toBeLessThan(6));
    expect(positions).not.toEqual(positions.map((_, i) => i));
  });

  it('keeps the order with a window of 0 and no duplicates', () => {
    const plan = deliveryPlan(envelopes, { duplicateRate: 0, shuffleWindow: 0, rng: createRng(7) });
    expect(plan.map((d) => d.body)).toEqual(envelopes.map(serializeEnvelope));
  });
});

describe('demoTraffic', () => {
  const opts = { conversations: 40, agents: 5, seed: 42, duplicateRate: 0.2, now: NOW };

  it('is deterministic for a seed and `now`', () => {
    expect(demoTraffic(opts)).toEqual(demoTraffic(opts));
    expect(demoTraffic({ ...opts, seed: 43 }).deliveries).not.toEqual(demoTraffic(opts).deliveries);
  });

  it('gives envelopes that parse, with timestamps in the last hour', () => {
    const t = demoTraffic(opts);
    for (const d of t.deliveries) {
      const parsed = parseEnvelope(d.body);
      expect(parsed.ok).toBe(true);
      if (!parsed.ok) continue;
      expect(parsed.timestampMs).toBeLessThanOrEqual(NOW.getTime());
      expect(parsed.timestampMs).toBeGreaterThanOrEqual(NOW.getTime() - HOUR_MS);
      expect(parsed.envelope.data.conversation_id).toBe(d.conversationId);
    }
  });

  it('has distinct webhooks (distinct event keys), all of them delivered, ~20% twice', () => {
    const t = demoTraffic(opts);
    const keys = new Set(t.envelopes.map(eventKey));
    expect(keys.size).toBe(t.envelopes.length);
    const delivered = new Set(t.deliveries.map((d) => d.body));
    expect(delivered).toEqual(new Set(t.envelopes.map(serializeEnvelope)));
    const duplicates = t.deliveries.filter((d) => d.duplicate).length;
    expect(t.deliveries.length).toBe(t.envelopes.length + duplicates);
    expect(duplicates / t.envelopes.length).toBeGreaterThan(0.1);
    expect(duplicates / t.envelopes.length).toBeLessThan(0.3);
  });

  it('delivers some conversation_ended before its conversation_started', () => {
    const t = demoTraffic(opts);
    const firstIndex = (id: string, event: string) => t.deliveries.findIndex((d) => d.conversationId === id && d.event === event);
    const reversed = t.conversations.filter((c) => firstIndex(c.conversationId, 'conversation_ended') < firstIndex(c.conversationId, 'conversation_started'));
    // Not guaranteed by construction for every seed; true for this one, which the demo uses.
    expect(reversed.length).toBeGreaterThan(0);
  });

  it('expects each conversation once, per agent, with its escalations and durations', () => {
    const t = demoTraffic(opts);

    expect(t.agentIds).toHaveLength(5);
    expect(Object.keys(t.expected).sort()).toEqual([...t.agentIds].sort());
    const total = Object.values(t.expected).reduce((n, e) => n + e.conversations, 0);
    expect(total).toBe(40);
    expect(new Set(t.conversations.map((c) => c.conversationId)).size).toBe(40);
    for (const agent of t.agentIds) {
      const mine = t.conversations.filter((c) => c.agentId === agent);
      expect(t.expected[agent]).toEqual({
        conversations: mine.length,
        escalations: mine.filter((c) => c.escalated).length,
        totalDurationSeconds: mine.reduce((s, c) => s + c.durationSeconds, 0),
      });
      const started = t.envelopes.filter((e) => e.event === 'conversation_started' && e.data.agent_id === agent);
      expect(started).toHaveLength(mine.length);
    }
    const escalations = t.envelopes.filter((e) => e.event === 'escalation_triggered').length;
    expect(escalations).toBe(t.conversations.filter((c) => c.escalated).length);
  });

  it('puts a run id in every conversation id so runs do not collide', () => {
    const a = demoTraffic(opts);
    const b = demoTraffic({ ...opts, now: new Date(NOW.getTime() + 1000) });
    const idsA = new Set(a.conversations.map((c) => c.conversationId));
    expect(b.conversations.some((c) => idsA.has(c.conversationId))).toBe(false);
    expect(demoTraffic({ ...opts, runId: 'x1' }).conversations[0]!.conversationId).toBe('conv_x1_001');
  });
});

describe('signedRequest', () => {
  it('signs the exact body for the receiver, with a configurable header and prefix', () => {
    const body = serializeEnvelope({ event: 'call_started', timestamp: NOW.toISOString(), data: { call_id: 'c1' } });

    const headers = signedRequest(body, 'secret-1');
    const custom = signedRequest(body, 'secret-1', { header: 'X-Custom-Sig', prefix: 'v1=' });

    expect(headers['content-type']).toBe('application/json');
    expect(verifySignature(Buffer.from(body), headers['x-threetone-signature'], ['secret-1'], 'sha256=')).toBe('ok');
    expect(verifySignature(Buffer.from(body), headers['x-threetone-signature'], ['other'], 'sha256=')).toBe('invalid');
    expect(verifySignature(Buffer.from(body), custom['x-custom-sig'], ['secret-1'], 'v1=')).toBe('ok');
  });
});
