import { LosslessNumber } from 'lossless-json';
import { describe, expect, it } from 'vitest';
import { callerKey, callerKeysOf, normalizePhone, phoneNumbersIn } from '#core/caller-keys.js';

describe('caller keys (erasure by phone number)', () => {
  it('normalizes a number to its digits, whatever the punctuation', () => {
    expect(normalizePhone('+1 (555) 010-0999')).toBe('15550100999');
    expect(normalizePhone('15550100999')).toBe('15550100999');
    expect(normalizePhone(15550100999)).toBe('15550100999');
    expect(normalizePhone(new LosslessNumber('123456789012345678'))).toBe('123456789012345678');
  });

  it('refuses what is not a phone number', () => {
    for (const v of ['1234', 'abc', '', null, undefined, true, {}, '1'.repeat(33)]) expect(normalizePhone(v)).toBeNull();
  });

  it('finds every phone field at any depth, each number once, and nothing else', () => {
    const data = {
      phone_number: '+15550100999',
      caller_id: '1-555-010-0999',
      metadata: { phone_call: { from_number: '+15550100888', to_number: '+15550100000' }, list: [{ customer_phone: '+15550100777' }] },
      agent_id: '15550100666',
    };
    expect(phoneNumbersIn(data).sort()).toEqual(['15550100000', '15550100777', '15550100888', '15550100999']);
  });

  it('stores a keyed digest, never the number: different keys give different digests', () => {
    const [k] = callerKeysOf({ phone_number: '+15550100999' }, 'key-a');
    expect(k).toMatch(/^[0-9a-f]{64}$/);
    expect(k).not.toContain('5550100999');
    expect(k).toBe(callerKey('15550100999', 'key-a'));
    expect(callerKey('15550100999', 'key-b')).not.toBe(k);
  });
});
