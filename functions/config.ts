/**
 * Settings: the one home of every function setting's environment variable, CDK context key, default
 * and valid range (`SETTINGS`). Each function reads its own slice once per cold start with a
 * `loadXConfig(env)`, failing fast with a message naming the variable; beside each, `xEnv(settings)`
 * renders the same object back as environment, which is how the CDK constructs set it (lib/config.ts
 * reads the context keys through these same loaders). A round-trip test keeps each pair exact.
 * README.md ("Settings") documents each setting once; a test keeps the table in step with `SETTINGS`.
 * A setting without a context key is read by the local runtime (`npm start`) alone; README.md
 * documents those under "Local settings".
 */
import type { AlertThresholds } from '#core/types.js';

export class ConfigError extends Error {
  /** The environment variable at fault, and what is wrong with its value (for callers that rename it). */
  readonly setting: string | undefined;
  readonly detail: string | undefined;

  constructor(message: string, setting?: string, detail?: string) {
    super(message);
    this.name = 'ConfigError';
    this.setting = setting;
    this.detail = detail;
  }
}

export type Env = Record<string, string | undefined>;

const invalid = (name: string, detail: string) => new ConfigError(`${name} ${detail}`, name, detail);

function str(env: Env, name: string, fallback?: string): string {
  const v = env[name]?.trim();
  if (v) return v;
  if (fallback !== undefined) return fallback;
  throw invalid(name, 'is required');
}

function optional(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v ? v : undefined;
}

interface Range {
  readonly min?: number;
  readonly max?: number;
  readonly integer?: boolean;
}

function num(env: Env, name: string, fallback: number, opts: Range = {}): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n)) throw invalid(name, `must be a number, got "${raw}"`);
  if (opts.integer && !Number.isInteger(n)) throw invalid(name, `must be an integer, got "${raw}"`);
  if (opts.min !== undefined && n < opts.min) throw invalid(name, `must be >= ${opts.min}, got ${n}`);
  if (opts.max !== undefined && n > opts.max) throw invalid(name, `must be <= ${opts.max}, got ${n}`);
  return n;
}

function list(env: Env, name: string, fallback: readonly string[]): string[] {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return [...fallback];
  return raw.split(',').map((s) => s.trim()).filter(Boolean);
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (!raw) return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw invalid(name, `must be true or false, got "${raw}"`);
}

// ---------------------------------------------------------------- the settings

/** One setting: its environment variable, its CDK context key, its default, how it is read and written. */
export interface Setting<T> {
  readonly env: string;
  /** The CDK context key that sets it on AWS; absent for local-only settings. */
  readonly context?: string;
  readonly default: T;
  read(env: Env): T;
  write(value: T): string;
}

const number = (env: string, context: string, def: number, range: Range = {}): Setting<number> => ({
  env,
  context,
  default: def,
  read: (e) => num(e, env, def, range),
  write: String,
});
const integer = (env: string, context: string, def: number, range: Omit<Range, 'integer'> = {}) =>
  number(env, context, def, { ...range, integer: true });

const flag = (env: string, context: string, def: boolean): Setting<boolean> => ({
  env,
  context,
  default: def,
  read: (e) => bool(e, env, def),
  write: String,
});

function text(env: string, context: string | undefined, def: string, pattern: RegExp, expected: string, normalize = (s: string) => s): Setting<string> {
  return {
    env,
    ...(context !== undefined && { context }),
    default: def,
    read(e) {
      const v = str(e, env, def);
      if (!pattern.test(v)) throw invalid(env, `must be ${expected}, got "${v}"`);
      return normalize(v);
    },
    write: (v) => v,
  };
}

/**
 * An http(s) endpoint, scheme://host[:port] only (returned as its origin). Credentials in the URL are
 * refused without echoing the value: they belong to the AWS credential chain, never to a setting.
 */
