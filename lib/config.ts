/**
 * Deployment configuration: every setting of the CDK app, read once from CDK context (`cdk.json`
 * "context", or `-c key=value` on the command line) and validated, failing synth with a message that
 * names the key. Two kinds of keys:
 * - function settings: their context keys, defaults and ranges live in functions/config.ts
 *   (`SETTINGS`, documented in README.md "Settings"), read here through the functions' own loaders;
 * - deployment keys (`CONTEXT` below: stacks, API throttling, alarms, schedules), documented in
 *   docs/aws-deployment.md ("Configuration").
 * Tests keep both tables in step with the docs. Derived values (the processor's timeout, the queue's
 * visibility timeout, the queue-age alarm) come from functions/processor/schedule.ts.
 *
 * Values from `-c` arrive as strings, values from cdk.json as JSON types: both are accepted.
 */
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  ConfigError,
  type Env,
  type ErasureSettings,
  loadAudioRetentionDays,
  loadErasureSettings,
  type IngestConfig,
  loadIngestConfig,
  loadProcessorSettings,
  loadReconcilerSettings,
  loadThreeToneClientConfig,
  type ProcessorSettings,
  type ReconcilerSettings,
  SETTINGS,
  type ThreeToneClientConfig,
} from '#functions/config.js';
import { type ProcessingSchedule, processingSchedule, ScheduleError } from '#functions/processor/schedule.js';

export class PipelineConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PipelineConfigError';
  }
}

/** One context key: its default, what it means, and how a raw value becomes a typed one. */
export interface ContextKey<T> {
  readonly default: T;
  readonly description: string;
  parse(raw: unknown, key: string): T;
}

interface Range {
  readonly min?: number;
  readonly max?: number;
}

const isUnset = (raw: unknown) => raw === undefined || raw === null || (typeof raw === 'string' && raw.trim() === '');

function toNumber(raw: unknown, key: string): number {
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' ? Number(raw.trim()) : Number.NaN;
  if (!Number.isFinite(n)) throw new PipelineConfigError(`context "${key}" must be a number, got ${JSON.stringify(raw)}`);
  return n;
}

function checkRange(n: number, key: string, { min, max }: Range): number {
  if (min !== undefined && n < min) throw new PipelineConfigError(`context "${key}" must be >= ${min}, got ${n}`);
  if (max !== undefined && n > max) throw new PipelineConfigError(`context "${key}" must be <= ${max}, got ${n}`);
  return n;
}

function integer(def: number, description: string, range: Range = {}): ContextKey<number> {
  return {
    default: def,
    description,
    parse(raw, key) {
      if (isUnset(raw)) return def;
      const n = toNumber(raw, key);
      if (!Number.isInteger(n)) throw new PipelineConfigError(`context "${key}" must be an integer, got ${n}`);
      return checkRange(n, key, range);
    },
  };
}

function decimal(def: number, description: string, range: Range = {}): ContextKey<number> {
  return {
    default: def,
    description,
    parse: (raw, key) => (isUnset(raw) ? def : checkRange(toNumber(raw, key), key, range)),
  };
}

/** Trimmed text matching `pattern`, or a clear error naming the context key. */
function matching(pattern: RegExp, expected: string) {
  return (raw: unknown, key: string): string => {
    const s = String(raw).trim();
    if (!pattern.test(s)) throw new PipelineConfigError(`context "${key}" must be ${expected}, got ${JSON.stringify(raw)}`);
    return s;
  };
}

function text(def: string, description: string, pattern: RegExp, expected: string): ContextKey<string> {
  const check = matching(pattern, expected);
  return { default: def, description, parse: (raw, key) => (isUnset(raw) ? def : check(raw, key)) };
}

function optionalText(description: string, pattern: RegExp, expected: string): ContextKey<string | undefined> {
  const check = matching(pattern, expected);
  return { default: undefined, description, parse: (raw, key) => (isUnset(raw) ? undefined : check(raw, key)) };
}

const RETENTION_VALUES = new Set(
  Object.values(RetentionDays).filter((v): v is RetentionDays => typeof v === 'number'),
);

