/**
 * "A 202 is a promise": every signed body is either refused by ingest with a documented 4xx, or
 * accepted and processed on its first delivery, its events valid and within EventBridge's limit.
 * One test per class of body that used to break that promise, then a property test over arbitrary
 * JSON. All through the real ingest handler and the real processor on DynamoDB Local.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DetailType, entryBytes, MAX_EVENT_ENTRY_BYTES } from '#core/bus-events.js';
import { MAX_ID_BYTES, MAX_NESTING_DEPTH } from '#core/envelope.js';
import { eventKey } from '#core/event-key.js';
import { LosslessNumber, parseJson, stringifyJson } from '#core/json-text.js';
import { MAX_WEBHOOK_BYTES } from '#functions/config.js';
import { schemaErrors } from '#test/helpers/event-schemas.js';
import { createWebhookPipeline, type WebhookPipeline } from '#test/helpers/webhook-pipeline.js';
import type { Envelope } from '#core/types.js';

const NOW = Date.UTC(2026, 10, 20, 12, 0, 0);
const ts = (offsetSeconds = 0) => new Date(NOW + offsetSeconds * 1000).toISOString();
const text = (v: unknown) => Buffer.from(typeof v === 'string' ? v : stringifyJson(v), 'utf8');

let p: WebhookPipeline;
beforeAll(async () => {
  p = await createWebhookPipeline({ now: NOW });
});
afterAll(() => p.close());

/** Everything the bus received so far is valid against its schema and within EventBridge's entry limit. */
function expectPublishedEventsValid() {
  for (const e of p.harness.bus.events) {
    expect(entryBytes(e)).toBeLessThanOrEqual(MAX_EVENT_ENTRY_BYTES);
    expect(schemaErrors(e)).toBeNull();
  }
}

const threeToneEventOf = (key: string) => p.harness.bus.events.find((e) => e.detailType === DetailType.ThreeToneEvent && e.detail.event_key === key);

describe('class 1: a body at the documented maximum', () => {
  it('is processed, and its ThreeTone Event carries data in part, marked, with the full body served by its key', async () => {
    const env = { event: 'conversation_ended', timestamp: ts(), data: { conversation_id: 'big-1', agent_id: 'a-big', notes: '' } };
    const room = MAX_WEBHOOK_BYTES - text(env).length;
    env.data.notes = 'n'.repeat(room);
    const bytes = text(env);
    expect(bytes.length).toBe(MAX_WEBHOOK_BYTES);

    const out = await p.send(bytes);

    expect(out).toMatchObject({ status: 202, failures: 0 });
    const key = eventKey(parseJson(out.queued!) as Envelope);
    const published = threeToneEventOf(key)!;
    expect(published.detail).toMatchObject({ data_truncated: true, event_key: key, data: { conversation_id: 'big-1', agent_id: 'a-big' } });
    expect(published.detail.data).not.toHaveProperty('notes');
    expect(entryBytes(published)).toBeLessThanOrEqual(MAX_EVENT_ENTRY_BYTES);
    expect(await p.get(`/events/${key}`)).toEqual({ status: 200, body: bytes.toString('utf8') });
    expect((await p.queries.getRecord('big-1'))?.status).toBe('ended');
    expectPublishedEventsValid();
  });

  it('keeps a platform alert of the maximum size publishable too', async () => {
    const env = { event: 'system_error', timestamp: ts(), data: { message: 'm'.repeat(5000), detail: '' } };
    env.data.detail = 'd'.repeat(MAX_WEBHOOK_BYTES - text(env).length);
    const out = await p.send(text(env));
    expect(out).toMatchObject({ status: 202, failures: 0 });
    const alert = p.harness.bus.events.filter((e) => e.detailType === DetailType.PlatformAlert).at(-1)!;
    expect(alert.detail).toMatchObject({ alert_type: 'system_error', source: { data_truncated: true } });
    expect(String(alert.detail.message).length).toBeLessThanOrEqual(1024);
    expectPublishedEventsValid();
  });
});

