/**
 * Where the webhook secrets come from. Several may be valid at once (rotation without downtime).
 * - `envSecretSource`: a comma-separated env value (local run, non-AWS hosting).
 * - `secretsManagerSource`: a Secrets Manager secret via Powertools, cached for `maxAgeSeconds`, so a
 *   rotation takes effect within that time without a redeploy.
 * The secret's value may be `a,b`, `{"secrets":["a","b"]}` or `{"secret":"a"}`.
 * Errors never include secret material.
 */
import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import { ConfigError } from '#functions/config.js';
import type { SecretSource } from '#functions/ports.js';

const splitList = (value: string) => value.split(',').map((s) => s.trim()).filter(Boolean);

const strings = (values: unknown[]) =>
  values.filter((v): v is string => typeof v === 'string').map((s) => s.trim()).filter(Boolean);

/** Secrets from a secret's value in any of the supported formats; `[]` when it holds none. */
export function parseSecretValue(value: string): string[] {
  const text = value.trim();
  if (!text.startsWith('{') && !text.startsWith('[')) return splitList(text);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not echoing the value: it is the secret.
    throw new Error('Webhook secret value looks like JSON but does not parse');
  }
  if (Array.isArray(parsed)) return strings(parsed);
  if (typeof parsed === 'object' && parsed !== null) {
    const { secrets, secret } = parsed as Record<string, unknown>;
    if (Array.isArray(secrets)) return strings(secrets);
    if (typeof secrets === 'string') return splitList(secrets);
    if (typeof secret === 'string') return splitList(secret);
  }
  throw new Error('Webhook secret JSON must be {"secrets": [...]} or {"secret": "..."}');
}

/** Fails at construction (cold start) when the value holds no secret. */
export function envSecretSource(value: string | undefined): SecretSource {
  const secrets = splitList(value ?? '');
  if (secrets.length === 0) {
    throw new ConfigError(
      'No webhook secret configured: set THREETONE_WEBHOOK_SECRET (comma-separated for several) or WEBHOOK_SECRET_ARN',
    );
  }
  return { get: async () => [...secrets] };
}

export function secretsManagerSource(secretArn: string, opts: { maxAgeSeconds?: number } = {}): SecretSource {
  const maxAge = opts.maxAgeSeconds ?? 300;
  return {
    async get() {
      const value = await getSecret(secretArn, { maxAge });
      if (value === undefined) throw new Error(`Secret ${secretArn} has no value`);
      const secrets = parseSecretValue(typeof value === 'string' ? value : Buffer.from(value).toString('utf8'));
      if (secrets.length === 0) throw new Error(`Secret ${secretArn} holds no webhook secret`);
      return secrets;
    },
  };
}

/**
 * The ThreeTone API key: from Secrets Manager (`THREETONE_API_KEY_SECRET_ARN`, cached 5 minutes)
 * on AWS, else from `THREETONE_API_KEY`. The secret may be the bare key or `{"apiKey": "..."}`.
 */
export function threeToneApiKey(env: Record<string, string | undefined>): () => Promise<string> {
  const arn = env.THREETONE_API_KEY_SECRET_ARN?.trim();
  if (!arn) {
    const key = env.THREETONE_API_KEY?.trim() ?? '';
    return async () => key;
  }
  return async () => {
    const value = await getSecret(arn, { maxAge: 300 });
    const text = (typeof value === 'string' ? value : value === undefined ? '' : Buffer.from(value).toString('utf8')).trim();
    if (text.startsWith('{')) {
      const parsed = JSON.parse(text) as Record<string, unknown>;
      const key = parsed.apiKey ?? parsed.api_key ?? parsed.key;
      if (typeof key === 'string' && key) return key;
      throw new Error(`Secret ${arn} must hold the API key or {"apiKey": "..."}`);
    }
    if (!text) throw new Error(`Secret ${arn} is empty`);
    return text;
  };
}

/**
 * The caller lookup key (README "Erasure"): from Secrets Manager (`CALLER_KEY_SECRET_ARN`, cached 5
 * minutes) on AWS, else `CALLER_HASH_KEY`. Fails at construction (cold start) when neither is set:
 * a processor without it would store lookup items no erasure could find.
 */
export function callerHashKey(env: Record<string, string | undefined>): () => Promise<string> {
  const arn = env.CALLER_KEY_SECRET_ARN?.trim();
  if (!arn) {
    const key = env.CALLER_HASH_KEY?.trim();
    if (!key) throw new ConfigError('No caller lookup key: set CALLER_HASH_KEY or CALLER_KEY_SECRET_ARN', 'CALLER_HASH_KEY', 'is required');
    return async () => key;
  }
  return async () => {
    const value = await getSecret(arn, { maxAge: 300 });
    const text = (typeof value === 'string' ? value : value === undefined ? '' : Buffer.from(value).toString('utf8')).trim();
    if (!text) throw new Error(`Secret ${arn} is empty`);
    return text;
  };
}
