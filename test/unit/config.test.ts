import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  ingestEnv,
  loadIngestConfig,
  loadProcessorConfig,
  loadQueryConfig,
  loadReconcilerConfig,
  loadRequestBudgetConfig,
  loadThreeToneClientConfig,
  processorEnv,
  queryEnv,
  reconcilerEnv,
  requestBudgetEnv,
  SETTINGS,
  STACK_ONLY_SETTINGS,
  erasureEnv,
  loadAudioRetentionDays,
  loadErasureSettings,
  loadLocalDynamoDbConfig,
  threeToneClientEnv,
} from '#functions/config.js';

/** Every setting set to a non-default value, as an operator might. */
const CUSTOM = {
  THREETONE_API_URL: 'https://api.threetone.com/',
  THREETONE_TIMEOUT_MS: '2500',
  THREETONE_MAX_RETRIES: '1',
  THREETONE_RETRY_BASE_MS: '50',
  THREETONE_RETRY_MAX_MS: '4000',
  WEBHOOK_SIGNATURE_HEADER: 'X-Sig',
  WEBHOOK_SIGNATURE_PREFIX: 'v1=',
  REPLAY_WINDOW_SECONDS: '600',
  ALERT_LONG_DURATION_SECONDS: '90.5',
  ALERT_LOW_SATISFACTION: '3',
  MAX_RECEIVE_COUNT: '9',
  RAW_EVENT_RETENTION_DAYS: '7',
  TRANSCRIPT_RETENTION_DAYS: '14',
  RECORD_RETENTION_DAYS: '365',
  REDACT_PERSONAL_DATA: 'yes',
  REDACT_FIELDS: 'email, name',
  RECONCILE_LOOKBACK_HOURS: '12',
  RECONCILE_GRACE_SECONDS: '60',
  THREETONE_REQUESTS_PER_MINUTE: '60',
  THREETONE_REQUESTS_PER_HOUR: '600',
  ENRICHMENT_GIVE_UP_HOURS: '2.5',
  ENRICHMENT_MAX_AGE_DAYS: '3',
  QUERY_API_KEY: 'local-key',
  AUDIO_ARCHIVE: 'off',
  AUDIO_RETENTION_DAYS: '30',
};
const TABLE = { TABLE_NAME: 't' };

describe('settings: each loader and its inverse xEnv round-trip', () => {
  it.each([
    ['defaults', {}],
    ['every setting changed', CUSTOM],
    ['redaction off, no signature prefix', { REDACT_PERSONAL_DATA: 'false', WEBHOOK_SIGNATURE_PREFIX: 'none' }],
    ['empty signature prefix', { WEBHOOK_SIGNATURE_PREFIX: '' }],
  ])('%s', (_name, given) => {
    const env = { ...TABLE, ...given };
    const client = loadThreeToneClientConfig(env);
    expect(loadThreeToneClientConfig(threeToneClientEnv(client))).toEqual(client);
    const ingest = loadIngestConfig(env);
    expect(loadIngestConfig(ingestEnv(ingest))).toEqual(ingest);
    const { tableName, ...processor } = loadProcessorConfig(env);
    // The budget is rendered apart (every function that calls ThreeTone gets it), so it joins each round trip.
    expect(loadProcessorConfig({ ...TABLE, ...processorEnv(processor), ...requestBudgetEnv(processor.enrichment.budget) })).toEqual({ tableName, ...processor });
    const { tableName: _t, ...reconciler } = loadReconcilerConfig(env);
    expect(loadReconcilerConfig({ ...TABLE, ...reconcilerEnv(reconciler), ...requestBudgetEnv(reconciler.budget) })).toEqual({ tableName, ...reconciler });
    const query = loadQueryConfig(env);
    expect(loadQueryConfig({ ...TABLE, ...queryEnv(query) })).toEqual(query);
    const erasure = loadErasureSettings(env);
    expect(loadErasureSettings(erasureEnv(erasure))).toEqual(erasure);
  });

  it('reads the custom values as documented', () => {
    expect(loadThreeToneClientConfig(CUSTOM)).toEqual({ baseUrl: 'https://api.threetone.com', timeoutMs: 2500, maxRetries: 1, baseDelayMs: 50, maxDelayMs: 4000 });
    expect(loadIngestConfig(CUSTOM)).toEqual({ signature: { header: 'x-sig', prefix: 'v1=' }, replayWindowSeconds: 600 });
    expect(loadProcessorConfig({ ...CUSTOM, ...TABLE })).toEqual({
      tableName: 't',
      enrichment: { budget: { perMinute: 60, perHour: 600 }, giveUpHours: 2.5, maxAgeDays: 3 },
      alerts: { longDurationSeconds: 90.5, lowSatisfaction: 3 },
      maxReceiveCount: 9,
      retention: { rawEventDays: 7, transcriptDays: 14, recordDays: 365 },
      redactFields: ['email', 'name'],
      audioArchive: false,
    });
    expect(loadAudioRetentionDays(CUSTOM)).toBe(30);
    expect(loadAudioRetentionDays({})).toBe(90);
    expect(loadProcessorConfig(TABLE).audioArchive).toBe(true);
  });

  it('renders every setting with a context key in exactly one function environment', () => {
    const defaults = { ...TABLE };
    const rendered = [
      threeToneClientEnv(loadThreeToneClientConfig(defaults)),
      ingestEnv(loadIngestConfig(defaults)),
      processorEnv(loadProcessorConfig({ ...defaults, REDACT_PERSONAL_DATA: 'true' })),
      reconcilerEnv(loadReconcilerConfig(defaults)),
      requestBudgetEnv(loadRequestBudgetConfig(defaults)),
      erasureEnv(loadErasureSettings(defaults)),
    ].flatMap((env) => Object.keys(env));
    expect(new Set(rendered).size).toBe(rendered.length);
    // The rest are applied by the stack itself (AUDIO_RETENTION_DAYS: the bucket's lifecycle); local-only settings have no context key.
    expect([...rendered, ...STACK_ONLY_SETTINGS.map((s) => s.env)].sort()).toEqual(Object.values(SETTINGS).flatMap((s) => ('context' in s ? [s.env] : [])).sort());
  });

  it.each([
    [{ THREETONE_MAX_RETRIES: '11' }, 'THREETONE_MAX_RETRIES must be <= 10'],
    [{ THREETONE_API_URL: 'ftp://x' }, 'THREETONE_API_URL must be an http(s) URL'],
    [{ ALERT_LOW_SATISFACTION: 'low' }, 'ALERT_LOW_SATISFACTION must be a number'],
    [{ REDACT_PERSONAL_DATA: 'maybe' }, 'REDACT_PERSONAL_DATA must be true or false'],
    [{ RAW_EVENT_RETENTION_DAYS: '1.5' }, 'RAW_EVENT_RETENTION_DAYS must be an integer'],
    [{ AUDIO_ARCHIVE: 'sometimes' }, 'AUDIO_ARCHIVE must be true or false'],
  ])('refuses %j, naming the variable', (env, message) => {
    const load = () => {
      loadThreeToneClientConfig(env);
      loadProcessorConfig({ ...TABLE, ...env });
    };
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(message);
  });
});

