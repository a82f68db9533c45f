/**
 * Deployment configuration: every setting of the CDK app, read once from CDK context (`cdk.json`
 * "context", or `-c key=value` on the command line) and validated, failing synth with a message that
 * names the key. Each key, its default and its meaning are listed in `CONTEXT` below and in
 * docs/aws-deployment.md ("Configuration"); a test keeps the two in step.
 *
 * Values from `-c` arrive as strings, values from cdk.json as JSON types: both are accepted.
 */
import { RetentionDays } from 'aws-cdk-lib/aws-logs';

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

function flag(def: boolean, description: string): ContextKey<boolean> {
  return {
    default: def,
    description,
    parse(raw, key) {
      if (isUnset(raw)) return def;
      if (typeof raw === 'boolean') return raw;
      const s = String(raw).trim().toLowerCase();
      if (['true', '1', 'yes'].includes(s)) return true;
      if (['false', '0', 'no'].includes(s)) return false;
      throw new PipelineConfigError(`context "${key}" must be true or false, got ${JSON.stringify(raw)}`);
    },
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

/** Every context key the app reads, with its default. Documented in docs/aws-deployment.md. */
export const CONTEXT = {
  stackPrefix: text('ThreeTonePipeline', 'Prefix of the stack names (`<prefix>-Stateful`, `<prefix>-Stateless`); change it to deploy a second copy in the same account and region.', /^[A-Za-z][A-Za-z0-9-]{0,100}$/, 'letters, digits and dashes, starting with a letter'),
  serviceName: text('threetone-pipeline', 'Powertools service name: the `service` key of every log line and the `service` dimension of the custom metrics. Give each copy in one account its own.', /^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, ".", "_" or "-"'),
  logLevel: text('INFO', 'Powertools log level of all functions (`POWERTOOLS_LOG_LEVEL`).', /^(DEBUG|INFO|WARN|ERROR|CRITICAL|SILENT)$/, 'DEBUG, INFO, WARN, ERROR, CRITICAL or SILENT'),
  logRetentionDays: retentionDays(RetentionDays.ONE_MONTH, 'Retention of the function and API access log groups, in days (a CloudWatch Logs retention value).'),

  threeToneApiUrl: text('https://api.threetone.in', 'ThreeTone REST API base URL, no path (`THREETONE_API_URL`). The docs also name `https://api.threetone.com`.', /^https:\/\/[^\s/]+(\/[^\s]*)?$/, 'an https URL'),
  threeToneTimeoutMs: integer(5_000, 'Timeout of one ThreeTone API request (`THREETONE_TIMEOUT_MS`).', { min: 100, max: 30_000 }),
  threeToneMaxRetries: integer(3, 'Retries of a ThreeTone API request after timeouts, 429 and 5xx (`THREETONE_MAX_RETRIES`).', { min: 0, max: 10 }),
  webhookSignatureHeader: text('x-threetone-signature', 'HTTP header carrying the webhook signature (`WEBHOOK_SIGNATURE_HEADER`).', /^[A-Za-z0-9-]{1,100}$/, 'an HTTP header name'),
  webhookSignaturePrefix: text('sha256=', 'Prefix before the hex HMAC in that header (`WEBHOOK_SIGNATURE_PREFIX`); may be empty by setting it to "none".', /^(none|[!-~]{1,32})$/, 'printable ASCII without spaces, or "none"'),
  webhookSecretArn: optionalText('Import an existing webhook secret instead of creating one (its SecretString: one secret or several, comma-separated).', SECRET_ARN, SECRET_ARN_TEXT),
  apiKeySecretArn: optionalText('Import an existing secret holding the ThreeTone API key instead of creating one.', SECRET_ARN, SECRET_ARN_TEXT),

  replayWindowSeconds: integer(86_400, 'Webhooks whose body `timestamp` is further than this from now are refused with 401 (`REPLAY_WINDOW_SECONDS`).', { min: 1 }),
  webhookThrottleRate: decimal(50, 'Steady-state requests per second allowed on `POST /webhooks/threetone` (API Gateway route throttling).', { min: 1, max: 10_000 }),
  webhookThrottleBurst: integer(100, 'Burst allowed on `POST /webhooks/threetone`.', { min: 1, max: 5_000 }),
  queryThrottleRate: decimal(10, 'Steady-state requests per second allowed on each query route.', { min: 1, max: 10_000 }),
  queryThrottleBurst: integer(20, 'Burst allowed on each query route.', { min: 1, max: 5_000 }),

  processorTimeoutSeconds: integer(120, 'Processor function timeout; the queue visibility timeout is 6 times this.', { min: 10, max: 900 }),
  processorBatchSize: integer(10, 'SQS messages per processor invocation.', { min: 1, max: 10 }),
  processorMaxConcurrency: integer(2, 'Most concurrent processor invocations (SQS event source maximum concurrency, at least 2): bounds the calls to ThreeTone (100 requests/minute).', { min: 2, max: 1_000 }),
  maxReceiveCount: integer(5, 'Deliveries of a message before it moves to the dead-letter queue; also the processor\'s `MAX_RECEIVE_COUNT`.', { min: 1, max: 1_000 }),
  alertLongDurationSeconds: decimal(600, '`long_duration` alert above this conversation duration (`ALERT_LONG_DURATION_SECONDS`).', { min: 0 }),
  alertLowSatisfaction: decimal(2.5, '`low_satisfaction` alert below this satisfaction score (`ALERT_LOW_SATISFACTION`).'),
  redactPersonalData: flag(true, 'Redact personal data in `ThreeTone Event` details on the bus (`REDACT_PERSONAL_DATA`).'),

  rawEventRetentionDays: integer(30, 'Days raw webhook payloads (personal data) are kept in the table before TTL deletes them; 0 = forever (`RAW_EVENT_RETENTION_DAYS`).', { min: 0 }),
  transcriptRetentionDays: integer(0, 'Days transcripts are kept; 0 = forever (`TRANSCRIPT_RETENTION_DAYS`).', { min: 0 }),
  recordRetentionDays: integer(0, 'Days conversation records are kept; 0 = forever (`RECORD_RETENTION_DAYS`). Agent aggregates are kept forever.', { min: 0 }),
  eventArchiveRetentionDays: integer(90, 'Days the EventBridge archive keeps published events for replay; 0 = forever.', { min: 0 }),

  reconcileScheduleMinutes: integer(15, 'Minutes between reconciler runs.', { min: 1, max: 1_440 }),
  reconcileLookbackHours: integer(6, 'How far back the reconciler lists ThreeTone conversations (`RECONCILE_LOOKBACK_HOURS`).', { min: 1, max: 168 }),
  outboxGraceSeconds: integer(300, 'Outbox entries older than this are published by the reconciler\'s sweep (`OUTBOX_GRACE_SECONDS`).', { min: 0 }),

  liveApiKeyExpiryDays: integer(365, 'Days until the live stream\'s API key (subscribe only) expires, counted from each deploy (AppSync allows 1 to 365): redeploy within that time to extend it.', { min: 1, max: 365 }),
  liveAllowedOrigins: optionalText('Comma-separated origins allowed to call the query API from a browser (CORS), i.e. where the live page is served: https origins, or `http://localhost:<port>`; unset = no CORS.', /^(https:\/\/[^\s,/]+|http:\/\/(localhost|127\.0\.0\.1)(:\d+)?)(,(https:\/\/[^\s,/]+|http:\/\/(localhost|127\.0\.0\.1)(:\d+)?))*$/, 'https origins (or http://localhost:<port>) separated by commas, no paths'),

  alarmEmail: optionalText('E-mail address subscribed to the alarm topic (confirm the subscription mail).', /^[^\s@]+@[^\s@]+\.[^\s@]+$/, 'an e-mail address'),
  alarmQueueAgeSeconds: integer(900, 'Alarm when the oldest message in the work queue is older than this.', { min: 60 }),
  alarmProcessorErrors: integer(1, 'Alarm when processor invocations fail (crash or timeout) at least this many times in 5 minutes.', { min: 1 }),
  alarmApi5xx: integer(1, 'Alarm when the HTTP API answers 5xx at least this many times in 5 minutes.', { min: 1 }),
  alarmSignatureFailures: integer(20, 'Alarm when at least this many webhooks fail signature or replay checks in 5 minutes.', { min: 1 }),
  alarmThreeToneThrottled: integer(10, 'Alarm when ThreeTone answers 429 at least this many times in 5 minutes.', { min: 1 }),
} satisfies Record<string, ContextKey<unknown>>;

export type ContextKeyName = keyof typeof CONTEXT;

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
  readonly threeTone: {
    readonly apiUrl: string;
    readonly timeoutMs: number;
    readonly maxRetries: number;
    readonly signatureHeader: string;
    readonly signaturePrefix: string;
  };
  readonly secrets: {
    readonly webhookSecretArn: string | undefined;
    readonly apiKeySecretArn: string | undefined;
  };
  readonly webhook: { readonly replayWindowSeconds: number; readonly throttle: Throttle };
  readonly query: { readonly throttle: Throttle };
  readonly processor: {
    readonly timeoutSeconds: number;
    readonly batchSize: number;
    readonly maxConcurrency: number;
    readonly maxReceiveCount: number;
    readonly alertLongDurationSeconds: number;
    readonly alertLowSatisfaction: number;
    readonly redactPersonalData: boolean;
  };
  readonly retention: {
    readonly rawEventDays: number;
    readonly transcriptDays: number;
    readonly recordDays: number;
    readonly eventArchiveDays: number;
  };
  readonly reconciler: {
    readonly scheduleMinutes: number;
    readonly lookbackHours: number;
    readonly outboxGraceSeconds: number;
  };
  readonly live: {
    readonly apiKeyExpiryDays: number;
    /** Browser origins allowed to call the query API (CORS); empty: none. */
    readonly allowedOrigins: readonly string[];
  };
  readonly alarms: {
    readonly email: string | undefined;
    readonly queueAgeSeconds: number;
    readonly processorErrors: number;
    readonly api5xx: number;
    readonly signatureFailures: number;
    readonly threeToneThrottled: number;
  };
}

/**
 * Builds the configuration from a context lookup, e.g. `loadConfig((k) => app.node.tryGetContext(k))`.
 * Throws `PipelineConfigError` naming the first invalid key.
 */
export function loadConfig(lookup: (key: string) => unknown = () => undefined): PipelineConfig {
  const v = <K extends ContextKeyName>(key: K) =>
    (CONTEXT[key] as ContextKey<ReturnType<(typeof CONTEXT)[K]['parse']>>).parse(lookup(key), key);

  const prefix = v('webhookSignaturePrefix');
  return {
    stackPrefix: v('stackPrefix'),
    functions: { serviceName: v('serviceName'), logLevel: v('logLevel'), logRetention: v('logRetentionDays') },
    threeTone: {
      apiUrl: v('threeToneApiUrl').replace(/\/+$/, ''),
      timeoutMs: v('threeToneTimeoutMs'),
      maxRetries: v('threeToneMaxRetries'),
      signatureHeader: v('webhookSignatureHeader').toLowerCase(),
      signaturePrefix: prefix === 'none' ? '' : prefix,
    },
    secrets: { webhookSecretArn: v('webhookSecretArn'), apiKeySecretArn: v('apiKeySecretArn') },
    webhook: {
      replayWindowSeconds: v('replayWindowSeconds'),
      throttle: { rateLimit: v('webhookThrottleRate'), burstLimit: v('webhookThrottleBurst') },
    },
    query: { throttle: { rateLimit: v('queryThrottleRate'), burstLimit: v('queryThrottleBurst') } },
    processor: {
      timeoutSeconds: v('processorTimeoutSeconds'),
      batchSize: v('processorBatchSize'),
      maxConcurrency: v('processorMaxConcurrency'),
      maxReceiveCount: v('maxReceiveCount'),
      alertLongDurationSeconds: v('alertLongDurationSeconds'),
      alertLowSatisfaction: v('alertLowSatisfaction'),
      redactPersonalData: v('redactPersonalData'),
    },
    retention: {
      rawEventDays: v('rawEventRetentionDays'),
      transcriptDays: v('transcriptRetentionDays'),
      recordDays: v('recordRetentionDays'),
      eventArchiveDays: v('eventArchiveRetentionDays'),
    },
    reconciler: {
      scheduleMinutes: v('reconcileScheduleMinutes'),
      lookbackHours: v('reconcileLookbackHours'),
      outboxGraceSeconds: v('outboxGraceSeconds'),
    },
    live: {
      apiKeyExpiryDays: v('liveApiKeyExpiryDays'),
      allowedOrigins: v('liveAllowedOrigins')?.split(',') ?? [],
    },
    alarms: {
      email: v('alarmEmail'),
      queueAgeSeconds: v('alarmQueueAgeSeconds'),
      processorErrors: v('alarmProcessorErrors'),
      api5xx: v('alarmApi5xx'),
      signatureFailures: v('alarmSignatureFailures'),
      threeToneThrottled: v('alarmThreeToneThrottled'),
    },
  };
}
