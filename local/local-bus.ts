/**
 * The local EventBridge bus of `npm start`: an `EventPublisher` that appends each event, as the
 * envelope an EventBridge target receives, one JSON object per line, to a file
 * (`DATA_DIR/events.jsonl`). It keeps PutEvents' limits so the callers' handling of them runs
 * locally too: at most 10 entries per call (larger publishes are chunked), 256 KiB per entry (an
 * oversized entry comes back in `failed`), and failed entries reported per entry, not thrown.
 * Listeners (`onAppend`, e.g. the live stream) get each line once it is on disk.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { appendFile, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { EVENT_SOURCE, type BusEvent, putEventsCalls } from '#core/bus-events.js';
import { stringifyJson } from '#core/json-text.js';
import type { EventPublisher } from '#functions/ports.js';
import { logger } from '#functions/shared/logger.js';

/** What an EventBridge rule target receives. */
export interface EventBridgeEnvelope {
  version: '0';
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: Record<string, unknown>;
}

export interface LocalBusOptions {
  /** The JSON-lines file events are appended to; its folder is created. */
  file: string;
  /** @default '000000000000' */
  account?: string;
  /** @default 'local' */
  region?: string;
  /** Informational (envelopes do not carry it). @default 'threetone-local' */
  busName?: string;
  /** Entries to fail before the first success (see `failNext`). @default 0 */
  failNext?: number;
}

/** One appended event: the line written to the file (without its newline) and its envelope. */
export interface AppendedEvent {
  readonly line: string;
  readonly envelope: EventBridgeEnvelope;
}

export interface LocalBus extends EventPublisher {
  readonly file: string;
  readonly busName: string;
  /** Fault injection: the next `n` entries are returned in `failed` and not written. */
  failNext(n: number): void;
  /**
   * Calls `listener` with the events of each successful append, in file order, synchronously
   * after the write (a listener must not block: it runs on the publisher's path). Returns an
   * unsubscribe function. A listener that throws is logged and does not fail the publish.
   */
  onAppend(listener: (events: readonly AppendedEvent[]) => void): () => void;
}


export function createLocalBus(opts: LocalBusOptions): LocalBus {
  const account = opts.account ?? '000000000000';
  const region = opts.region ?? 'local';
  let failures = count(opts.failNext ?? 0);
  const listeners = new Set<(events: readonly AppendedEvent[]) => void>();
  mkdirSync(dirname(opts.file), { recursive: true });

  // Appends run one after another, so lines of concurrent publishes never interleave.
  let tail: Promise<void> = Promise.resolve();
  function append(data: string): Promise<void> {
    const write = tail.then(() => appendFile(opts.file, data, 'utf8'));
    tail = write.catch(() => undefined);
    return write;
  }

  function envelope(e: BusEvent): EventBridgeEnvelope {
    return {
      version: '0',
      id: randomUUID(),
      'detail-type': e.detailType,
      source: EVENT_SOURCE,
      account,
      time: e.time,
      region,
      resources: [],
      detail: e.detail,
    };
  }

  /** One PutEvents call: entries that fail are returned, the others written together. */
  async function put(entries: readonly BusEvent[]): Promise<{ failed: BusEvent[]; written: number; error?: unknown }> {
    const failed: BusEvent[] = [];
    const accepted: BusEvent[] = [];
    const appended: AppendedEvent[] = [];
    for (const e of entries) {
      if (failures > 0) {
        failures -= 1;
        failed.push(e);
      } else {
        accepted.push(e);
        const env = envelope(e);
        // Numbers a double cannot hold keep their digits in the file and on the live stream.
        appended.push({ line: stringifyJson(env), envelope: env });
      }
    }
    if (appended.length === 0) return { failed, written: 0 };
    try {
      await append(appended.map((a) => `${a.line}\n`).join(''));
    } catch (error) {
      return { failed: [...failed, ...accepted], written: 0, error };
    }
    notify(appended);
    return { failed, written: accepted.length };
  }

  function notify(appended: readonly AppendedEvent[]): void {
    for (const listener of listeners) {
      try {
        listener(appended);
      } catch (err) {
        logger.warn('Bus listener failed', { errorName: err instanceof Error ? err.name : typeof err });
      }
    }
  }

  return {
    file: opts.file,
    busName: opts.busName ?? 'threetone-local',

    async publish(events) {
      const failed: BusEvent[] = [];
      let written = 0;
      let error: unknown;
      // Calls as the EventBridge adapter makes them: ≤ 10 entries and ≤ 256 KB each; an entry too
      // large on its own is failed, as EventBridge would refuse it.
      const { calls, oversized } = putEventsCalls(events);
      for (const e of oversized) {
        logger.warn('Bus entry over the PutEvents size limit rejected', { detailType: e.detailType, eventId: e.detail.event_id });
        failed.push(e);
      }
      for (const call of calls) {
        const r = await put(call);
        failed.push(...r.failed);
        written += r.written;
        if (r.error !== undefined) error = r.error;
      }
      // The port's contract: reject only when nothing is known to have been published.
      if (error !== undefined && written === 0) throw error;
      return { failed };
    },

    failNext(n) {
      failures = count(n);
    },

    onAppend(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** Parses a bus file (missing file: no events). */
export async function readEvents(file: string): Promise<EventBridgeEnvelope[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as EventBridgeEnvelope);
}

function count(n: number): number {
  if (!Number.isInteger(n) || n < 0) throw new RangeError('failNext needs a non-negative integer');
  return n;
}