describe('class 2: bytes that are not UTF-8', () => {
  it('are refused with 400 invalid_json and nothing queued, so two such ids never become one', async () => {
    for (const bad of [0xff, 0xc0]) {
      const prefix = Buffer.from(`{"event":"conversation_started","timestamp":"${ts()}","data":{"conversation_id":"u8-`);
      const bytes = Buffer.concat([prefix, Buffer.from([bad]), Buffer.from('"}}')]);
      const out = await p.send(bytes);
      expect(out).toMatchObject({ status: 400, code: 'invalid_json' });
      expect(out.queued).toBeUndefined();
    }
  });

  it('queues exactly the signed text when it is valid UTF-8, astral characters and escapes included', async () => {
    const bytes = text(`{"event":"conversation_started","timestamp":"${ts()}","data":{"conversation_id":"u8-\u{1F600}-ok","note":"\u00e9\\u0000"}}`);
    const out = await p.send(bytes);
    expect(out.status).toBe(202);
    expect(Buffer.from(out.queued!, 'utf8').equals(bytes)).toBe(true);
    expect((await p.queries.getRecord('u8-\u{1F600}-ok'))?.conversation_id).toBe('u8-\u{1F600}-ok');
  });

  it('refuses a body that starts with a byte-order mark (it is not JSON) instead of stripping it', async () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), text({ event: 'x', timestamp: ts(), data: {} })]);
    expect(await p.send(bytes)).toMatchObject({ status: 400, code: 'invalid_json' });
  });
});

describe('class 3: ids that are not well-formed Unicode', () => {
  it.each(['conversation_id', 'agent_id', 'call_id'])('refuses a lone surrogate in %s with 400 invalid_envelope naming the field', async (field) => {
    const bytes = text(`{"event":"conversation_started","timestamp":"${ts()}","data":{"conversation_id":"ok-1","${field}":"id-\\ud800"}}`);
    const out = await p.send(bytes);
    expect(out).toMatchObject({ status: 400, code: 'invalid_envelope' });
    expect(out.message).toContain(`data.${field}`);
  });

  it('refuses a lone surrogate anywhere in data, and in the event name', async () => {
    expect(await p.send(text(`{"event":"x","timestamp":"${ts()}","data":{"notes":["\\udc00"]}}`))).toMatchObject({ status: 400, code: 'invalid_envelope' });
    expect(await p.send(text(`{"event":"x\\ud800","timestamp":"${ts()}","data":{}}`))).toMatchObject({ status: 400, code: 'invalid_envelope' });
  });
});

describe('class 4: ids of any length', () => {
  it.each([
    ['conversation_id', 1024],
    ['agent_id', 3072],
    ['call_id', MAX_ID_BYTES + 1],
  ])('refuses a %s of %d bytes with 400 naming the field', async (field, bytes) => {
    const out = await p.send(text({ event: 'conversation_started', timestamp: ts(), data: { conversation_id: 'len-ok', [field]: 'x'.repeat(bytes) } }));
    expect(out).toMatchObject({ status: 400, code: 'invalid_envelope' });
    expect(out.message).toContain(`data.${field}`);
  });

  it(`processes ids of exactly ${MAX_ID_BYTES} bytes (multi-byte characters counted as bytes)`, async () => {
    const conversationId = '\u00e9'.repeat(MAX_ID_BYTES / 2);
    const agentId = 'a'.repeat(MAX_ID_BYTES);
    for (const [event, at] of [
      ['conversation_started', 0],
      ['conversation_ended', 60],
    ] as const) {
      const out = await p.send(text({ event, timestamp: ts(at), data: { conversation_id: conversationId, agent_id: agentId, call_id: 'c'.repeat(MAX_ID_BYTES) } }));
      expect(out).toMatchObject({ status: 202, failures: 0 });
    }
    expect(await p.queries.getRecord(conversationId)).toMatchObject({ conversation_id: conversationId, agent_id: agentId, status: 'ended', details_stored: true });
    expect((await p.harness.agentDays(agentId))[0]?.counters.conversations).toBe(1);
  });

  it('keeps ids exactly as sent: no trimming, so " id" and "id" are two conversations', async () => {
    for (const id of ['trim-1', ' trim-1']) {
      expect(await p.send(text({ event: 'conversation_started', timestamp: ts(), data: { conversation_id: id, agent_id: 'a-trim' } }))).toMatchObject({ status: 202, failures: 0 });
    }
    expect((await p.queries.getRecord('trim-1'))?.conversation_id).toBe('trim-1');
    expect((await p.queries.getRecord(' trim-1'))?.conversation_id).toBe(' trim-1');
  });
});

