/**
 * Waiting for the ThreeTone API key. Until an operator puts the real key in the secret, every call to
 * ThreeTone would fail with 401, and the messages that need one would reach the dead-letter queue.
 * Instead:
 * 1. the key provider is guarded: an empty key, the placeholder the stack creates the secret with, or
 *    a key ThreeTone already refused with 401 throws `ApiKeyNotSetError` before any call is made;
 *    a 401 marks the key as refused (a new key in the secret, read within the cache time, clears it);
 * 2. a record whose processing ends in that error is re-queued as a fresh copy with a delay (SQS's
 *    longest, 15 minutes) and the original is consumed. The copy starts at receive count 0, so a
 *    missing key never moves a message towards the DLQ, however long it takes; the processing
 *    already done (the stored event) is idempotent and is simply found again;
 * 3. the first time per function instance, a `Platform Alert` (`threetone_api_key_missing`) names the
 *    secret to set; every re-queued message counts in a metric whose alarm says the same.
 * Nothing of the key is ever logged or published (not even whether it was the placeholder's prefix).
 */
import { createHash } from 'node:crypto';
import type { SQSRecord } from 'aws-lambda';
import { messageBody } from '#adapters/sqs-queue.js';
import { ThreeToneError } from '#adapters/threetone-http.js';
import { busEvent, DetailType } from '#core/bus-events.js';
import { THREETONE_API_KEY_PLACEHOLDER } from '#functions/config.js';
import type { EventPublisher, ThreeToneApi, WebhookQueue } from '#functions/ports.js';
import { logger as defaultLogger, type Logger } from '#functions/shared/logger.js';

export { THREETONE_API_KEY_PLACEHOLDER };

/** SQS's longest `DelaySeconds`. */
export const API_KEY_WAIT_SECONDS = 900;

export type ApiKeyProblem = 'empty' | 'placeholder' | 'refused';

export class ApiKeyNotSetError extends Error {
  override name = 'ApiKeyNotSetError';
  constructor(readonly problem: ApiKeyProblem) {
    super(
      problem === 'refused'
        ? 'ThreeTone refused the API key (HTTP 401)'
        : `the ThreeTone API key is ${problem === 'empty' ? 'empty' : 'still the placeholder'}`,
    );
  }
}

/** The `ApiKeyNotSetError` that `err` is, or was caused by. */
export function apiKeyNotSet(err: unknown): ApiKeyNotSetError | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof ApiKeyNotSetError) return e;
  }
  return undefined;
}

export const waitsForApiKey = (err: unknown): boolean => apiKeyNotSet(err) !== undefined;

const digest = (key: string) => createHash('sha256').update(key, 'utf8').digest('hex');

/** The key provider and the ThreeTone API, guarded as described above. */
export function guardApiKey(apiKey: () => Promise<string>) {
  let refused: string | undefined;
  let lastKey: string | undefined;
  const guardedKey = async (): Promise<string> => {
    const key = (await apiKey()).trim();
    if (key === '') throw new ApiKeyNotSetError('empty');
    if (key === THREETONE_API_KEY_PLACEHOLDER) throw new ApiKeyNotSetError('placeholder');
    const d = digest(key);
    if (d === refused) throw new ApiKeyNotSetError('refused');
    lastKey = d;
    return key;
  };
  const guard = <A extends unknown[], R>(call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await call(...args);
      } catch (err) {
        if (err instanceof ThreeToneError && err.status === 401 && lastKey !== undefined) {
          refused = lastKey;
          throw Object.assign(new ApiKeyNotSetError('refused'), { cause: err });
        }
        throw err;
      }
    };
  return {
    apiKey: guardedKey,
    api: (api: ThreeToneApi): ThreeToneApi => ({
      getConversation: guard(api.getConversation.bind(api)),
      getTranscript: guard(api.getTranscript.bind(api)),
      listConversations: guard(api.listConversations.bind(api)),
    }),
  };
}

export interface ApiKeyWaitDeps {
  /** The work queue the copy goes back to. */
  queue: WebhookQueue;
  publisher: EventPublisher;
  /** What the operator must set, as the alert names it: the secret's ARN, or locally `THREETONE_API_KEY`. */
  setting: string;
  /** Counts a message re-queued to wait (the alarm's metric). */
  onWaiting?: () => void;
  /** @default API_KEY_WAIT_SECONDS */
  delaySeconds?: number;
  now?: () => number;
  logger?: Logger;
}

/** Wraps the processor's record handler: a record that needs the missing key waits instead of failing. */
export function waitForApiKey(recordHandler: (record: SQSRecord) => Promise<void>, deps: ApiKeyWaitDeps) {
  const log = deps.logger ?? defaultLogger;
  const now = deps.now ?? Date.now;
  let alerted = false;

  return async (record: SQSRecord): Promise<void> => {
    try {
      await recordHandler(record);
    } catch (err) {
      const waiting = apiKeyNotSet(err);
      if (!waiting) throw err;
      const receivedAt = record.messageAttributes?.receivedAt?.stringValue ?? new Date(Number(record.attributes.SentTimestamp) || now()).toISOString();
      // If this send fails, the error goes up and the message is retried as any failure would be.
      await deps.queue.send({ body: messageBody(record), receivedAt, delaySeconds: deps.delaySeconds ?? API_KEY_WAIT_SECONDS });
      deps.onWaiting?.();
      const { problem } = waiting;
      if (alerted) {
        log.warn('message waits for the ThreeTone API key', { message_id: record.messageId, problem });
        return;
      }
      alerted = true;
      log.error('the ThreeTone API key is not set: messages wait in the queue', { problem, setting: deps.setting });
      const time = new Date(now()).toISOString();
      const alert = busEvent(DetailType.PlatformAlert, `threetone-api-key|${problem}|${time.slice(0, 10)}`, time, {
        alert_type: 'threetone_api_key_missing',
        message:
          `${problem === 'refused' ? 'ThreeTone refuses the API key (401)' : 'The ThreeTone API key is not set'}: ` +
          `put your ThreeTone API key in ${deps.setting}. Conversations that need ThreeTone's details wait in the queue ` +
          `(re-checked every ${deps.delaySeconds ?? API_KEY_WAIT_SECONDS} s) and are not dead-lettered.`,
        source: { setting: deps.setting, problem },
      });
      try {
        const { failed } = await deps.publisher.publish([alert]);
        if (failed.length) log.error('could not publish the API key alert; the ThreeToneApiKeyMissing alarm still fires');
      } catch {
        log.error('could not publish the API key alert; the ThreeToneApiKeyMissing alarm still fires');
      }
    }
  };
}
