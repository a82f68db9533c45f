import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeDetails, normalizeTranscript } from '#core/normalize-details.js';

const START_ISO = '2024-01-15T10:30:00.000Z';
const START_UNIX = Date.UTC(2024, 0, 15, 10, 30) / 1000;

/** The guide's analytics example (ThreeTone's guide, "REST API"). */
const guideShape = {
  conversation_id: 'conv_1',
  agent_id: 'agent_1',
  call_id: 'call_1',
  direction: 'inbound',
  status: 'completed',
  started_at: '2024-01-15T10:30:00Z',
  ended_at: '2024-01-15T10:33:00Z',
  duration_seconds: 180,
  turn_count: 12,
  resolution_status: 'resolved',
  satisfaction_score: 4.2,
  topics: ['billing', 'refund'],
  summary: 'Refund for a double charge',
};

/** The generated reference's shape ([ref]): ElevenLabs-like, Unix seconds, metadata/analysis nesting. */
const referenceShape = {
  conversation_id: 'conv_1',
  agent_id: 'agent_1',
  status: 'done',
  metadata: {
    start_time_unix_secs: START_UNIX,
    call_duration_secs: 180,
    message_count: 12,
    phone_call: { call_sid: 'call_1', direction: 'INBOUND' },
  },
  analysis: {
    call_successful: 'success',
    rating: 4.2,
    topics: [{ name: 'billing' }, { topic: 'refund' }],
    call_summary_title: 'Refund for a double charge',
  },
};

/** The reference's list-item shape: the same fields at the top level. */
const referenceFlat = {
  conversation_id: 'conv_1',
  agent_id: 'agent_1',
  start_time_unix_secs: START_UNIX,
  call_duration_secs: 180,
  message_count: 12,
  call_successful: 'success',
  direction: 'inbound',
  rating: 4.2,
  call_summary_title: 'Refund for a double charge',
};

const comparable = (raw: Record<string, unknown>) => {
  const d = normalizeDetails('conv_1', raw);
  return {
    agent_id: d.agent_id,
    direction: d.direction,
    started_at: d.started_at,
    duration_seconds: d.duration_seconds,
    turn_count: d.turn_count,
    resolution_status: d.resolution_status,
    satisfaction_score: d.satisfaction_score,
    summary: d.summary,
  };
};

describe('normalizeDetails: the two documented shapes', () => {
  it('maps the guide shape field by field', () => {
    // Act
    const d = normalizeDetails('conv_1', guideShape);

    // Assert
    expect(d).toEqual({
      conversation_id: 'conv_1',
      agent_id: 'agent_1',
      call_id: 'call_1',
      direction: 'inbound',
      status: 'completed',
      started_at: START_ISO,
      ended_at: '2024-01-15T10:33:00.000Z',
      duration_seconds: 180,
      turn_count: 12,
      resolution_status: 'resolved',
      satisfaction_score: 4.2,
      topics: ['billing', 'refund'],
      escalated: null,
      summary: 'Refund for a double charge',
      transcript: null,
    });
  });

  it('maps the nested reference shape to the same values as the guide shape', () => {
    expect(comparable(referenceShape)).toEqual(comparable(guideShape));
    const d = normalizeDetails('conv_1', referenceShape);
    expect(d.call_id).toBe('call_1');
    expect(d.topics).toEqual(['billing', 'refund']);
    expect(d.ended_at).toBeNull(); // the reference gives no end time; the record derives it
  });

  it('maps the flat reference (list item) shape to the same values as the guide shape', () => {
    expect(comparable(referenceFlat)).toEqual(comparable(guideShape));
  });

  it.each([
    ['success', 'resolved'],
    ['failure', 'unresolved'],
    ['unknown', 'unknown'],
    ['SUCCESS', 'resolved'],
    [true, 'resolved'],
    [false, 'unresolved'],
  ])('maps call_successful %j to resolution_status %j', (value, expected) => {
    expect(normalizeDetails('c', { call_successful: value }).resolution_status).toBe(expected);
    expect(normalizeDetails('c', { analysis: { call_successful: value } }).resolution_status).toBe(expected);
  });

  it('keeps a resolution status it does not know, lower-cased, rather than dropping it', () => {
    expect(normalizeDetails('c', { resolution_status: 'Escalated' }).resolution_status).toBe('escalated');
  });

  it('takes the conversation id from the caller, never from the body', () => {
    expect(normalizeDetails('conv_1', { conversation_id: 'conv_other' }).conversation_id).toBe('conv_1');
  });

  it('gives all-null details for an empty body', () => {
    const d = normalizeDetails('c', {});
    expect(Object.entries(d).filter(([k, v]) => k !== 'conversation_id' && v !== null)).toEqual([]);
  });
});