function endpointUrl(e: Env, name: string): string | undefined {
  const raw = optional(e, name);
  if (raw === undefined) return undefined;
  const shown = raw.includes('@') ? '(not shown: it looks like it holds credentials)' : `"${raw}"`;
  const expected = `must be an http(s) URL with no path, e.g. http://localhost:8000 or https://dynamodb.eu-west-1.amazonaws.com; got ${shown}`;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid(name, expected);
  }
  if (url.username || url.password) throw invalid(name, 'must not hold credentials (they come from the AWS credential chain: environment, profile, SSO, …)');
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.pathname !== '/' || url.search || url.hash) throw invalid(name, expected);
  return url.origin;
}

/** A local-only endpoint setting: unset by default. */
const endpoint = (env: string): Setting<string | undefined> => ({ env, default: undefined, read: (e) => endpointUrl(e, env), write: (v) => v ?? '' });

export const DEFAULT_REDACT_FIELDS: readonly string[] = [
  'phone_number',
  'caller_id',
  'from_number',
  'to_number',
  'customer_phone',
  'email',
  'customer_email',
  'customer_name',
  'transcript',
];

/** Every function setting. Adding one here gives it an env var, a context key and a default in one line. */
export const SETTINGS = {
  threeToneApiUrl: text('THREETONE_API_URL', 'threeToneApiUrl', 'https://api.threetone.in', /^https?:\/\/[^\s/]+(\/\S*)?$/, 'an http(s) URL', (s) => s.replace(/\/+$/, '')),
  threeToneTimeoutMs: integer('THREETONE_TIMEOUT_MS', 'threeToneTimeoutMs', 5_000, { min: 100, max: 30_000 }),
  threeToneMaxRetries: integer('THREETONE_MAX_RETRIES', 'threeToneMaxRetries', 3, { min: 0, max: 10 }),
  threeToneRetryBaseMs: integer('THREETONE_RETRY_BASE_MS', 'threeToneRetryBaseMs', 200, { min: 0, max: 60_000 }),
  threeToneRetryMaxMs: integer('THREETONE_RETRY_MAX_MS', 'threeToneRetryMaxMs', 10_000, { min: 0, max: 60_000 }),

  webhookSignatureHeader: text('WEBHOOK_SIGNATURE_HEADER', 'webhookSignatureHeader', 'x-threetone-signature', /^[A-Za-z0-9-]{1,100}$/, 'an HTTP header name', (s) => s.toLowerCase()),
  /** Empty, or `none`, for no prefix. */
  webhookSignaturePrefix: {
    env: 'WEBHOOK_SIGNATURE_PREFIX',
    context: 'webhookSignaturePrefix',
    default: 'sha256=',
    read(e) {
      const raw = e.WEBHOOK_SIGNATURE_PREFIX;
      if (raw === undefined) return 'sha256=';
      const v = raw.trim();
      if (v === '' || v === 'none') return '';
      if (!/^[!-~]{1,32}$/.test(v)) throw invalid('WEBHOOK_SIGNATURE_PREFIX', `must be printable ASCII without spaces, or "none", got "${v}"`);
      return v;
    },
    write: (v) => (v === '' ? 'none' : v),
  } satisfies Setting<string>,
  replayWindowSeconds: integer('REPLAY_WINDOW_SECONDS', 'replayWindowSeconds', 86_400, { min: 1 }),

  alertLongDurationSeconds: number('ALERT_LONG_DURATION_SECONDS', 'alertLongDurationSeconds', 600, { min: 0 }),
  alertLowSatisfaction: number('ALERT_LOW_SATISFACTION', 'alertLowSatisfaction', 2.5),
  maxReceiveCount: integer('MAX_RECEIVE_COUNT', 'maxReceiveCount', 5, { min: 1, max: 1_000 }),
  rawEventRetentionDays: integer('RAW_EVENT_RETENTION_DAYS', 'rawEventRetentionDays', 30, { min: 0 }),
  transcriptRetentionDays: integer('TRANSCRIPT_RETENTION_DAYS', 'transcriptRetentionDays', 0, { min: 0 }),
  recordRetentionDays: integer('RECORD_RETENTION_DAYS', 'recordRetentionDays', 0, { min: 0 }),
  redactPersonalData: flag('REDACT_PERSONAL_DATA', 'redactPersonalData', true),
  redactFields: {
    env: 'REDACT_FIELDS',
    context: 'redactFields',
    default: DEFAULT_REDACT_FIELDS,
    read: (e) => list(e, 'REDACT_FIELDS', DEFAULT_REDACT_FIELDS),
    write: (v) => v.join(','),
  } satisfies Setting<readonly string[]>,

  threeToneRequestsPerMinute: integer('THREETONE_REQUESTS_PER_MINUTE', 'threeToneRequestsPerMinute', 100, { min: 2 }),
  threeToneRequestsPerHour: integer('THREETONE_REQUESTS_PER_HOUR', 'threeToneRequestsPerHour', 1_000, { min: 2 }),
  enrichmentGiveUpHours: number('ENRICHMENT_GIVE_UP_HOURS', 'enrichmentGiveUpHours', 6, { min: 0 }),
  enrichmentMaxAgeDays: number('ENRICHMENT_MAX_AGE_DAYS', 'enrichmentMaxAgeDays', 7, { min: 0 }),

  reconcileLookbackHours: integer('RECONCILE_LOOKBACK_HOURS', 'reconcileLookbackHours', 6, { min: 1, max: 168 }),
  reconcileGraceSeconds: integer('RECONCILE_GRACE_SECONDS', 'reconcileGraceSeconds', 300, { min: 0 }),

  erasureTombstoneDays: integer('ERASURE_TOMBSTONE_DAYS', 'erasureTombstoneDays', 45, { min: 0 }),

  audioArchive: flag('AUDIO_ARCHIVE', 'audioArchive', true),
  audioRetentionDays: integer('AUDIO_RETENTION_DAYS', 'audioRetentionDays', 90, { min: 0 }),

  /** Local only: an existing DynamoDB (another DynamoDB Local, or AWS) instead of `npm start`'s own. */
  dynamoDbEndpoint: endpoint('DYNAMODB_ENDPOINT'),
  /** Local only: `npm start`'s table. On AWS the stack sets TABLE_NAME to the table it creates. */
  localTableName: text('TABLE_NAME', undefined, 'threetone-pipeline', /^[A-Za-z0-9_.-]{3,255}$/, '3-255 letters, digits, "_", "-" or "."'),
} as const;