describe('class 5: deep nesting', () => {
  it.each([10_000, 100_000])('refuses a body nested %d levels with 400 too_deep', async (levels) => {
    const bytes = text(`{"event":"x","timestamp":"${ts()}","data":{"deep":${'['.repeat(levels)}${']'.repeat(levels)}}}`);
    expect(await p.send(bytes)).toMatchObject({ status: 400, code: 'too_deep' });
  });

  it(`processes data nested to the limit (${MAX_NESTING_DEPTH} levels), deeper than DynamoDB's 32-level maps would allow inside the payload`, async () => {
    // envelope (1) → data (2) → ...: fill up to exactly the limit
    let deep: unknown = { leaf: 1 };
    for (let level = 3; level < MAX_NESTING_DEPTH; level++) deep = { next: deep };
    const out = await p.send(text({ event: 'conversation_started', timestamp: ts(), data: { conversation_id: 'deep-1', agent_id: 'a', nest: deep } }));
    expect(out).toMatchObject({ status: 202, failures: 0 });
    expect(await p.send(text({ event: 'x', timestamp: ts(), data: { nest: { deep } } }))).toMatchObject({ status: 400, code: 'too_deep' });
    expectPublishedEventsValid();
  });
});

describe('class 6: keys __proto__ and constructor', () => {
  it('are stored and published as the ordinary keys they are', async () => {
    const bytes = text(
      `{"event":"conversation_started","timestamp":"${ts()}","data":{"conversation_id":"proto-1","__proto__":{"polluted":true},"constructor":{"prototype":1}}}`,
    );
    const out = await p.send(bytes);
    expect(out).toMatchObject({ status: 202, failures: 0 });
    const key = eventKey(parseJson(out.queued!) as Envelope);
    const data = threeToneEventOf(key)!.detail.data as Record<string, unknown>;
    expect(Object.keys(data)).toEqual(['conversation_id', '__proto__', 'constructor']);
    expect(Object.getPrototypeOf(data)).toBe(Object.prototype);
    expect((data as { polluted?: unknown }).polluted).toBeUndefined();
    expect(Object.getOwnPropertyDescriptor(data, '__proto__')?.value).toEqual({ polluted: true });
    expect(JSON.parse(JSON.stringify({})).polluted).toBeUndefined();
  });
});

describe('class 7: numbers beyond 2^53, and like 1e300', () => {
  it('are processed, and keep their exact digits in the stored body and the published data', async () => {
    const raw = `{"event":"conversation_started","timestamp":"${ts()}","data":{"conversation_id":"num-1","account":123456789012345678901,"phone":987654321098765432,"tiny":1e-300,"huge":1e300,"ratio":0.1000000000000000055511151231257827}}`;
    const out = await p.send(text(raw));
    expect(out).toMatchObject({ status: 202, failures: 0 });
    const key = eventKey(parseJson(raw) as Envelope);
    expect((await p.get(`/events/${key}`)).body).toBe(raw);
    const detailText = stringifyJson(threeToneEventOf(key)!.detail);
    for (const digits of ['123456789012345678901', '987654321098765432', '0.1000000000000000055511151231257827']) expect(detailText).toContain(digits);
  });

  it('do not merge two webhooks that differ only beyond double precision', async () => {
    const a = parseJson(`{"event":"x","timestamp":1,"data":{"n":12345678901234567890}}`) as Envelope;
    const b = parseJson(`{"event":"x","timestamp":1,"data":{"n":12345678901234567891}}`) as Envelope;
    expect(eventKey(a)).not.toBe(eventKey(b));
    expect((a.data.n as LosslessNumber).value).toBe('12345678901234567890');
  });

  it('numeric ids are their exact digits', async () => {
    expect(await p.send(text(`{"event":"conversation_started","timestamp":"${ts()}","data":{"conversation_id":123456789012345678901}}`))).toMatchObject({
      status: 202,
      failures: 0,
    });
    expect((await p.queries.getRecord('123456789012345678901'))?.conversation_id).toBe('123456789012345678901');
    expect(await p.send(text(`{"event":"x","timestamp":"${ts()}","data":{"conversation_id":1.5}}`))).toMatchObject({ status: 400, code: 'invalid_envelope' });
  });
});

