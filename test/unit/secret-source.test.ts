import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { clearCaches } from '@aws-lambda-powertools/parameters';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { envSecretSource, parseSecretValue, secretsManagerSource } from '#adapters/secret-source.js';

const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:threetone-webhook-AbCdEf';
const sm = mockClient(SecretsManagerClient);

describe('envSecretSource', () => {
  it('splits a comma-separated list, trimming and dropping empty entries', async () => {
    expect(await envSecretSource(' a , b,,c ,').get()).toEqual(['a', 'b', 'c']);
  });

  it('accepts a single secret', async () => {
    expect(await envSecretSource('only-one').get()).toEqual(['only-one']);
  });

  it.each([undefined, '', '  ', ' , ,'])('fails fast at construction when there is none (%j)', (value) => {
    expect(() => envSecretSource(value)).toThrow(/THREETONE_WEBHOOK_SECRET/);
  });

  it('hands out a copy (a caller cannot change the configured list)', async () => {
    const source = envSecretSource('a,b');
    (await source.get()).push('injected');
    expect(await source.get()).toEqual(['a', 'b']);
  });
});

describe('parseSecretValue', () => {
  it.each([
    ['a plain secret', 'whsec_1', ['whsec_1']],
    ['a comma-separated list', 'whsec_1, whsec_2', ['whsec_1', 'whsec_2']],
    ['{"secrets": [...]}', '{"secrets":["whsec_1"," whsec_2 ",""]}', ['whsec_1', 'whsec_2']],
    ['{"secret": "..."}', '{"secret":"whsec_1"}', ['whsec_1']],
    ['{"secrets": "a,b"}', '{"secrets":"whsec_1,whsec_2"}', ['whsec_1', 'whsec_2']],
    ['a JSON array', '["whsec_1","whsec_2"]', ['whsec_1', 'whsec_2']],
    ['surrounding whitespace', '\n {"secret":"whsec_1"} \n', ['whsec_1']],
  ])('reads %s', (_name, value, expected) => {
    expect(parseSecretValue(value)).toEqual(expected);
  });

  it('rejects malformed JSON without echoing the value', () => {
    expect(() => parseSecretValue('{"secrets":["whsec_leak"')).toThrow(/does not parse/);
    expect(() => parseSecretValue('{"secrets":["whsec_leak"')).not.toThrow(/whsec_leak/);
  });

  it('rejects JSON of another shape', () => {
    expect(() => parseSecretValue('{"password":"whsec_leak"}')).toThrow(/"secrets"/);
  });
});

describe('secretsManagerSource', () => {
  beforeEach(() => {
    sm.reset();
    clearCaches();
  });
  afterEach(() => vi.useRealTimers());

  it.each([
    ['plain list', 'whsec_1,whsec_2'],
    ['JSON secrets', '{"secrets":["whsec_1","whsec_2"]}'],
  ])('reads a %s from the secret', async (_name, secretString) => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: secretString });

    expect(await secretsManagerSource(ARN).get()).toEqual(['whsec_1', 'whsec_2']);
    expect(sm).toHaveReceivedCommandWith(GetSecretValueCommand, { SecretId: ARN });
  });

  it('reads a JSON single secret', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: '{"secret":"whsec_1"}' });
    expect(await secretsManagerSource(ARN).get()).toEqual(['whsec_1']);
  });

  it('reads a binary secret as UTF-8', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretBinary: new TextEncoder().encode('whsec_1,whsec_2') });
    expect(await secretsManagerSource(ARN).get()).toEqual(['whsec_1', 'whsec_2']);
  });

  it('caches within maxAge and picks up a rotation after it', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2024-01-15T10:00:00Z'));
    sm.on(GetSecretValueCommand)
      .resolvesOnce({ SecretString: 'whsec_old' })
      .resolves({ SecretString: 'whsec_old,whsec_new' });
    const source = secretsManagerSource(ARN, { maxAgeSeconds: 60 });

    expect(await source.get()).toEqual(['whsec_old']);
    vi.setSystemTime(new Date('2024-01-15T10:00:59Z'));
    expect(await source.get()).toEqual(['whsec_old']);
    expect(sm).toHaveReceivedCommandTimes(GetSecretValueCommand, 1);

    vi.setSystemTime(new Date('2024-01-15T10:01:02Z'));
    expect(await source.get()).toEqual(['whsec_old', 'whsec_new']);
    expect(sm).toHaveReceivedCommandTimes(GetSecretValueCommand, 2);
  });

  it('caches for 300 s by default', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2024-01-15T10:00:00Z'));
    sm.on(GetSecretValueCommand).resolves({ SecretString: 'whsec_1' });
    const source = secretsManagerSource(ARN);

    await source.get();
    vi.setSystemTime(new Date('2024-01-15T10:04:59Z'));
    await source.get();
    expect(sm).toHaveReceivedCommandTimes(GetSecretValueCommand, 1);

    vi.setSystemTime(new Date('2024-01-15T10:05:01Z'));
    await source.get();
    expect(sm).toHaveReceivedCommandTimes(GetSecretValueCommand, 2);
  });

  it('rejects when Secrets Manager fails (the ingest answers 500)', async () => {
    sm.on(GetSecretValueCommand).rejects(new Error('AccessDeniedException'));
    await expect(secretsManagerSource(ARN).get()).rejects.toThrow(/AccessDeniedException/);
  });

  it('rejects a secret that holds no webhook secret, without echoing it', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: '{"secrets":[]}' });
    await expect(secretsManagerSource(ARN).get()).rejects.toThrow(/holds no webhook secret/);
  });
});