/** The alert threshold settings, one per field of `AlertThresholds` (the compiler keeps them in step). */
const ALERT_SETTINGS: { readonly [K in keyof AlertThresholds]: Setting<number> } = {
  longDurationSeconds: SETTINGS.alertLongDurationSeconds,
  lowSatisfaction: SETTINGS.alertLowSatisfaction,
};

/** `{ [env name]: rendered value }` for the given settings and values. */
function render<K extends string>(settings: { readonly [P in K]: Setting<any> }, values: { readonly [P in K]: unknown }): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of Object.keys(settings) as K[]) env[settings[key].env] = settings[key].write(values[key]);
  return env;
}

type ValuesOf<S> = { -readonly [K in keyof S]: S[K] extends Setting<infer T> ? T : never };

function readAll<S extends Record<string, Setting<any>>>(settings: S, env: Env): ValuesOf<S> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(settings)) out[key] = settings[key]!.read(env);
  return out as ValuesOf<S>;
}

/**
 * The value the stack creates the ThreeTone API key secret with. The processor recognises it and
 * never sends it: enrichment waits for the real key (functions/enricher/api-key-wait.ts).
 */
export const THREETONE_API_KEY_PLACEHOLDER = 'PLACEHOLDER-put-your-ThreeTone-API-key-here';

/** Largest accepted webhook body: 256 KiB, then 413. */
export const MAX_WEBHOOK_BYTES = 256 * 1024;

