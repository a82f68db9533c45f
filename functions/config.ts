/**
 * Configuration: read from the environment once per cold start and validated, failing fast with a
 * message that names the variable. Each function reads only its own slice. Names are the contract of
 * DESIGN.md and README.md ("Configuration").
 */

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function str(env: Env, name: string, fallback?: string): string {
  const v = env[name]?.trim();
  if (v) return v;
  if (fallback !== undefined) return fallback;
  throw new ConfigError(`${name} is required`);
}

function optional(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v ? v : undefined;
}

function num(env: Env, name: string, fallback: number, opts: { min?: number; max?: number; integer?: boolean } = {}): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n)) throw new ConfigError(`${name} must be a number, got "${raw}"`);
  if (opts.integer && !Number.isInteger(n)) throw new ConfigError(`${name} must be an integer, got "${raw}"`);
  if (opts.min !== undefined && n < opts.min) throw new ConfigError(`${name} must be >= ${opts.min}, got ${n}`);
  if (opts.max !== undefined && n > opts.max) throw new ConfigError(`${name} must be <= ${opts.max}, got ${n}`);
  return n;
}

function list(env: Env, name: string, fallback: string[]): string[] {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  return raw.split(',').map((s) => s.trim()).filter(Boolean);
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (!raw) return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

/** Largest accepted webhook body (DESIGN.md: 256 KiB, then 413). */
export const MAX_WEBHOOK_BYTES = 256 * 1024;

export interface SignatureConfig {
  /** Lower-case header name. */
  readonly header: string;
  readonly prefix: string;
}

export interface IngestConfig {
  readonly signature: SignatureConfig;
  readonly replayWindowSeconds: number;
}

export function loadIngestConfig(env: Env = process.env): IngestConfig {
  return {
    signature: loadSignatureConfig(env),
    replayWindowSeconds: num(env, 'REPLAY_WINDOW_SECONDS', 86_400, { min: 1 }),
  };
}

export function loadSignatureConfig(env: Env = process.env): SignatureConfig {
  return {
    header: str(env, 'WEBHOOK_SIGNATURE_HEADER', 'x-threetone-signature').toLowerCase(),
    prefix: env.WEBHOOK_SIGNATURE_PREFIX ?? 'sha256=',
  };
}

export interface ThreeToneClientConfig {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  /** Retries after the first attempt, for timeouts, network errors, 429 and 5xx. */
  readonly maxRetries: number;
  readonly baseDelayMs: number;
  /** Upper bound for one wait, including a `Retry-After`. */
  readonly maxDelayMs: number;
}

export function loadThreeToneClientConfig(env: Env = process.env): ThreeToneClientConfig {
  const baseUrl = str(env, 'THREETONE_API_URL', 'https://api.threetone.in').replace(/\/+$/, '');
  if (!/^https?:\/\//.test(baseUrl)) throw new ConfigError(`THREETONE_API_URL must be an http(s) URL, got "${baseUrl}"`);
  return {
    baseUrl,
    timeoutMs: num(env, 'THREETONE_TIMEOUT_MS', 5_000, { min: 100, integer: true }),
    maxRetries: num(env, 'THREETONE_MAX_RETRIES', 3, { min: 0, max: 10, integer: true }),
    baseDelayMs: num(env, 'THREETONE_RETRY_BASE_MS', 200, { min: 0, integer: true }),
    maxDelayMs: num(env, 'THREETONE_RETRY_MAX_MS', 10_000, { min: 0, integer: true }),
  };
}

export const DEFAULT_REDACT_FIELDS = [
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

export interface ProcessorConfig {
  readonly tableName: string;
  readonly alerts: { longDurationSeconds: number; lowSatisfaction: number };
  /** The queue's maxReceiveCount: on the last attempt a failure also raises a Platform Alert. */
  readonly maxReceiveCount: number;
  readonly retention: { rawEventDays: number; transcriptDays: number; recordDays: number };
  /** Fields (any depth) replaced by "[redacted]" in `ThreeTone Event` details. */
  readonly redactFields: string[];
}

export function loadProcessorConfig(env: Env = process.env): ProcessorConfig {
  return {
    tableName: str(env, 'TABLE_NAME'),
    alerts: loadAlertThresholds(env),
    maxReceiveCount: num(env, 'MAX_RECEIVE_COUNT', 5, { min: 1, integer: true }),
    retention: {
      rawEventDays: num(env, 'RAW_EVENT_RETENTION_DAYS', 30, { min: 0 }),
      transcriptDays: num(env, 'TRANSCRIPT_RETENTION_DAYS', 0, { min: 0 }),
      recordDays: num(env, 'RECORD_RETENTION_DAYS', 0, { min: 0 }),
    },
    redactFields: bool(env, 'REDACT_PERSONAL_DATA', true) ? list(env, 'REDACT_FIELDS', DEFAULT_REDACT_FIELDS) : [],
  };
}

export function loadAlertThresholds(env: Env = process.env) {
  return {
    longDurationSeconds: num(env, 'ALERT_LONG_DURATION_SECONDS', 600, { min: 0 }),
    lowSatisfaction: num(env, 'ALERT_LOW_SATISFACTION', 2.5),
  };
}

export interface QueryConfig {
  readonly tableName: string;
  /** Local only: when set, requests need `x-api-key` equal to it. On AWS, IAM authorizes. */
  readonly apiKey: string | undefined;
}

export function loadQueryConfig(env: Env = process.env): QueryConfig {
  return { tableName: str(env, 'TABLE_NAME'), apiKey: optional(env, 'QUERY_API_KEY') };
}

export interface ReconcilerConfig {
  readonly tableName: string;
  readonly lookbackHours: number;
  /** Outbox entries older than this are published by the sweep (younger ones are in flight). */
  readonly outboxGraceSeconds: number;
}

export function loadReconcilerConfig(env: Env = process.env): ReconcilerConfig {
  return {
    tableName: str(env, 'TABLE_NAME'),
    lookbackHours: num(env, 'RECONCILE_LOOKBACK_HOURS', 6, { min: 1 }),
    outboxGraceSeconds: num(env, 'OUTBOX_GRACE_SECONDS', 300, { min: 0 }),
  };
}

export interface LivePublisherConfig {
  /** The Event API's HTTP domain (`<id>.appsync-api.<region>.amazonaws.com`). */
  readonly httpDomain: string;
  readonly region: string;
}

export function loadLivePublisherConfig(env: Env = process.env): LivePublisherConfig {
  return { httpDomain: str(env, 'LIVE_EVENTS_HTTP_DOMAIN'), region: str(env, 'AWS_REGION') };
}

export { str as requireEnv, optional as optionalEnv, list as listEnv, bool as boolEnv, num as numEnv };
