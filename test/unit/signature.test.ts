import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { signBody, verifySignature } from '#core/signature.js';

interface Vector {
  name: string;
  body: string;
  secret: string;
  prefix: string;
  hex: string;
  header: string;
}

// Expected values were computed with `openssl dgst -sha256 -hmac`, not with the code under test.
const { vectors } = JSON.parse(
  readFileSync(new URL('../fixtures/signature-vectors.json', import.meta.url), 'utf8'),
) as { vectors: Vector[] };
const vector = (name: string) => {
  const v = vectors.find((x) => x.name === name);
  if (!v) throw new Error(`no vector ${name}`);
  return v;
};

describe('signBody', () => {
  it.each(vectors.map((v) => [v.name, v] as const))('matches the openssl vector: %s', (_name, v) => {
    expect(signBody(Buffer.from(v.body, 'utf8'), v.secret, v.prefix)).toBe(v.header);
    expect(signBody(v.body, v.secret, v.prefix)).toBe(v.header);
  });

  it('defaults the prefix to sha256=', () => {
    const v = vector('compact');
    expect(signBody(v.body, v.secret)).toBe(`sha256=${v.hex}`);
  });

  it('gives pretty-printed and compact forms of the same JSON different signatures', () => {
    expect(vector('pretty').hex).not.toBe(vector('compact').hex);
    expect(JSON.parse(vector('pretty').body)).toEqual(JSON.parse(vector('compact').body));
  });
});

describe('verifySignature', () => {
  it.each(vectors.map((v) => [v.name, v] as const))('accepts the openssl vector: %s', (_name, v) => {
    expect(verifySignature(Buffer.from(v.body, 'utf8'), v.header, [v.secret], v.prefix)).toBe('ok');
  });

  it('rejects the pretty-printed body signed as compact (whitespace is signed)', () => {
    const compact = vector('compact');
    const pretty = vector('pretty');
    expect(verifySignature(Buffer.from(pretty.body), compact.header, [compact.secret], 'sha256=')).toBe('invalid');
  });

  it('accepts when any of several secrets matches (rotation)', () => {
    const v = vector('compact');
    expect(verifySignature(Buffer.from(v.body), v.header, ['old-secret', v.secret], 'sha256=')).toBe('ok');
    expect(verifySignature(Buffer.from(v.body), v.header, [v.secret, 'new-secret'], 'sha256=')).toBe('ok');
    expect(verifySignature(Buffer.from(v.body), v.header, ['a', 'b'], 'sha256=')).toBe('invalid');
  });

  it('is invalid with no secrets at all', () => {
    const v = vector('compact');
    expect(verifySignature(Buffer.from(v.body), v.header, [], 'sha256=')).toBe('invalid');
  });

  it('accepts upper-case hex and an upper-case prefix', () => {
    const v = vector('compact');
    const body = Buffer.from(v.body);
    expect(verifySignature(body, `sha256=${v.hex.toUpperCase()}`, [v.secret], 'sha256=')).toBe('ok');
    expect(verifySignature(body, `SHA256=${v.hex}`, [v.secret], 'sha256=')).toBe('ok');
  });

  it('tolerates surrounding whitespace', () => {
    const v = vector('compact');
    expect(verifySignature(Buffer.from(v.body), `  ${v.header}\t\n`, [v.secret], 'sha256=')).toBe('ok');
  });

  it('reports a missing or blank header as missing', () => {
    const body = Buffer.from('{}');
    expect(verifySignature(body, undefined, ['s'], 'sha256=')).toBe('missing');
    expect(verifySignature(body, '', ['s'], 'sha256=')).toBe('missing');
    expect(verifySignature(body, '   ', ['s'], '')).toBe('missing');
  });

  it.each([
    ['wrong prefix', (h: string) => `sha1=${h}`],
    ['no prefix', (h: string) => h],
    ['one hex digit short', (h: string) => `sha256=${h.slice(0, -1)}`],
    ['one hex digit long', (h: string) => `sha256=${h}0`],
    ['odd junk appended', (h: string) => `sha256=${h}zz`],
    ['non-hex of the right length', (h: string) => `sha256=${'g'.repeat(h.length)}`],
    ['a SHA-1 length digest', (h: string) => `sha256=${h.slice(0, 40)}`],
    ['prefix only', () => 'sha256='],
    ['two signatures', (h: string) => `sha256=${h},sha256=${h}`],
    ['base64 instead of hex', (h: string) => `sha256=${Buffer.from(h, 'hex').toString('base64')}`],
  ])('rejects %s as invalid without throwing', (_name, make) => {
    const v = vector('compact');
    expect(verifySignature(Buffer.from(v.body), make(v.hex), [v.secret], 'sha256=')).toBe('invalid');
  });

  it('honours an empty prefix and rejects a prefixed header then', () => {
    const v = vector('empty-prefix');
    expect(verifySignature(Buffer.from(v.body), v.hex, [v.secret], '')).toBe('ok');
    expect(verifySignature(Buffer.from(v.body), `sha256=${v.hex}`, [v.secret], '')).toBe('invalid');
  });

  it('signs the bytes, not a re-encoding (unicode body)', () => {
    const v = vector('unicode');
    const latin1 = Buffer.from(v.body, 'latin1');
    expect(verifySignature(latin1, v.header, [v.secret], 'sha256=')).toBe('invalid');
  });

  it('round-trips signBody for any body, secret and prefix', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), fc.string({ minLength: 1 }), fc.constantFrom('', 'sha256=', 'v1,'), (bytes, secret, prefix) => {
        const body = Buffer.from(bytes);
        expect(verifySignature(body, signBody(body, secret, prefix), [secret], prefix)).toBe('ok');
      }),
    );
  });

  it('fails for any single-bit flip of the body', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 512 }), fc.nat(), fc.integer({ min: 0, max: 7 }), (bytes, at, bit) => {
        const body = Buffer.from(bytes);
        const header = signBody(body, 'secret');
        const flipped = Buffer.from(body);
        const i = at % flipped.length;
        flipped[i] = flipped[i]! ^ (1 << bit);
        expect(verifySignature(flipped, header, ['secret'], 'sha256=')).toBe('invalid');
      }),
    );
  });

  it('fails for any single-bit flip of the signature digest', () => {
    const v = vector('unicode');
    const body = Buffer.from(v.body);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), (bitIndex) => {
        const digest = Buffer.from(v.hex, 'hex');
        digest[bitIndex >> 3] = digest[bitIndex >> 3]! ^ (1 << (bitIndex & 7));
        expect(verifySignature(body, `sha256=${digest.toString('hex')}`, [v.secret], 'sha256=')).toBe('invalid');
      }),
      { numRuns: 256 },
    );
  });

  it('never throws on arbitrary header strings', () => {
    const v = vector('compact');
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (header) => {
        expect(['missing', 'invalid']).toContain(verifySignature(Buffer.from(v.body), header, [v.secret], 'sha256='));
      }),
    );
  });
});