// ---------------------------------------------------------------- ThreeTone client (processor, reconciler)

export interface ThreeToneClientConfig {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  /** Retries after the first attempt, for timeouts, network errors, 429 and 5xx. */
  readonly maxRetries: number;
  readonly baseDelayMs: number;
  /** Upper bound for one wait, including a `Retry-After`. */
  readonly maxDelayMs: number;
}

const THREETONE_CLIENT = {
  baseUrl: SETTINGS.threeToneApiUrl,
  timeoutMs: SETTINGS.threeToneTimeoutMs,
  maxRetries: SETTINGS.threeToneMaxRetries,
  baseDelayMs: SETTINGS.threeToneRetryBaseMs,
  maxDelayMs: SETTINGS.threeToneRetryMaxMs,
} as const;

export const loadThreeToneClientConfig = (env: Env = process.env): ThreeToneClientConfig => readAll(THREETONE_CLIENT, env);
export const threeToneClientEnv = (config: ThreeToneClientConfig) => render(THREETONE_CLIENT, config);

// ---------------------------------------------------------------- ingest

export interface SignatureConfig {
  /** Lower-case header name. */
  readonly header: string;
  readonly prefix: string;
}

export interface IngestConfig {
  readonly signature: SignatureConfig;
  readonly replayWindowSeconds: number;
}

export function loadSignatureConfig(env: Env = process.env): SignatureConfig {
  return { header: SETTINGS.webhookSignatureHeader.read(env), prefix: SETTINGS.webhookSignaturePrefix.read(env) };
}

export function loadIngestConfig(env: Env = process.env): IngestConfig {
  return { signature: loadSignatureConfig(env), replayWindowSeconds: SETTINGS.replayWindowSeconds.read(env) };
}

export function ingestEnv(config: IngestConfig): Record<string, string> {
  return {
    [SETTINGS.webhookSignatureHeader.env]: SETTINGS.webhookSignatureHeader.write(config.signature.header),
    [SETTINGS.webhookSignaturePrefix.env]: SETTINGS.webhookSignaturePrefix.write(config.signature.prefix),
    [SETTINGS.replayWindowSeconds.env]: SETTINGS.replayWindowSeconds.write(config.replayWindowSeconds),
  };
}

// ---------------------------------------------------------------- processor

/** Enrichment from ThreeTone's REST API: its quota, and how long a conversation waits for details. */
export interface EnrichmentConfig {
  /** ThreeTone's request quota for your plan (shared by every caller: processor, enricher, reconciler). */
  readonly budget: { readonly perMinute: number; readonly perHour: number };
  /** After this long without details an ended conversation is completed from webhook facts (`gave_up`). */
  readonly giveUpHours: number;
  /** After this long a conversation leaves the enrichment queue, enriched or not. */
  readonly maxAgeDays: number;
}

const BUDGET = { perMinute: SETTINGS.threeToneRequestsPerMinute, perHour: SETTINGS.threeToneRequestsPerHour } as const;
const ENRICHMENT = { giveUpHours: SETTINGS.enrichmentGiveUpHours, maxAgeDays: SETTINGS.enrichmentMaxAgeDays } as const;

/** ThreeTone's quota: read by every function that calls ThreeTone, rendered like the client's settings. */
export const loadRequestBudgetConfig = (env: Env = process.env): EnrichmentConfig['budget'] => readAll(BUDGET, env);
export const requestBudgetEnv = (budget: EnrichmentConfig['budget']) => render(BUDGET, budget);

export const loadEnrichmentConfig = (env: Env = process.env): EnrichmentConfig => ({ budget: loadRequestBudgetConfig(env), ...readAll(ENRICHMENT, env) });
/** The enrichment waits (the budget is rendered apart, by `requestBudgetEnv`). */
const enrichmentEnv = ({ budget: _budget, ...waits }: EnrichmentConfig): Record<string, string> => render(ENRICHMENT, waits);