describe('normalizeDetails: mixes, strings and garbage', () => {
  it('prefers the guide field when both families are present and usable', () => {
    const d = normalizeDetails('c', { duration_seconds: 100, call_duration_secs: 200, satisfaction_score: 3, rating: 5, turn_count: 4, message_count: 9 });
    expect([d.duration_seconds, d.satisfaction_score, d.turn_count]).toEqual([100, 3, 4]);
  });

  it('falls back to the other family when the first field is unusable', () => {
    // Arrange
    const raw = {
      duration_seconds: 'n/a',
      call_duration_secs: 95,
      turn_count: null,
      message_count: 7,
      resolution_status: '',
      call_successful: 'failure',
      satisfaction_score: 'great',
      rating: 2,
      started_at: 'yesterday',
      start_time_unix_secs: START_UNIX,
    };

    // Act
    const d = normalizeDetails('c', raw);

    // Assert
    expect(d).toMatchObject({ duration_seconds: 95, turn_count: 7, resolution_status: 'unresolved', satisfaction_score: 2, started_at: START_ISO });
  });

  it('accepts numbers sent as numeric strings', () => {
    const d = normalizeDetails('c', { call_duration_secs: ' 180 ', message_count: '12', rating: '4.5', start_time_unix_secs: String(START_UNIX), agent_id: 42 });
    expect(d).toMatchObject({ duration_seconds: 180, turn_count: 12, satisfaction_score: 4.5, started_at: START_ISO, agent_id: '42' });
  });

  it('rejects strings that are not decimal numbers, though Number() would take them', () => {
    const d = normalizeDetails('c', { duration_seconds: '0x10', turn_count: '0b11', rating: '0o7', satisfaction_score: 'Infinity', call_duration_secs: '1e2' });
    expect(d).toMatchObject({ duration_seconds: 100, turn_count: null, satisfaction_score: null });
  });

  it('accepts times as ISO strings, Unix seconds or Unix milliseconds', () => {
    for (const v of ['2024-01-15T10:30:00Z', '2024-01-15T12:30:00+02:00', START_UNIX, START_UNIX * 1000, String(START_UNIX)]) {
      expect(normalizeDetails('c', { started_at: v }).started_at).toBe(START_ISO);
    }
  });

  it('ignores values of the wrong type instead of throwing', () => {
    // Arrange
    const raw = {
      agent_id: { id: 'a' },
      call_id: [],
      direction: 7,
      duration_seconds: {},
      call_duration_secs: -5,
      turn_count: [12],
      resolution_status: { value: 'resolved' },
      satisfaction_score: true,
      rating: Number.NaN,
      topics: 'billing',
      escalated: 'maybe',
      started_at: 'not a date',
      ended_at: false,
      metadata: 'flat string',
      analysis: ['x'],
      transcript: 'hello',
    };

    // Act
    const d = normalizeDetails('c', raw);

    // Assert
    expect(d).toMatchObject({
      agent_id: null,
      call_id: null,
      duration_seconds: null,
      turn_count: null,
      resolution_status: null,
      satisfaction_score: null,
      topics: null,
      escalated: null,
      started_at: null,
      ended_at: null,
      transcript: null,
    });
    expect(d.direction).toBe('7'); // numbers are accepted where a string is expected
  });

  it('reads booleans and "true"/"false" for escalated', () => {
    expect(normalizeDetails('c', { escalated: true }).escalated).toBe(true);
    expect(normalizeDetails('c', { escalated: 'false' }).escalated).toBe(false);
    expect(normalizeDetails('c', { analysis: { escalated: false } }).escalated).toBe(false);
  });

  it('dedupes topics and drops unnamed ones', () => {
    expect(normalizeDetails('c', { topics: ['billing', { name: 'billing' }, { topic: 'refund' }, {}, 3, null, ''] }).topics).toEqual(['billing', 'refund', '3']);
  });

  it('never throws on arbitrary JSON objects, and types what it returns (property)', () => {
    const known = [
      'agent_id', 'call_id', 'direction', 'status', 'started_at', 'start_time_unix_secs', 'ended_at', 'duration_seconds',
      'call_duration_secs', 'turn_count', 'message_count', 'resolution_status', 'call_successful', 'satisfaction_score',
      'rating', 'topics', 'escalated', 'summary', 'transcript', 'metadata', 'analysis', 'phone_call', 'feedback',
    ];
    const key = fc.oneof(fc.constantFrom(...known), fc.string({ maxLength: 6 }));
    const value = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.dictionary(key, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 }));
    const isoOrNull = (v: string | null) => v === null || new Date(v).toISOString() === v;
    const finiteOrNull = (v: number | null) => v === null || Number.isFinite(v);

    fc.assert(
      fc.property(fc.dictionary(key, value, { maxKeys: 8 }), (raw) => {
        const d = normalizeDetails('c', raw);
        expect(isoOrNull(d.started_at) && isoOrNull(d.ended_at)).toBe(true);
        expect(finiteOrNull(d.duration_seconds) && finiteOrNull(d.turn_count) && finiteOrNull(d.satisfaction_score)).toBe(true);
        expect(d.duration_seconds === null || d.duration_seconds >= 0).toBe(true);
        expect(d.topics === null || d.topics.every((t) => typeof t === 'string')).toBe(true);
        expect(d.escalated === null || typeof d.escalated === 'boolean').toBe(true);
        for (const t of d.transcript ?? []) {
          expect(typeof t.role).toBe('string');
          expect(typeof t.message).toBe('string');
          expect(t.time_in_call_secs === null || t.time_in_call_secs >= 0).toBe(true);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('maps any duration the same from every field that may carry it, as number or string (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100_000 }), (secs) => {
        const forms = [
          { duration_seconds: secs },
          { call_duration_secs: secs },
          { metadata: { call_duration_secs: secs } },
          { duration_seconds: String(secs) },
        ];
        for (const raw of forms) expect(normalizeDetails('c', raw).duration_seconds).toBe(secs);
      }),
      { numRuns: 50 },
    );
  });
});

