import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, eventKey } from '#core/event-key.js';
import type { Envelope } from '#core/types.js';
import { envelope } from '#test/helpers/envelopes.js';
import { mulberry32 } from '#local/prng.js';

const RUNS = { numRuns: 100 };


/** The same JSON value with its object keys shuffled at every depth (as another serializer might emit). */
function shuffleKeys(value: unknown, rand: () => number): unknown {
  if (Array.isArray(value)) return value.map((v) => shuffleKeys(v, rand));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value).map(([k, v]) => [k, shuffleKeys(v, rand)] as const);
  for (let i = entries.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [entries[i], entries[j]] = [entries[j]!, entries[i]!];
  }
  // fromEntries, not assignment: a "__proto__" key must stay an own data property, as JSON.parse makes it.
  return Object.fromEntries(entries);
}

/** What ThreeTone might send: the envelope serialized with some key order and whitespace, then parsed by us. */
function reserialized(env: Envelope, seed: number, indent: string | number): Envelope {
  return JSON.parse(JSON.stringify(shuffleKeys(env, mulberry32(seed)), null, indent)) as Envelope;
}

const jsonRoundTrip = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

const dataArb = fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 });
const timestampArb = fc.oneof(
  fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2030, 0, 1) }).map((ms) => new Date(ms).toISOString()),
  fc.integer({ min: 1_577_836_800, max: 1_893_456_000 }),
);
const envelopeArb = fc.record({ event: fc.string({ minLength: 1, maxLength: 20 }), timestamp: timestampArb, data: dataArb });
const indentArb = fc.constantFrom<string | number>(0, 2, 4, '\t', ' \n ');

describe('eventKey', () => {
  it('gives the same key to one delivery serialized with another key order and whitespace', () => {
    // Arrange
    const a = JSON.parse('{"event":"call_started","timestamp":"2024-01-15T10:30:00Z","data":{"call_id":"c1","meta":{"x":1,"y":[1,{"b":2,"a":1}]}}}') as Envelope;
    const b = JSON.parse(`{
      "data": { "meta": { "y": [1, { "a": 1, "b": 2 }], "x": 1 }, "call_id": "c1" },
      "timestamp": "2024-01-15T10:30:00Z",
      "event": "call_started"
    }`) as Envelope;

    // Act / Assert
    expect(eventKey(a)).toBe(eventKey(b));
    expect(eventKey(a)).toMatch(/^[0-9a-f]{40}$/);
  });

  it('is invariant under key order and whitespace for any envelope (property)', () => {
    fc.assert(
      fc.property(envelopeArb, fc.integer(), fc.integer(), indentArb, indentArb, (env, seedA, seedB, indentA, indentB) => {
        expect(eventKey(reserialized(env, seedA, indentA))).toBe(eventKey(reserialized(env, seedB, indentB)));
      }),
      RUNS,
    );
  });

  it('changes when the event name changes (property)', () => {
    fc.assert(
      fc.property(envelopeArb, fc.string({ minLength: 1, maxLength: 20 }), (env, other) => {
        fc.pre(other !== env.event);
        expect(eventKey({ ...env, event: other })).not.toBe(eventKey(env));
      }),
      RUNS,
    );
  });

  it('changes when the timestamp changes, including the same instant written another way (property)', () => {
    fc.assert(
      fc.property(envelopeArb, timestampArb, (env, other) => {
        fc.pre(other !== env.timestamp);
        expect(eventKey({ ...env, timestamp: other })).not.toBe(eventKey(env));
      }),
      RUNS,
    );
    // Identity is content, not meaning: a retry is byte-for-byte the same delivery.
    expect(eventKey(envelope('e', {}, 1705314600))).not.toBe(eventKey(envelope('e', {}, '1705314600')));
    expect(eventKey(envelope('e', {}, 1705314600))).not.toBe(eventKey(envelope('e', {}, '2024-01-15T10:30:00Z')));
  });

  it('changes when the data changes in any JSON-visible way (property)', () => {
    fc.assert(
      fc.property(envelopeArb, dataArb, (env, otherData) => {
        fc.pre(!isDeepStrictEqual(jsonRoundTrip(env.data), jsonRoundTrip(otherData)));
        expect(eventKey({ ...env, data: otherData })).not.toBe(eventKey(env));
      }),
      RUNS,
    );
  });

  it('changes when one nested value changes', () => {
    // Arrange
    const base = envelope('conversation_ended', { conversation_id: 'c1', metrics: { duration_seconds: 180, tags: ['a', 'b'] } }, '2024-01-15T10:33:00Z');

    // Act
    const keys = [
      base,
      { ...base, data: { conversation_id: 'c1', metrics: { duration_seconds: 181, tags: ['a', 'b'] } } },
      { ...base, data: { conversation_id: 'c1', metrics: { duration_seconds: 180, tags: ['b', 'a'] } } },
      { ...base, data: { conversation_id: 'c1', metrics: { duration_seconds: '180', tags: ['a', 'b'] } } },
      { ...base, data: { conversation_id: 'c1', metrics: { duration_seconds: 180, tags: ['a', 'b'], extra: null } } },
    ].map(eventKey);

    // Assert
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('ignores fields whose value is undefined (they do not exist in JSON)', () => {
    expect(eventKey(envelope('e', { a: 1, b: undefined }, 1))).toBe(eventKey(envelope('e', { a: 1 }, 1)));
  });
});

describe('canonicalJson', () => {
  it('sorts object keys at every depth, keeps array order, and writes no whitespace', () => {
    // Arrange
    const value = { b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } };

    // Act
    const text = canonicalJson(value);

    // Assert
    expect(text).toBe('{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
  });

  it('drops undefined object fields and writes undefined array items as null, like JSON.stringify', () => {
    expect(canonicalJson({ a: undefined, b: { c: undefined, d: 1 } })).toBe('{"b":{"d":1}}');
    expect(canonicalJson([1, undefined, 2])).toBe('[1,null,2]');
    expect(canonicalJson(undefined)).toBe('null');
  });

  it('writes scalars exactly as JSON does', () => {
    expect(canonicalJson(null)).toBe('null');
    expect(canonicalJson('a"b\n')).toBe(JSON.stringify('a"b\n'));
    expect(canonicalJson(1.5)).toBe('1.5');
    expect(canonicalJson(true)).toBe('true');
  });

  it('is valid JSON of the same value, whatever the key order (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), fc.integer(), (value, seed) => {
        const text = canonicalJson(value);
        expect(JSON.parse(text)).toStrictEqual(jsonRoundTrip(value));
        expect(canonicalJson(shuffleKeys(value, mulberry32(seed)))).toBe(text);
      }),
      RUNS,
    );
  });
});