describe('property: every signed body is refused with a documented 4xx, or processed on its first delivery', () => {
  const REFUSALS = new Set(['400:invalid_json', '400:invalid_envelope', '400:too_deep', '413:payload_too_large']);
  const key = fc.oneof(
    { weight: 4, arbitrary: fc.string({ maxLength: 12 }) },
    { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'summary', 'topics', 'reason', 'duration_seconds', 'rating', 'metadata', 'analysis', 'transcript', 'status') },
  );
  const number = fc.oneof(
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.integer(),
    fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map((n) => new LosslessNumber(n.toString())),
    fc.constantFrom('1e300', '-1E-300', '1e400', '0.1000000000000000055511151231257827', '123456789012345678').map((s) => new LosslessNumber(s)),
  );
  const str = fc.oneof(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 20 }), fc.string({ maxLength: 5000 }));
  const { json } = fc.letrec<{ json: unknown }>((tie) => ({
    json: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.constant(null),
      fc.boolean(),
      number,
      str,
      fc.array(tie('json'), { maxLength: 5 }),
      fc.dictionary(key, tie('json'), { maxKeys: 6, noNullPrototype: true }),
    ),
  }));
  const id = fc.oneof(
    fc.constantFrom('c-1', 'c-2', 'c-3', '', ' c-1', 'c-\u{1F600}', null),
    fc.integer({ min: 0, max: 1000 }),
    fc.bigInt({ min: 10n ** 17n, max: 10n ** 20n }).map((n) => new LosslessNumber(n.toString())),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 300 }),
    fc.integer({ min: 200, max: 3000 }).map((n) => 'x'.repeat(n)),
    json,
  );
  const body = fc.record({
    event: fc.oneof(fc.constantFrom('conversation_started', 'conversation_ended', 'call_started', 'call_ended', 'escalation_triggered', 'system_error', 'quota_exceeded'), fc.string({ maxLength: 20 })),
    offset: fc.integer({ min: -3600, max: 3600 }),
    ids: fc.record({ conversation_id: id, agent_id: id, call_id: id }, { requiredKeys: [] }),
    extra: fc.dictionary(key, json, { maxKeys: 8, noNullPrototype: true }),
    nest: fc.integer({ min: 0, max: MAX_NESTING_DEPTH + 4 }),
    pad: fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: MAX_WEBHOOK_BYTES + 1000 }) }),
    corrupt: fc.oneof({ weight: 12, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat() }),
  });

  it('holds over arbitrary JSON (seeded, reproducible)', async () => {
    const stats = { accepted: 0, refused: 0 };
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        const data: Record<string, unknown> = { ...b.extra, ...b.ids };
        if (b.nest > 0) {
          let v: unknown = 'leaf';
          for (let i = 0; i < b.nest; i++) v = [v];
          data.nested = v;
        }
        if (b.pad > 0) data.padding = 'p'.repeat(b.pad);
        let bytes = text({ event: b.event, timestamp: ts(b.offset), data });
        if (b.corrupt !== null) {
          bytes = Buffer.from(bytes);
          bytes[b.corrupt % bytes.length] = 0xff;
        }
        const before = p.harness.bus.events.length;
        const out = await p.send(bytes);
        if (out.status === 202) {
          stats.accepted++;
          expect(out.failures).toBe(0);
          expect(Buffer.from(out.queued!, 'utf8').equals(bytes)).toBe(true);
          for (const e of p.harness.bus.events.slice(before)) {
            expect(entryBytes(e)).toBeLessThanOrEqual(MAX_EVENT_ENTRY_BYTES);
            expect(schemaErrors(e)).toBeNull();
          }
          const env = parseJson(out.queued!) as Envelope;
          expect(threeToneEventOf(eventKey(env))).toBeDefined();
        } else {
          stats.refused++;
          expect(REFUSALS.has(`${out.status}:${out.code}`), `${out.status} ${out.code}: ${out.message}`).toBe(true);
          expect(out.queued).toBeUndefined();
        }
      }),
      { seed: 20261125, numRuns: 150, endOnFailure: true },
    );
    // Both branches ran: the property is not vacuous.
    expect(stats.accepted).toBeGreaterThan(30);
    expect(stats.refused).toBeGreaterThan(10);
  }, 300_000);
});
