import { describe, expect, it } from 'vitest';
import { audioContentType, audioInfo, audioObjectKey, audioObjectName, parseByteRange } from '#core/audio.js';

describe('audio object names', () => {
  it('derive from the SHA-256 of the id, whatever the id holds', () => {
    expect(audioObjectName('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    for (const id of ['../../etc/passwd', 'a/b', '.', 'ü'.repeat(128), 'x y?#%']) {
      expect(audioObjectKey(id)).toMatch(/^audio\/[0-9a-f]{64}$/);
    }
    expect(audioObjectName('a')).not.toBe(audioObjectName('A'));
  });
});

describe('audioContentType', () => {
  it.each([
    ['audio/mpeg', 'audio/mpeg'],
    ['Audio/WAV; codecs=1', 'audio/wav'],
    [null, 'application/octet-stream'],
    ['', 'application/octet-stream'],
    ['text/html\r\nx: y', 'application/octet-stream'],
    ['not a type', 'application/octet-stream'],
  ])('%j → %s', (header, type) => expect(audioContentType(header)).toBe(type));
});

describe('audioInfo', () => {
  it('reports stored, gave_up, off and pending', () => {
    expect(audioInfo({ stored: { content_type: 'audio/mpeg', size_bytes: 9 } }, false)).toEqual({ status: 'stored', content_type: 'audio/mpeg', size_bytes: 9 });
    expect(audioInfo({ gave_up: true }, true)).toEqual({ status: 'gave_up', content_type: null, size_bytes: null });
    expect(audioInfo(undefined, false).status).toBe('off');
    expect(audioInfo(undefined, true).status).toBe('pending');
  });
});

describe('parseByteRange (RFC 9110)', () => {
  it.each([
    [undefined, 100, { kind: 'whole' }],
    ['bytes=0-9', 100, { kind: 'partial', start: 0, end: 9 }],
    ['bytes=90-', 100, { kind: 'partial', start: 90, end: 99 }],
    ['bytes=90-500', 100, { kind: 'partial', start: 90, end: 99 }],
    ['bytes=-10', 100, { kind: 'partial', start: 90, end: 99 }],
    ['bytes=-500', 100, { kind: 'partial', start: 0, end: 99 }],
    ['bytes=100-', 100, { kind: 'unsatisfiable' }],
    ['bytes=100-200', 100, { kind: 'unsatisfiable' }],
    ['bytes=-0', 100, { kind: 'unsatisfiable' }],
    ['bytes=0-', 0, { kind: 'unsatisfiable' }],
    ['bytes=5-1', 100, { kind: 'whole' }],
    ['bytes=0-1,5-6', 100, { kind: 'whole' }],
    ['items=0-1', 100, { kind: 'whole' }],
    ['bytes=abc', 100, { kind: 'whole' }],
    ['bytes=-', 100, { kind: 'whole' }],
  ])('%j of %i bytes', (header, size, expected) => expect(parseByteRange(header, size)).toEqual(expected));
});
