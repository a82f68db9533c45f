/**
 * Injected faults: a queue of "the next N requests fail" entries (optionally for one conversation)
 * and a random failure rate drawn from a PRNG seeded from the simulator's seed. `take` says whether
 * the request at hand fails, and how.
 */
import { hash32, mulberry32 } from '../prng.js';

export type FaultKind = '500' | '429' | 'timeout' | 'reset';
export const FAULT_KINDS: readonly FaultKind[] = ['500', '429', 'timeout', 'reset'];

export interface FaultOptions {
  /** Only requests for this conversation (details or transcript) fail; default: any API request. */
  conversationId?: string;
  /** `Retry-After` of an injected 429, in seconds. @default 1 */
  retryAfterSeconds?: number;
}

export interface FaultController {
  /** The next `count` matching API requests fail with `kind`. Queued faults apply in order. */
  failNext(count: number, kind: FaultKind, options?: FaultOptions): void;
  /** Each API request fails with `kind` with probability `probability` (deterministic PRNG from the seed). */
  setRandomFailureRate(probability: number, kind?: FaultKind): void;
  clear(): void;
}

export interface Fault {
  kind: FaultKind;
  retryAfterSeconds: number;
}

export interface FaultInjector {
  readonly controller: FaultController;
  /** The fault of the next request (for `conversationId`, if it names one), consuming a queued one; else undefined. */
  take(conversationId: string | undefined): Fault | undefined;
}

interface QueuedFault {
  remaining: number;
  kind: FaultKind;
  conversationId?: string;
  retryAfterSeconds: number;
}

export function createFaultInjector(seed: number): FaultInjector {
  const faultQueue: QueuedFault[] = [];
  let randomRate = 0;
  let randomKind: FaultKind = '500';
  const faultRng = mulberry32(hash32(`${seed}|faults`));

  const controller: FaultController = {
    failNext(count, kind, options = {}) {
      if (!Number.isInteger(count) || count < 0) throw new RangeError(`count must be a non-negative integer, got ${count}`);
      if (!FAULT_KINDS.includes(kind)) throw new RangeError(`unknown fault kind ${String(kind)}`);
      if (count === 0) return;
      faultQueue.push({
        remaining: count,
        kind,
        ...(options.conversationId !== undefined && { conversationId: options.conversationId }),
        retryAfterSeconds: options.retryAfterSeconds ?? 1,
      });
    },
    setRandomFailureRate(probability, kind = '500') {
      if (!(probability >= 0 && probability <= 1)) throw new RangeError(`probability must be in [0, 1], got ${probability}`);
      if (!FAULT_KINDS.includes(kind)) throw new RangeError(`unknown fault kind ${String(kind)}`);
      randomRate = probability;
      randomKind = kind;
    },
    clear() {
      faultQueue.length = 0;
      randomRate = 0;
    },
  };

  function take(conversationId: string | undefined): Fault | undefined {
    const index = faultQueue.findIndex((f) => f.conversationId === undefined || f.conversationId === conversationId);
    const queued = faultQueue[index];
    if (queued) {
      queued.remaining -= 1;
      if (queued.remaining === 0) faultQueue.splice(index, 1);
      return { kind: queued.kind, retryAfterSeconds: queued.retryAfterSeconds };
    }
    if (randomRate > 0 && faultRng() < randomRate) return { kind: randomKind, retryAfterSeconds: 1 };
    return undefined;
  }

  return { controller, take };
}
