/**
 * Waiting for the ThreeTone API key. Until an operator puts the real key in the secret, every call to
 * ThreeTone would fail with 401. Instead:
 * 1. the key provider is guarded: an empty key, the placeholder the stack creates the secret with, or
 *    a key ThreeTone already refused with 401 throws `ApiKeyNotSetError` before any call is made;
 *    a 401 marks the key as refused (a new key in the secret, read within the cache time, clears it);
 * 2. the enricher stops its run at that error: conversations keep their place on the enrichment queue
 *    (webhook facts are never held up: they do not need ThreeTone), and no attempt is counted;
 * 3. the first time per function instance, a `Platform Alert` (`threetone_api_key_missing`) names the
 *    secret to set; every run that waits counts in a metric whose alarm says the same.
 * Nothing of the key is ever logged or published (not even whether it was the placeholder's prefix).
 */
import { createHash } from 'node:crypto';
import { ThreeToneError } from '#adapters/threetone-http.js';
import { busEvent, DetailType } from '#core/bus-events.js';
import { THREETONE_API_KEY_PLACEHOLDER } from '#functions/config.js';
import type { EventPublisher, ThreeToneApi, ThreeToneAudioApi } from '#functions/ports.js';
import { logger as defaultLogger, type Logger } from '#functions/shared/logger.js';

export { THREETONE_API_KEY_PLACEHOLDER };

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
    audioApi: (api: ThreeToneAudioApi): ThreeToneAudioApi => ({ getAudio: guard(api.getAudio.bind(api)) }),
  };
}

export interface ApiKeyAlertDeps {
  publisher: EventPublisher;
  /** What the operator must set, as the alert names it: the secret's ARN, or locally `THREETONE_API_KEY`. */
  setting: string;
  /** Counts a run that waits for the key (the alarm's metric). */
  onWaiting?: () => void;
  now?: () => number;
  logger?: Logger;
}

/** Tells, once per instance, that enrichment waits for the API key; counts every wait. */
export function apiKeyAlert(deps: ApiKeyAlertDeps): (problem: ApiKeyProblem) => Promise<void> {
  const log = deps.logger ?? defaultLogger;
  const now = deps.now ?? Date.now;
  let alerted = false;
  return async (problem) => {
    deps.onWaiting?.();
    if (alerted) {
      log.warn('enrichment waits for the ThreeTone API key', { problem });
      return;
    }
    alerted = true;
    log.error('the ThreeTone API key is not set: enrichment waits', { problem, setting: deps.setting });
    const time = new Date(now()).toISOString();
    const alert = busEvent(DetailType.PlatformAlert, `threetone-api-key|${problem}|${time.slice(0, 10)}`, time, {
      alert_type: 'threetone_api_key_missing',
      message:
        `${problem === 'refused' ? 'ThreeTone refuses the API key (401)' : 'The ThreeTone API key is not set'}: ` +
        `put your ThreeTone API key in ${deps.setting}. Conversations are recorded from their webhooks meanwhile; ` +
        `their ThreeTone details wait on the enrichment queue and nothing is dead-lettered.`,
      source: { setting: deps.setting, problem },
    });
    try {
      const { failed } = await deps.publisher.publish([alert]);
      if (failed.length) log.error('could not publish the API key alert; the ThreeToneApiKeyMissing alarm still fires');
    } catch {
      log.error('could not publish the API key alert; the ThreeToneApiKeyMissing alarm still fires');
    }
  };
}
