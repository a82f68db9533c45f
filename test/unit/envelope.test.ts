import { describe, expect, it } from 'vitest';
import { parseEnvelope, parseTimestamp } from '#core/envelope.js';

const ISO = '2024-01-15T10:30:00Z';
const MS = Date.UTC(2024, 0, 15, 10, 30, 0);

describe('parseTimestamp', () => {
  it.each([
    ['ISO-8601 UTC', ISO, MS],
    ['ISO-8601 with milliseconds', '2024-01-15T10:30:00.250Z', MS + 250],
    ['ISO-8601 with microseconds', '2024-01-15T10:30:00.250999Z', MS + 250],
    ['ISO-8601 with an offset', '2024-01-15T12:30:00+02:00', MS],
    ['ISO-8601 with a compact offset', '2024-01-15T12:30:00+0200', MS],
    ['ISO-8601 with an hour-only offset', '2024-01-15T05:30:00-05', MS],
    ['ISO-8601 without seconds', '2024-01-15T10:30Z', MS],
    ['ISO-8601 without a zone (taken as UTC)', '2024-01-15T10:30:00', MS],
    ['ISO-8601 with a space separator', '2024-01-15 10:30:00Z', MS],
    ['lower-case t and z', '2024-01-15t10:30:00z', MS],
    ['a date alone (UTC midnight)', '2024-01-15', Date.UTC(2024, 0, 15)],
    ['Unix seconds', 1705314600, MS],
    ['fractional Unix seconds', 1705314600.5, MS + 500],
    ['Unix milliseconds', MS, MS],
    ['numeric string of seconds', '1705314600', MS],
    ['numeric string of milliseconds', String(MS), MS],
    ['surrounding whitespace', ` ${ISO} `, MS],
  ])('parses %s', (_name, input, expected) => {
    expect(parseTimestamp(input)).toBe(expected);
  });

  it('splits seconds from milliseconds at 1e11', () => {
    expect(parseTimestamp(99_999_999_999)).toBe(99_999_999_999_000);
    expect(parseTimestamp(100_000_000_000)).toBe(100_000_000_000);
  });

  it.each([
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['-Infinity', Number.NEGATIVE_INFINITY],
    ['beyond the Date range', 9e15],
    ['an empty string', ''],
    ['whitespace', '   '],
    ['date-less garbage Date.parse would accept', '1 2'],
    ['a word', 'yesterday'],
    ['a month name date', 'Jan 15 2024'],
    ['an impossible month', '2024-13-01T00:00:00Z'],
    ['an impossible day', '2024-02-30'],
    ['an impossible hour', '2024-01-15T25:00:00Z'],
    ['trailing junk', '2024-01-15T10:30:00Zjunk'],
    ['a hex string', '0x10'],
    ['an exponent string', '1e9'],
    ['null', null],
    ['undefined', undefined],
    ['a boolean', true],
    ['an object', { seconds: 1 }],
    ['an array', [1705314600]],
  ])('rejects %s', (_name, input) => {
    expect(parseTimestamp(input)).toBeNull();
  });
});

describe('parseEnvelope', () => {
  const valid = { event: 'call_started', timestamp: ISO, data: { call_id: 'c1' } };

  it('accepts a valid envelope and returns the parsed timestamp', () => {
    const result = parseEnvelope(JSON.stringify(valid));
    expect(result).toEqual({ ok: true, envelope: valid, timestampMs: MS });
  });

  it('accepts unknown event names and keeps data as received', () => {
    const body = { event: 'brand_new_event', timestamp: 1705314600, data: { nested: { a: [1, 2] } } };
    const result = parseEnvelope(JSON.stringify(body));
    expect(result).toEqual({ ok: true, envelope: body, timestampMs: MS });
  });

  it('accepts an empty data object and drops extra top-level fields', () => {
    const result = parseEnvelope(JSON.stringify({ ...valid, data: {}, extra: 'x' }));
    expect(result.ok && result.envelope).toEqual({ event: 'call_started', timestamp: ISO, data: {} });
  });

  it.each([
    ['not JSON', '{"event":', 'invalid_json'],
    ['empty body', '', 'invalid_json'],
    ['JSON null', 'null', 'invalid_envelope'],
    ['a JSON array', JSON.stringify([valid]), 'invalid_envelope'],
    ['a JSON string', '"call_started"', 'invalid_envelope'],
    ['a JSON number', '42', 'invalid_envelope'],
  ])('rejects %s with %s', (_name, raw, code) => {
    const result = parseEnvelope(raw);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.code).toBe(code);
  });

  it.each([
    ['missing event', { timestamp: ISO, data: {} }, 'event'],
    ['event not a string', { event: 7, timestamp: ISO, data: {} }, 'event'],
    ['event null', { event: null, timestamp: ISO, data: {} }, 'event'],
    ['empty event', { event: '', timestamp: ISO, data: {} }, 'event'],
    ['blank event', { event: '   ', timestamp: ISO, data: {} }, 'event'],
    ['missing timestamp', { event: 'e', data: {} }, 'timestamp'],
    ['null timestamp', { event: 'e', timestamp: null, data: {} }, 'timestamp'],
    ['unparseable timestamp', { event: 'e', timestamp: 'not a date', data: {} }, 'timestamp'],
    ['boolean timestamp', { event: 'e', timestamp: true, data: {} }, 'timestamp'],
    ['missing data', { event: 'e', timestamp: ISO }, 'data'],
    ['null data', { event: 'e', timestamp: ISO, data: null }, 'data'],
    ['array data', { event: 'e', timestamp: ISO, data: [] }, 'data'],
    ['string data', { event: 'e', timestamp: ISO, data: 'x' }, 'data'],
    ['number data', { event: 'e', timestamp: ISO, data: 1 }, 'data'],
  ])('rejects %s as invalid_envelope naming the field', (_name, body, field) => {
    const result = parseEnvelope(JSON.stringify(body));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.code).toBe('invalid_envelope');
    expect(result.message).toContain(`\`${field}\``);
  });

  it('never echoes body content in its messages', () => {
    const secretish = 'SENSITIVE-+15551234567';
    for (const body of [
      `{"event":"${secretish}"`,
      JSON.stringify({ event: secretish, timestamp: secretish, data: {} }),
      JSON.stringify({ event: secretish, timestamp: ISO, data: secretish }),
      JSON.stringify([secretish]),
    ]) {
      const result = parseEnvelope(body);
      expect(result.ok).toBe(false);
      expect(!result.ok && result.message).not.toContain('SENSITIVE');
    }
  });
});