export interface ProcessorConfig {
  readonly tableName: string;
  readonly enrichment: EnrichmentConfig;
  readonly alerts: AlertThresholds;
  /** The queue's maxReceiveCount: on the last attempt a failure also raises a Platform Alert. */
  readonly maxReceiveCount: number;
  readonly retention: { rawEventDays: number; transcriptDays: number; recordDays: number };
  /** Fields (any depth) replaced by "[redacted]" in `ThreeTone Event` details; empty when redaction is off. */
  readonly redactFields: string[];
  /** AUDIO_ARCHIVE: ended conversations' recordings are fetched and archived (README "Audio"). */
  readonly audioArchive: boolean;
}

/** What a deployment sets; the table name comes with the table's binding. */
export type ProcessorSettings = Omit<ProcessorConfig, 'tableName'>;

const RETENTION = {
  rawEventDays: SETTINGS.rawEventRetentionDays,
  transcriptDays: SETTINGS.transcriptRetentionDays,
  recordDays: SETTINGS.recordRetentionDays,
} as const;

export const loadAlertThresholds = (env: Env = process.env): AlertThresholds => readAll(ALERT_SETTINGS, env);

export function loadProcessorSettings(env: Env = process.env): ProcessorSettings {
  return {
    enrichment: loadEnrichmentConfig(env),
    alerts: loadAlertThresholds(env),
    maxReceiveCount: SETTINGS.maxReceiveCount.read(env),
    retention: readAll(RETENTION, env),
    redactFields: SETTINGS.redactPersonalData.read(env) ? [...SETTINGS.redactFields.read(env)] : [],
    audioArchive: SETTINGS.audioArchive.read(env),
  };
}

export function loadProcessorConfig(env: Env = process.env): ProcessorConfig {
  return { tableName: str(env, 'TABLE_NAME'), ...loadProcessorSettings(env) };
}

export function processorEnv(settings: ProcessorSettings): Record<string, string> {
  const redact = settings.redactFields.length > 0;
  return {
    ...render(ALERT_SETTINGS, settings.alerts),
    ...enrichmentEnv(settings.enrichment),
    [SETTINGS.maxReceiveCount.env]: SETTINGS.maxReceiveCount.write(settings.maxReceiveCount),
    ...render(RETENTION, settings.retention),
    [SETTINGS.redactPersonalData.env]: SETTINGS.redactPersonalData.write(redact),
    ...(redact && { [SETTINGS.redactFields.env]: SETTINGS.redactFields.write(settings.redactFields) }),
    [SETTINGS.audioArchive.env]: SETTINGS.audioArchive.write(settings.audioArchive),
  };
}

/**
 * Days an archived recording is kept (AUDIO_RETENTION_DAYS, 0: forever): the bucket's lifecycle rule
 * on AWS (no function reads it there). Locally nothing expires, as DynamoDB Local runs no TTL either.
 */
export const loadAudioRetentionDays = (env: Env = process.env): number => SETTINGS.audioRetentionDays.read(env);

/** The settings no function reads: the stack applies them itself (AUDIO_RETENTION_DAYS: the bucket's lifecycle). */
export const STACK_ONLY_SETTINGS: readonly Setting<unknown>[] = [SETTINGS.audioRetentionDays];

/** The bucket of archived recordings (set with its IAM grant: lib/constructs/node-function.ts `bindAudioBucket`). */
export const AUDIO_BUCKET_ENV = 'AUDIO_BUCKET_NAME';

// ---------------------------------------------------------------- query

export interface QueryConfig {
  readonly tableName: string;
  /** Local only: when set, requests need `x-api-key` equal to it. On AWS, IAM authorizes. */
  readonly apiKey: string | undefined;
}

export function loadQueryConfig(env: Env = process.env): QueryConfig {
  return { tableName: str(env, 'TABLE_NAME'), apiKey: optional(env, 'QUERY_API_KEY') };
}