describe('local settings: the DynamoDB npm start uses', () => {
  it('defaults to its own DynamoDB Local and table threetone-pipeline', () => {
    expect(loadLocalDynamoDbConfig({})).toEqual({ endpoint: undefined, tableName: 'threetone-pipeline' });
    expect(loadLocalDynamoDbConfig({ DYNAMODB_ENDPOINT: ' ', TABLE_NAME: '' })).toEqual({ endpoint: undefined, tableName: 'threetone-pipeline' });
  });

  it.each([
    ['http://localhost:8000', 'http://localhost:8000'],
    ['http://127.0.0.1:8000/', 'http://127.0.0.1:8000'],
    ['http://[::1]:8000', 'http://[::1]:8000'],
    ['HTTPS://DynamoDB.eu-west-1.amazonaws.com', 'https://dynamodb.eu-west-1.amazonaws.com'],
  ])('takes DYNAMODB_ENDPOINT %s as %s', (raw, endpoint) => {
    expect(loadLocalDynamoDbConfig({ DYNAMODB_ENDPOINT: raw, TABLE_NAME: 'my.table_1-x' })).toEqual({ endpoint, tableName: 'my.table_1-x' });
  });

  it.each([
    [{ DYNAMODB_ENDPOINT: 'localhost:8000' }, 'DYNAMODB_ENDPOINT must be an http(s) URL'],
    [{ DYNAMODB_ENDPOINT: 'ftp://localhost:8000' }, 'DYNAMODB_ENDPOINT must be an http(s) URL'],
    [{ DYNAMODB_ENDPOINT: 'http://localhost:8000/tables' }, 'DYNAMODB_ENDPOINT must be an http(s) URL with no path'],
    [{ DYNAMODB_ENDPOINT: 'http://localhost:8000?region=x' }, 'DYNAMODB_ENDPOINT must be an http(s) URL'],
    [{ DYNAMODB_ENDPOINT: 'not a url' }, 'got "not a url"'],
    [{ TABLE_NAME: 'ab' }, 'TABLE_NAME must be 3-255 letters'],
    [{ TABLE_NAME: 'my table' }, 'TABLE_NAME must be 3-255 letters'],
  ])('refuses %j, naming the variable', (env, message) => {
    expect(() => loadLocalDynamoDbConfig(env)).toThrow(ConfigError);
    expect(() => loadLocalDynamoDbConfig(env)).toThrow(message);
  });

  it.each(['http://AKIAEXAMPLE:s3cr3t@localhost:8000', 'AKIAEXAMPLE:s3cr3t@localhost:8000'])('refuses credentials in %s without repeating them', (raw) => {
    let error: unknown;
    try {
      loadLocalDynamoDbConfig({ DYNAMODB_ENDPOINT: raw });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).setting).toBe('DYNAMODB_ENDPOINT');
    expect((error as Error).message).not.toContain('s3cr3t');
    expect((error as Error).message).not.toContain('AKIAEXAMPLE');
  });
});