describe('normalizeTranscript', () => {
  const turns = [
    { role: 'assistant', message: 'Hello, how can I help?', time_in_call_secs: 0 },
    { role: 'customer', message: 'My bill is wrong', time_in_call_secs: 3.5, interrupted: true, feedback: null },
    { role: 'AI', message: 'Let me check.', time_in_call_secs: null },
    { role: 'user', message: 'Thanks', time_in_call_secs: 12 },
  ];

  it('normalizes a bare array of turns: roles, times, and extra fields kept', () => {
    // Act
    const out = normalizeTranscript(turns);

    // Assert
    expect(out).toEqual([
      { role: 'agent', message: 'Hello, how can I help?', time_in_call_secs: 0 },
      { role: 'user', message: 'My bill is wrong', time_in_call_secs: 3.5, interrupted: true, feedback: null },
      { role: 'agent', message: 'Let me check.', time_in_call_secs: null },
      { role: 'user', message: 'Thanks', time_in_call_secs: 12 },
    ]);
  });

  it('reads the same turns from an object holding them under "transcript"', () => {
    expect(normalizeTranscript({ conversation_id: 'c', transcript: turns })).toEqual(normalizeTranscript(turns));
  });

  it('reads the transcript from a details body', () => {
    expect(normalizeDetails('c', { transcript: turns }).transcript).toEqual(normalizeTranscript(turns));
  });

  it.each([
    ['assistant', 'agent'],
    ['ai', 'agent'],
    ['bot', 'agent'],
    ['Agent', 'agent'],
    ['customer', 'user'],
    ['caller', 'user'],
    ['human', 'user'],
    ['USER', 'user'],
    ['system', 'system'],
  ])('maps role %j to %j', (role, expected) => {
    expect(normalizeTranscript([{ role, message: 'x' }])?.[0]?.role).toBe(expected);
  });

  it('accepts speaker/text aliases and tolerates missing or invalid times and messages', () => {
    // Act
    const out = normalizeTranscript([
      { speaker: 'ai', text: 'Hi', time_in_call_secs: '2' },
      { role: 'user', time_in_call_secs: -1 },
      { time_in_call_secs: 'soon' },
      'not a turn',
      null,
    ]);

    // Assert
    expect(out).toEqual([
      { speaker: 'ai', text: 'Hi', role: 'agent', message: 'Hi', time_in_call_secs: 2 },
      { role: 'user', message: '', time_in_call_secs: null },
      { role: 'unknown', message: '', time_in_call_secs: null },
    ]);
  });

  it('keeps interrupted only when it is a boolean', () => {
    const out = normalizeTranscript([
      { role: 'user', message: 'a', interrupted: 'yes' },
      { role: 'user', message: 'b', interrupted: 1 },
      { role: 'agent', message: 'c', interrupted: false },
    ]);
    expect(out?.map((t) => t.interrupted)).toEqual([undefined, undefined, false]);
    expect(out?.[0]).not.toHaveProperty('interrupted');
  });

  it.each([
    ['a string', 'hello'],
    ['null', null],
    ['an object without turns', { detail: 'Not found' }],
    ['a number', 3],
  ])('returns null for %s', (_name, raw) => {
    expect(normalizeTranscript(raw)).toBeNull();
  });
});