function retentionDays(def: RetentionDays, description: string): ContextKey<RetentionDays> {
  return {
    default: def,
    description,
    parse(raw, key) {
      if (isUnset(raw)) return def;
      const n = toNumber(raw, key);
      if (!RETENTION_VALUES.has(n)) {
        throw new PipelineConfigError(
          `context "${key}" must be one of CloudWatch Logs' retention periods (${[...RETENTION_VALUES].join(', ')}), got ${n}`,
        );
      }
      return n as RetentionDays;
    },
  };
}

/** A Secrets Manager ARN including its 6-character suffix (a partial ARN would need a wildcard grant). */
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$/;
const SECRET_ARN_TEXT = 'a complete Secrets Manager secret ARN (ending in the 6-character suffix)';

/** Every deployment key the app reads, with its default. Documented in docs/aws-deployment.md. */
export const CONTEXT = {
  stackPrefix: text('ThreeTonePipeline', 'Prefix of the stack names (`<prefix>-Stateful`, `<prefix>-Stateless`); change it to deploy a second copy in the same account and region.', /^[A-Za-z][A-Za-z0-9-]{0,100}$/, 'letters, digits and dashes, starting with a letter'),
  serviceName: text('threetone-pipeline', 'Powertools service name: the `service` key of every log line and the `service` dimension of the custom metrics. Give each copy in one account its own.', /^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, ".", "_" or "-"'),
  logLevel: text(
    'INFO',
    "Powertools log level of all functions (`POWERTOOLS_LOG_LEVEL`), also Lambda's application log level: DEBUG or INFO. Not above: Lambda files the custom metrics' lines (which carry no level) as INFO and would drop them, and the alarms built on them with them.",
    /^(DEBUG|INFO)$/,
    'DEBUG or INFO (above INFO, Lambda would drop the custom metrics and their alarms)',
  ),
  logRetentionDays: retentionDays(RetentionDays.ONE_MONTH, 'Retention of the function and API access log groups, in days (a CloudWatch Logs retention value).'),

  webhookSecretArn: optionalText('Import an existing webhook secret instead of creating one (its SecretString: one secret or several, comma-separated).', SECRET_ARN, SECRET_ARN_TEXT),
  apiKeySecretArn: optionalText('Import an existing secret holding the ThreeTone API key instead of creating one.', SECRET_ARN, SECRET_ARN_TEXT),

  webhookThrottleRate: decimal(50, 'Steady-state requests per second allowed on `POST /webhooks/threetone` (API Gateway route throttling).', { min: 1, max: 10_000 }),
  webhookThrottleBurst: integer(100, 'Burst allowed on `POST /webhooks/threetone`.', { min: 1, max: 5_000 }),
  queryThrottleRate: decimal(10, 'Steady-state requests per second allowed on each query route.', { min: 1, max: 10_000 }),
  queryThrottleBurst: integer(20, 'Burst allowed on each query route.', { min: 1, max: 5_000 }),

  processorBatchSize: integer(10, 'SQS messages per processor invocation.', { min: 1, max: 10 }),
  processorMaxConcurrency: integer(2, 'Most concurrent processor invocations (SQS event source maximum concurrency, at least 2): bounds the calls to ThreeTone (100 requests/minute).', { min: 2, max: 1_000 }),
  eventArchiveRetentionDays: integer(90, 'Days the EventBridge archive keeps published events for replay; 0 = forever.', { min: 0 }),
  reconcileScheduleMinutes: integer(15, 'Minutes between reconciler runs.', { min: 1, max: 1_440 }),

  liveApiKeyExpiryDays: integer(365, 'Days until the live stream\'s API key (subscribe only) expires, counted from each deploy (AppSync allows 1 to 365): redeploy within that time to extend it.', { min: 1, max: 365 }),
  liveAllowedOrigins: optionalText('Comma-separated origins allowed to call the query API from a browser (CORS), i.e. where the live page is served: https origins, or `http://localhost:<port>`; unset = no CORS.', /^(https:\/\/[^\s,/]+|http:\/\/(localhost|127\.0\.0\.1)(:\d+)?)(,(https:\/\/[^\s,/]+|http:\/\/(localhost|127\.0\.0\.1)(:\d+)?))*$/, 'https origins (or http://localhost:<port>) separated by commas, no paths'),

  alarmEmail: optionalText('E-mail address subscribed to the alarm topic (confirm the subscription mail).', /^[^\s@]+@[^\s@]+\.[^\s@]+$/, 'an e-mail address'),
  alarmQueueAgeMarginSeconds: integer(300, 'Alarm when the oldest queued message is older than its longest normal retry schedule plus this.', { min: 60 }),
  alarmProcessorErrors: integer(1, 'Alarm when processor invocations fail (crash or timeout) at least this many times in 5 minutes.', { min: 1 }),
  alarmApi5xx: integer(1, 'Alarm when the HTTP API answers 5xx at least this many times in 5 minutes.', { min: 1 }),
  alarmSignatureFailures: integer(20, 'Alarm when at least this many webhooks fail signature or replay checks in 5 minutes.', { min: 1 }),
  alarmThreeToneThrottled: integer(10, 'Alarm when ThreeTone answers 429 at least this many times in 5 minutes.', { min: 1 }),
  alarmEnrichmentAgeMinutes: integer(120, "Alarm when the oldest conversation waiting for ThreeTone's details ended at least this many minutes ago (back-pressure: the quota is too small for the traffic, or ThreeTone is down).", { min: 5 }),
} satisfies Record<string, ContextKey<unknown>>;

export type ContextKeyName = keyof typeof CONTEXT;

/** The context keys of the function settings (functions/config.ts `SETTINGS`), documented in README.md. */
export const FUNCTION_CONTEXT_KEYS: readonly string[] = Object.values(SETTINGS).flatMap((s) => ('context' in s && s.context ? [s.context] : []));

export interface Throttle {
  readonly rateLimit: number;
  readonly burstLimit: number;
}

/** The typed configuration the stacks are built from. */
export interface PipelineConfig {
  readonly stackPrefix: string;
  readonly functions: {
    readonly serviceName: string;
    readonly logLevel: string;
    readonly logRetention: RetentionDays;
  };
  /** The ThreeTone client of the processor and the reconciler. */
  readonly threeTone: ThreeToneClientConfig;
  readonly secrets: {
    readonly webhookSecretArn: string | undefined;
    readonly apiKeySecretArn: string | undefined;
  };
  readonly ingest: IngestConfig;
  readonly webhook: { readonly throttle: Throttle };
  readonly query: { readonly throttle: Throttle };
  readonly processor: {
    readonly settings: ProcessorSettings;
    readonly batchSize: number;
    readonly maxConcurrency: number;
    /** Function timeout, visibility timeout and the longest normal wait, derived from the retry budget. */
    readonly schedule: ProcessingSchedule;
  };
  readonly events: { readonly archiveRetentionDays: number };
  readonly erasure: { readonly settings: ErasureSettings };
  /** The audio bucket's lifecycle (AUDIO_ARCHIVE itself is a processor setting). */
  readonly audio: { readonly retentionDays: number };
  readonly reconciler: {
    readonly settings: ReconcilerSettings;
    readonly scheduleMinutes: number;
  };
  readonly live: {
    readonly apiKeyExpiryDays: number;
    /** Browser origins allowed to call the query API (CORS); empty: none. */
    readonly allowedOrigins: readonly string[];
  };
  readonly alarms: {
    readonly email: string | undefined;
    /** The longest normal wait of a queued message plus the configured margin. */
    readonly queueAgeSeconds: number;
    readonly processorErrors: number;
    readonly api5xx: number;
    readonly signatureFailures: number;
    readonly threeToneThrottled: number;
    readonly enrichmentAgeSeconds: number;
  };
}

const toText = (raw: unknown): string | undefined =>
  raw === undefined || raw === null ? undefined : Array.isArray(raw) ? raw.map(String).join(',') : String(raw);

/** Context keys an earlier version read, and what they are now: a deployment still setting one fails at synth, not silently. */
const RENAMED_CONTEXT: Record<string, string> = {
  // docs/decisions.md D30: with no outbox to sweep, the grace period only delays the reconciler's repairs.
  outboxGraceSeconds: 'reconcileGraceSeconds',
};

const contextKeyOf = (envName: string) => Object.values(SETTINGS).find((s) => s.env === envName)?.context ?? envName;

/**
 * Builds the configuration from a context lookup, e.g. `loadConfig((k) => app.node.tryGetContext(k))`.
 * Throws `PipelineConfigError` naming the first invalid key.
 */
export function loadConfig(lookup: (key: string) => unknown = () => undefined): PipelineConfig {
  for (const [old, now] of Object.entries(RENAMED_CONTEXT)) {
    if (!isUnset(lookup(old))) throw new PipelineConfigError(`context "${old}" was renamed "${now}": set that instead`);
  }
  const v = <K extends ContextKeyName>(key: K) =>
    (CONTEXT[key] as ContextKey<ReturnType<(typeof CONTEXT)[K]['parse']>>).parse(lookup(key), key);

  // The function settings, as the functions would read them from the environment.
  const env: Env = {};
  for (const s of Object.values(SETTINGS)) if ('context' in s && s.context) env[s.env] = toText(lookup(s.context));
  const settings = <T>(load: (env: Env) => T): T => {
    try {
      return load(env);
    } catch (err) {
      if (err instanceof ConfigError && err.setting) {
        throw new PipelineConfigError(`context "${contextKeyOf(err.setting)}" (${err.setting}) ${err.detail}`);
      }
      throw err;
    }
  };

  const threeTone = settings(loadThreeToneClientConfig);
  if (!threeTone.baseUrl.startsWith('https://')) {
    throw new PipelineConfigError(`context "${SETTINGS.threeToneApiUrl.context}" must be an https URL, got ${JSON.stringify(threeTone.baseUrl)}`);
  }
  const processorSettings = settings(loadProcessorSettings);
  let schedule: ProcessingSchedule;
  try {
    schedule = processingSchedule(threeTone, processorSettings.maxReceiveCount);
  } catch (err) {
    if (err instanceof ScheduleError) throw new PipelineConfigError(`context "threeToneMaxRetries", "threeToneTimeoutMs", "threeToneRetryMaxMs": ${err.message}`);
    throw err;
  }

  const erasure = settings(loadErasureSettings);
  // A tombstone must outlive every way a webhook of the erased conversation can still arrive: the
  // replay window at ingest, then up to 14 days in the work queue and 14 in the DLQ (a redrive).
  const minTombstoneDays = Math.ceil(settings(loadIngestConfig).replayWindowSeconds / 86_400) + 28;
  if (erasure.tombstoneDays !== 0 && erasure.tombstoneDays < minTombstoneDays) {
    throw new PipelineConfigError(
      `context "${SETTINGS.erasureTombstoneDays.context}" must be 0 (forever) or at least ${minTombstoneDays} days (the replay window plus the queue's and the DLQ's 14 days each), got ${erasure.tombstoneDays}`,
    );
  }

  return {
    stackPrefix: v('stackPrefix'),
    functions: { serviceName: v('serviceName'), logLevel: v('logLevel'), logRetention: v('logRetentionDays') },
    threeTone,
    secrets: { webhookSecretArn: v('webhookSecretArn'), apiKeySecretArn: v('apiKeySecretArn') },
    ingest: settings(loadIngestConfig),
    webhook: { throttle: { rateLimit: v('webhookThrottleRate'), burstLimit: v('webhookThrottleBurst') } },
    query: { throttle: { rateLimit: v('queryThrottleRate'), burstLimit: v('queryThrottleBurst') } },
    processor: {
      settings: processorSettings,
      batchSize: v('processorBatchSize'),
      maxConcurrency: v('processorMaxConcurrency'),
      schedule,
    },
    events: { archiveRetentionDays: v('eventArchiveRetentionDays') },
    erasure: { settings: erasure },
    audio: { retentionDays: settings(loadAudioRetentionDays) },
    reconciler: { settings: settings(loadReconcilerSettings), scheduleMinutes: v('reconcileScheduleMinutes') },
    live: {
      apiKeyExpiryDays: v('liveApiKeyExpiryDays'),
      allowedOrigins: v('liveAllowedOrigins')?.split(',') ?? [],
    },
    alarms: {
      email: v('alarmEmail'),
      queueAgeSeconds: schedule.longestNormalWaitSeconds + v('alarmQueueAgeMarginSeconds'),
      processorErrors: v('alarmProcessorErrors'),
      api5xx: v('alarmApi5xx'),
      signatureFailures: v('alarmSignatureFailures'),
      threeToneThrottled: v('alarmThreeToneThrottled'),
      enrichmentAgeSeconds: v('alarmEnrichmentAgeMinutes') * 60,
    },
  };
}
