/**
 * Webhook ingest: `POST /webhooks/threetone` (README.md, "The webhook contract").
 *
 * 1. Read the raw body (base64-decoded when API Gateway encoded it; no body is an empty buffer).
 * 2. Size: over MAX_WEBHOOK_BYTES → 413 `payload_too_large`.
 * 3. Signature over the raw bytes, any current secret: absent → 401 `missing_signature`,
 *    wrong → 401 `invalid_signature`.
 * 4. Envelope (core/envelope.ts): not UTF-8 or not JSON → 400 `invalid_json`; nested too deep →
 *    400 `too_deep`; fields, ids or Unicode not as the contract says → 400 `invalid_envelope`.
 * 5. Replay window: body `timestamp` further than `replayWindowSeconds` from now, either way →
 *    401 `stale_timestamp`.
 * 6. Durable hand-off of the raw body to the queue. If it fails → 500: nothing was accepted and
 *    ThreeTone retries.
 * 7. → 202 `{"status":"accepted","event","received_at"}`.
 *
 * Nothing reaches the queue on any non-2xx. One structured log line per request; never the body,
 * the signature or a secret.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { MAX_WEBHOOK_BYTES, type IngestConfig } from '#functions/config.js';
import { asId, parseEnvelope } from '#core/envelope.js';
import { decodeUtf8 } from '#core/json-text.js';
import { HttpError, errorResponse, json } from '#core/http.js';
import { verifySignature } from '#core/signature.js';
import type { IngestMetrics, SecretSource, WebhookQueue } from '#functions/ports.js';
import { logger as defaultLogger, errorFields, type Logger } from '#functions/shared/logger.js';

export interface IngestDeps {
  queue: WebhookQueue;
  secrets: SecretSource;
  config: IngestConfig;
  /** Epoch ms; injectable for tests. */
  now?: () => number;
  metrics?: IngestMetrics;
  /** Defaults to the shared Powertools logger. */
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
}

export type IngestHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

/** Log values come from the (signed) body: cap them so a huge field cannot bloat a log line. */
const MAX_LOGGED_CHARS = 128;
const clip = (s: string) => (s.length > MAX_LOGGED_CHARS ? `${s.slice(0, MAX_LOGGED_CHARS)}…` : s);

const NO_METRICS: IngestMetrics = { signatureFailure() {}, accepted() {} };

function rawBodyOf(event: APIGatewayProxyEventV2): Buffer {
  if (event.body === undefined || event.body === null) return Buffer.alloc(0);
  return Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
}

/** HTTP API v2 lower-cases header names; other front ends (and tests) may not. */
function headerOf(event: APIGatewayProxyEventV2, name: string): string | undefined {
  const headers = event.headers ?? {};
  const exact = headers[name];
  if (exact !== undefined) return exact;
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name) return value;
  }
  return undefined;
}

export function createIngestHandler(deps: IngestDeps): IngestHandler {
  const { queue, secrets, config } = deps;
  const now = deps.now ?? Date.now;
  const metrics = deps.metrics ?? NO_METRICS;
  const log = deps.logger ?? defaultLogger;
  const headerName = config.signature.header.toLowerCase();
  const windowMs = config.replayWindowSeconds * 1000;

  return async (event) => {
    // Only these keys go on the request's log line; nothing is appended to the shared logger,
    // so nothing can leak into the next invocation.
    const line: Record<string, unknown> = { outcome: 'rejected' };
    try {
      // 1. raw body
      const rawBody = rawBodyOf(event);
      line.body_bytes = rawBody.length;

      // 2. size
      if (rawBody.length > MAX_WEBHOOK_BYTES) {
        throw new HttpError(413, 'payload_too_large', `Body exceeds ${MAX_WEBHOOK_BYTES} bytes.`);
      }

      // 3. signature (secrets are fetched only when there is a signature to check)
      const header = headerOf(event, headerName);
      if (!header?.trim()) {
        metrics.signatureFailure();
        throw new HttpError(401, 'missing_signature', `Missing signature header ${headerName}.`);
      }
      const current = await secrets.get(); // a failure here is ours: 500, never 401
      if (verifySignature(rawBody, header, current, config.signature.prefix) !== 'ok') {
        metrics.signatureFailure();
        throw new HttpError(401, 'invalid_signature', 'Signature does not match the body.');
      }

      // 4. envelope: decoded strictly, so what is queued is exactly the text that was signed
      const text = decodeUtf8(rawBody);
      if (text === null) throw new HttpError(400, 'invalid_json', 'Body is not valid UTF-8.');
      const parsed = parseEnvelope(text);
      if (!parsed.ok) throw new HttpError(400, parsed.code, parsed.message);
      const { envelope, timestampMs } = parsed;
      line.event = clip(envelope.event);
      const conversationId = asId(envelope.data.conversation_id);
      if (conversationId !== null) line.conversation_id = conversationId;

      // 5. replay window: the body timestamp is covered by the signature, so it bounds replays
      const nowMs = now();
      if (Math.abs(nowMs - timestampMs) > windowMs) {
        metrics.signatureFailure(); // an authentication failure too: the alarm watches for replays
        throw new HttpError(401, 'stale_timestamp', `timestamp is outside the ${config.replayWindowSeconds} s replay window.`);
      }

      // 6. durable hand-off
      const receivedAt = new Date(nowMs).toISOString();
      await queue.send({ body: text, receivedAt });

      // 7. accepted
      metrics.accepted();
      line.outcome = 'accepted';
      line.status = 202;
      log.info('webhook', line);
      return json(202, { status: 'accepted', event: envelope.event, received_at: receivedAt });
    } catch (err) {
      const response = errorResponse(err);
      line.status = response.statusCode;
      if (err instanceof HttpError) {
        line.code = err.code;
        log.warn('webhook', line);
      } else {
        line.code = 'internal_error';
        log.error('webhook', { ...line, ...errorFields(err) });
      }
      return response;
    }
  };
}
