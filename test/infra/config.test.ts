import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONTEXT, loadConfig, PipelineConfigError } from '#lib/config.js';
import { PROJECT_ROOT } from '#lib/stateless-stack.js';

const from = (values: Record<string, unknown>) => loadConfig((key) => values[key]);

describe('loadConfig', () => {
  it('gives the documented defaults when no context is set', () => {
    const config = loadConfig();
    expect(config.stackPrefix).toBe('ThreeTonePipeline');
    expect(config.threeTone).toEqual({
      apiUrl: 'https://api.threetone.in',
      timeoutMs: 5000,
      maxRetries: 3,
      signatureHeader: 'x-threetone-signature',
      signaturePrefix: 'sha256=',
    });
    expect(config.webhook).toEqual({ replayWindowSeconds: 86_400, throttle: { rateLimit: 50, burstLimit: 100 } });
    expect(config.processor).toMatchObject({ timeoutSeconds: 120, batchSize: 10, maxConcurrency: 2, maxReceiveCount: 5 });
    expect(config.retention).toEqual({ rawEventDays: 30, transcriptDays: 0, recordDays: 0, eventArchiveDays: 90 });
    expect(config.secrets).toEqual({ webhookSecretArn: undefined, apiKeySecretArn: undefined });
    expect(config.alarms.email).toBeUndefined();
  });

  it('accepts strings (from -c key=value) and JSON values (from cdk.json) alike', () => {
    expect(from({ maxReceiveCount: '7' }).processor.maxReceiveCount).toBe(7);
    expect(from({ maxReceiveCount: 7 }).processor.maxReceiveCount).toBe(7);
    expect(from({ redactPersonalData: 'false' }).processor.redactPersonalData).toBe(false);
    expect(from({ redactPersonalData: false }).processor.redactPersonalData).toBe(false);
    expect(from({ alertLowSatisfaction: '3.5' }).processor.alertLowSatisfaction).toBe(3.5);
  });

  it('normalizes the signature header and the base URL', () => {
    const config = from({ webhookSignatureHeader: 'X-ThreeTone-Signature', threeToneApiUrl: 'https://api.threetone.com/' });
    expect(config.threeTone.signatureHeader).toBe('x-threetone-signature');
    expect(config.threeTone.apiUrl).toBe('https://api.threetone.com');
  });

  it('reads the live page origins: https, or http on localhost', () => {
    expect(from({}).live).toEqual({ apiKeyExpiryDays: 365, allowedOrigins: [] });
    expect(from({ liveAllowedOrigins: 'https://ops.example.com,http://localhost:8080' }).live.allowedOrigins).toEqual([
      'https://ops.example.com',
      'http://localhost:8080',
    ]);
  });

  it.each([
    [{ maxReceiveCount: '0' }, 'maxReceiveCount'],
    [{ processorBatchSize: '11' }, 'processorBatchSize'],
    [{ processorMaxConcurrency: '1' }, 'processorMaxConcurrency'],
    [{ processorTimeoutSeconds: 'soon' }, 'processorTimeoutSeconds'],
    [{ threeToneApiUrl: 'http://api.threetone.in' }, 'threeToneApiUrl'],
    [{ logRetentionDays: '10' }, 'logRetentionDays'],
    [{ webhookSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:webhook' }, 'webhookSecretArn'],
    [{ alarmEmail: 'not-an-address' }, 'alarmEmail'],
    [{ redactPersonalData: 'maybe' }, 'redactPersonalData'],
    [{ liveApiKeyExpiryDays: '366' }, 'liveApiKeyExpiryDays'],
    [{ liveAllowedOrigins: 'http://ops.example.com' }, 'liveAllowedOrigins'],
    [{ liveAllowedOrigins: 'https://ops.example.com/live' }, 'liveAllowedOrigins'],
  ])('refuses %j, naming the key', (values, key) => {
    expect(() => from(values)).toThrow(PipelineConfigError);
    expect(() => from(values)).toThrow(`"${key}"`);
  });
});

describe('docs/aws-deployment.md', () => {
  const doc = readFileSync(join(PROJECT_ROOT, 'docs', 'aws-deployment.md'), 'utf8');

  it.each(Object.keys(CONTEXT))('documents the context key %s', (key) => {
    expect(doc).toMatch(new RegExp(`^\\| \`${key}\` \\|`, 'm'));
  });
});
