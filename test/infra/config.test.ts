import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_REDACT_FIELDS, SETTINGS } from '#functions/config.js';
import { CONTEXT, FUNCTION_CONTEXT_KEYS, loadConfig, PipelineConfigError } from '#lib/config.js';
import { PROJECT_ROOT } from '#lib/stateless-stack.js';

const from = (values: Record<string, unknown>) => loadConfig((key) => values[key]);

describe('loadConfig', () => {
  it('gives the documented defaults when no context is set', () => {
    const config = loadConfig();
    expect(config.stackPrefix).toBe('ThreeTonePipeline');
    expect(config.threeTone).toEqual({
      baseUrl: 'https://api.threetone.in',
      timeoutMs: 5000,
      maxRetries: 3,
      baseDelayMs: 200,
      maxDelayMs: 10_000,
    });
    expect(config.ingest).toEqual({ signature: { header: 'x-threetone-signature', prefix: 'sha256=' }, replayWindowSeconds: 86_400 });
    expect(config.webhook).toEqual({ throttle: { rateLimit: 50, burstLimit: 100 } });
    expect(config.processor).toMatchObject({ batchSize: 10, maxConcurrency: 2, schedule: { timeoutSeconds: 130, visibilityTimeoutSeconds: 780 } });
    expect(config.processor.settings).toEqual({
      enrichment: { budget: { perMinute: 100, perHour: 1000 }, giveUpHours: 6, maxAgeDays: 7 },
      alerts: { longDurationSeconds: 600, lowSatisfaction: 2.5 },
      maxReceiveCount: 5,
      retention: { rawEventDays: 30, transcriptDays: 0, recordDays: 0 },
      redactFields: DEFAULT_REDACT_FIELDS,
      audioArchive: true,
    });
    expect(config.audio).toEqual({ retentionDays: 90 });
    expect(config.events).toEqual({ archiveRetentionDays: 90 });
    expect(config.secrets).toEqual({ webhookSecretArn: undefined, apiKeySecretArn: undefined });
    expect(config.alarms.email).toBeUndefined();
  });

  it('accepts strings (from -c key=value) and JSON values (from cdk.json) alike', () => {
    expect(from({ maxReceiveCount: '7' }).processor.settings.maxReceiveCount).toBe(7);
    expect(from({ maxReceiveCount: 7 }).processor.settings.maxReceiveCount).toBe(7);
    expect(from({ redactPersonalData: 'false' }).processor.settings.redactFields).toEqual([]);
    expect(from({ redactPersonalData: false }).processor.settings.redactFields).toEqual([]);
    expect(from({ redactFields: ['email', 'name'] }).processor.settings.redactFields).toEqual(['email', 'name']);
    expect(from({ redactFields: 'email, name' }).processor.settings.redactFields).toEqual(['email', 'name']);
    expect(from({ alertLowSatisfaction: '3.5' }).processor.settings.alerts.lowSatisfaction).toBe(3.5);
  });

  it('normalizes the signature header and prefix and the base URL', () => {
    const config = from({ webhookSignatureHeader: 'X-ThreeTone-Signature', webhookSignaturePrefix: 'none', threeToneApiUrl: 'https://api.threetone.com/' });
    expect(config.ingest.signature).toEqual({ header: 'x-threetone-signature', prefix: '' });
    expect(config.threeTone.baseUrl).toBe('https://api.threetone.com');
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
    [{ threeToneMaxRetries: 'many' }, 'threeToneMaxRetries'],
    [{ threeToneApiUrl: 'http://api.threetone.in' }, 'threeToneApiUrl'],
    [{ logRetentionDays: '10' }, 'logRetentionDays'],
    [{ webhookSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:webhook' }, 'webhookSecretArn'],
    [{ alarmEmail: 'not-an-address' }, 'alarmEmail'],
    [{ redactPersonalData: 'maybe' }, 'redactPersonalData'],
    // A retry budget no Lambda timeout can hold.
    [{ threeToneMaxRetries: '10', threeToneTimeoutMs: '30000', threeToneRetryMaxMs: '60000' }, 'threeToneMaxRetries'],
    [{ liveApiKeyExpiryDays: '366' }, 'liveApiKeyExpiryDays'],
    [{ liveAllowedOrigins: 'http://ops.example.com' }, 'liveAllowedOrigins'],
    [{ liveAllowedOrigins: 'https://ops.example.com/live' }, 'liveAllowedOrigins'],
    // Lambda would file the metric lines (no level) as INFO and drop them, and the alarms with them.
    [{ logLevel: 'WARN' }, 'logLevel'],
    [{ logLevel: 'SILENT' }, 'logLevel'],
    // Renamed (D30): an old setting must not be dropped silently.
    [{ outboxGraceSeconds: '600' }, 'outboxGraceSeconds'],
  ])('refuses %j, naming the key', (values, key) => {
    expect(() => from(values)).toThrow(PipelineConfigError);
    expect(() => from(values)).toThrow(`"${key}"`);
  });
});

describe('docs/aws-deployment.md', () => {
  const doc = readFileSync(join(PROJECT_ROOT, 'docs', 'aws-deployment.md'), 'utf8');

  it.each(Object.keys(CONTEXT))('documents the deployment key %s', (key) => {
    expect(doc).toMatch(new RegExp(`^\\| \`${key}\` \\|`, 'm'));
  });
});

describe('README.md "Settings"', () => {
  const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');

  const rowOf = (env: string) => readme.split('\n').find((line) => line.startsWith(`| \`${env}\` |`));
  const functionSettings = Object.values(SETTINGS).flatMap((s) => ('context' in s ? [s] : []));
  const localSettings = Object.values(SETTINGS).filter((s) => !('context' in s));

  it.each(functionSettings.map((s) => [s.env, s]))('documents %s with its context key and default', (_env, setting) => {
    const row = rowOf(setting.env);
    expect(row).toBeDefined();
    expect(row).toContain(`\`${setting.context}\``);
    const def = Array.isArray(setting.default) ? setting.default.join(', ') : String(setting.default);
    expect(row).toContain(`\`${def}\``);
  });

  it.each(localSettings.map((s) => [s.env, s]))('documents the local setting %s with its default under "Local settings"', (_env, setting) => {
    const local = readme.slice(readme.indexOf('### Local settings'), readme.indexOf('\n## ', readme.indexOf('### Local settings')));
    const row = local.split('\n').find((line) => line.startsWith(`| \`${setting.env}\` |`));
    expect(row).toBeDefined();
    expect(row).toContain(setting.default === undefined ? '| unset' : `| \`${String(setting.default)}\``);
  });

  it('names every function context key once, in SETTINGS', () => {
    expect(new Set(FUNCTION_CONTEXT_KEYS).size).toBe(FUNCTION_CONTEXT_KEYS.length);
    for (const key of FUNCTION_CONTEXT_KEYS) expect(Object.keys(CONTEXT)).not.toContain(key);
  });
});
