/**
 * The processor's time budget, in one place: its Lambda timeout follows from the ThreeTone client's
 * retry budget, the queue's visibility timeout from that timeout, and the age a queued message may
 * normally reach from both. The CDK app derives the function timeout, the queue and the queue-age
 * alarm from `processingSchedule`, so raising retries or the per-attempt timeout moves them all.
 */
import { worstCaseCallMs } from '#adapters/threetone-http.js';
import type { ThreeToneClientConfig } from '#functions/config.js';

/** A message may need ThreeTone's details, then its transcript: two calls, one after the other. */
export const THREETONE_CALLS_PER_MESSAGE = 2;
/** DynamoDB reads and the conditional commit (with its retries), and publishing to EventBridge. */
export const STORE_HEADROOM_SECONDS = 30;
/** AWS's guidance for an SQS-triggered function: visibility timeout at least 6 times its timeout. */
export const VISIBILITY_TIMEOUT_FACTOR = 6;
/** Lambda's longest timeout. */
export const MAX_LAMBDA_TIMEOUT_SECONDS = 900;

export interface ProcessingSchedule {
  /** The processor function's timeout. */
  readonly timeoutSeconds: number;
  /** The work queue's visibility timeout. */
  readonly visibilityTimeoutSeconds: number;
  /**
   * The oldest a message gets while it is retried normally: `maxReceiveCount` deliveries, each hidden
   * for the visibility timeout, after which it has been processed or moved to the dead-letter queue.
   */
  readonly longestNormalWaitSeconds: number;
}

export class ScheduleError extends Error {
  override name = 'ScheduleError';
}

export function processingSchedule(client: ThreeToneClientConfig, maxReceiveCount: number): ProcessingSchedule {
  const threeToneSeconds = (THREETONE_CALLS_PER_MESSAGE * worstCaseCallMs(client)) / 1000;
  const timeoutSeconds = Math.ceil(threeToneSeconds + STORE_HEADROOM_SECONDS);
  if (timeoutSeconds > MAX_LAMBDA_TIMEOUT_SECONDS) {
    throw new ScheduleError(
      `the ThreeTone retry budget (${THREETONE_CALLS_PER_MESSAGE} calls of up to ${worstCaseCallMs(client) / 1000} s) needs a ` +
        `${timeoutSeconds} s processor timeout, more than Lambda's ${MAX_LAMBDA_TIMEOUT_SECONDS} s: lower the retries, ` +
        'the per-attempt timeout or the longest wait',
    );
  }
  const visibilityTimeoutSeconds = VISIBILITY_TIMEOUT_FACTOR * timeoutSeconds;
  return { timeoutSeconds, visibilityTimeoutSeconds, longestNormalWaitSeconds: maxReceiveCount * visibilityTimeoutSeconds };
}