/** Local only (on AWS, IAM authorizes the query routes and this is never set). */
export function queryEnv(config: Omit<QueryConfig, 'tableName'>): Record<string, string> {
  return config.apiKey === undefined ? {} : { QUERY_API_KEY: config.apiKey };
}

// ---------------------------------------------------------------- reconciler

export interface ReconcilerConfig {
  readonly tableName: string;
  readonly lookbackHours: number;
  /** Conversations that ended less than this ago are left to their webhooks (they may still be queued). */
  readonly reconcileGraceSeconds: number;
  /** ThreeTone's quota: the reconciler's listing draws on the same budget as enrichment. */
  readonly budget: EnrichmentConfig['budget'];
}

export type ReconcilerSettings = Omit<ReconcilerConfig, 'tableName'>;

const RECONCILER = { lookbackHours: SETTINGS.reconcileLookbackHours, reconcileGraceSeconds: SETTINGS.reconcileGraceSeconds } as const;

export const loadReconcilerSettings = (env: Env = process.env): ReconcilerSettings => ({ ...readAll(RECONCILER, env), budget: loadRequestBudgetConfig(env) });

export function loadReconcilerConfig(env: Env = process.env): ReconcilerConfig {
  return { tableName: str(env, 'TABLE_NAME'), ...loadReconcilerSettings(env) };
}

/** The reconciler's own settings (its budget is rendered by `requestBudgetEnv`). */
export const reconcilerEnv = ({ budget: _budget, ...settings }: ReconcilerSettings) => render(RECONCILER, settings);

// ---------------------------------------------------------------- erasure

export interface ErasureConfig {
  readonly tableName: string;
  /** Local only, as for the query routes: when set, requests need `x-api-key` equal to it. On AWS, IAM authorizes. */
  readonly apiKey: string | undefined;
  /** Days an erasure's tombstone is kept (0: forever). */
  readonly tombstoneDays: number;
}

export type ErasureSettings = Pick<ErasureConfig, 'tombstoneDays'>;

const ERASURE = { tombstoneDays: SETTINGS.erasureTombstoneDays } as const;

export const loadErasureSettings = (env: Env = process.env): ErasureSettings => readAll(ERASURE, env);

export function loadErasureConfig(env: Env = process.env): ErasureConfig {
  return { tableName: str(env, 'TABLE_NAME'), apiKey: optional(env, 'QUERY_API_KEY'), ...loadErasureSettings(env) };
}

export const erasureEnv = (settings: ErasureSettings) => render(ERASURE, settings);

// ---------------------------------------------------------------- local runtime (npm start) only

export interface LocalDynamoDbConfig {
  /** An existing DynamoDB's endpoint (URL origin); undefined: start the embedded DynamoDB Local. */
  readonly endpoint: string | undefined;
  readonly tableName: string;
}

const LOCAL_DYNAMODB = { endpoint: SETTINGS.dynamoDbEndpoint, tableName: SETTINGS.localTableName } as const;

export const loadLocalDynamoDbConfig = (env: Env = process.env): LocalDynamoDbConfig => readAll(LOCAL_DYNAMODB, env);

/** Local default of the caller lookup key (`CALLER_HASH_KEY`); on AWS a generated secret. Never use it outside a laptop. */
export const DEV_CALLER_HASH_KEY = 'local-dev-caller-hash-key';

// ---------------------------------------------------------------- live publisher

/** Set by the live-stream construct from the Event API it creates (not a deployment setting). */
export interface LivePublisherConfig {
  /** The Event API's HTTP domain (`<id>.appsync-api.<region>.amazonaws.com`). */
  readonly httpDomain: string;
  readonly region: string;
}

export function loadLivePublisherConfig(env: Env = process.env): LivePublisherConfig {
  return { httpDomain: str(env, 'LIVE_EVENTS_HTTP_DOMAIN'), region: str(env, 'AWS_REGION') };
}

export { str as requireEnv, optional as optionalEnv, list as listEnv, bool as boolEnv, num as numEnv };
