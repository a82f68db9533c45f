/**
 * The local live stream of `npm start`: `ws://HOST:PORT/live`, on the same HTTP server, pushing each
 * event the local bus appends to `events.jsonl` (the exact line, one WebSocket text message each).
 *
 * Per upgrade request: 1. only `/live` (else 404) 2. authenticate (`QUERY_API_KEY`, as header
 * `x-api-key` or query parameter `api_key`; else 401) 3. read the filters (`agent_id`,
 * `conversation_id`, `detail_type`, each repeatable: a message passes when every given filter has
 * one matching value) 4. accept.
 * Per appended event: send it to every matching client. A client that does not read never slows
 * the pipeline: once more than `maxBufferedBytes` wait for it, it is disconnected (close code 1013,
 * "try again later"; it catches up from the query API on reconnect, see README "Live monitoring").
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { logger } from '#functions/shared/logger.js';
import type { AppendedEvent } from './local-bus.js';

export const LIVE_PATH = '/live';
/** Repeatable query parameters and the envelope field each one matches. */
export const LIVE_FILTERS = {
  agent_id: (e: AppendedEvent['envelope']) => e.detail.agent_id,
  conversation_id: (e: AppendedEvent['envelope']) => e.detail.conversation_id,
  detail_type: (e: AppendedEvent['envelope']) => e['detail-type'],
} as const;
type FilterName = keyof typeof LIVE_FILTERS;
export type LiveFilters = Partial<Record<FilterName, ReadonlySet<string>>>;

export interface LiveStreamOptions {
  /** When set, connections need it (`x-api-key` header or `api_key` query parameter). */
  apiKey?: string | undefined;
  /** Bytes allowed to wait for one client before it is disconnected. @default 1 MiB */
  maxBufferedBytes?: number;
  /** Ping period; a client that has not answered the previous ping is dropped. @default 30 s */
  heartbeatMs?: number;
}

export interface LiveStream {
  /** For the HTTP server's `upgrade` event. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Fans appended events out to the matching clients (the local bus's `onAppend` listener). */
  publish(events: readonly AppendedEvent[]): void;
  /** Connected clients. */
  readonly clients: number;
  /** Clients disconnected because their buffer overflowed, since start. */
  readonly dropped: number;
  /** Closes every connection (1001, going away). */
  close(): Promise<void>;
}

export const DEFAULT_MAX_BUFFERED_BYTES = 1024 * 1024;
const CLOSE_TRY_AGAIN_LATER = 1013;
const CLOSE_GOING_AWAY = 1001;
/** Longest accepted filter value (ids are at most 1,000 bytes in the query API) and value count. */
const MAX_FILTER_VALUE_LENGTH = 1000;
const MAX_FILTER_VALUES = 100;

interface Client {
  readonly ws: WebSocket;
  readonly filters: LiveFilters;
  alive: boolean;
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export function createLiveStream(opts: LiveStreamOptions = {}): LiveStream {
  const maxBuffered = opts.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
  const expectedKey = opts.apiKey ? digest(opts.apiKey) : undefined;
  const wss = new WebSocketServer({ noServer: true, maxPayload: 4096, perMessageDeflate: false });
  const clients = new Set<Client>();
  let dropped = 0;

  const heartbeat = setInterval(() => {
    for (const c of clients) {
      if (!c.alive) {
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }, opts.heartbeatMs ?? 30_000);
  heartbeat.unref();

  function refuse(socket: Duplex, status: 400 | 401 | 404, reason: string, message: string): void {
    const body = JSON.stringify({ error: { code: reason, message } });
    const text = status === 401 ? 'Unauthorized' : status === 404 ? 'Not Found' : 'Bad Request';
    socket.end(
      `HTTP/1.1 ${status} ${text}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  }

  function send(c: Client, line: string): void {
    if (c.ws.readyState !== WebSocket.OPEN) return;
    if (c.ws.bufferedAmount + Buffer.byteLength(line) > maxBuffered) {
      // The close frame would wait behind the backlog: cut the connection now and free the memory.
      dropped++;
      clients.delete(c);
      logger.warn('Live client too slow: disconnected', { bufferedBytes: c.ws.bufferedAmount, limitBytes: maxBuffered });
      c.ws.terminate();
      return;
    }
    c.ws.send(line);
  }

  return {
    handleUpgrade(req, socket, head) {
      const url = new URL(req.url ?? '/', 'http://local');
      if (url.pathname !== LIVE_PATH) return refuse(socket, 404, 'not_found', `No WebSocket route for ${url.pathname}`);
      if (expectedKey) {
        const header = req.headers['x-api-key'];
        const given = (Array.isArray(header) ? header[0] : header) ?? url.searchParams.get('api_key') ?? undefined;
        if (given === undefined || !timingSafeEqual(digest(given), expectedKey)) {
          return refuse(socket, 401, 'unauthorized', 'A valid x-api-key header or api_key query parameter is required.');
        }
      }
      const parsed = parseFilters(url.searchParams);
      if (typeof parsed === 'string') return refuse(socket, 400, 'invalid_parameter', parsed);
      wss.handleUpgrade(req, socket, head, (ws) => {
        const client: Client = { ws, filters: parsed, alive: true };
        clients.add(client);
        ws.on('pong', () => (client.alive = true));
        ws.on('close', () => clients.delete(client));
        ws.on('error', () => clients.delete(client));
        // The stream is one-way: anything a client sends is ignored.
        logger.debug('Live client connected', { clients: clients.size });
      });
    },

    publish(events) {
      if (clients.size === 0) return;
      for (const e of events) for (const c of clients) if (matches(c.filters, e.envelope)) send(c, e.line);
    },

    get clients() {
      return clients.size;
    },
    get dropped() {
      return dropped;
    },

    async close() {
      clearInterval(heartbeat);
      for (const c of clients) c.ws.close(CLOSE_GOING_AWAY, 'server stopping');
      const deadline = setTimeout(() => {
        for (const c of clients) c.ws.terminate();
      }, 1000);
      deadline.unref();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      for (const c of clients) c.ws.terminate();
      clearTimeout(deadline);
      clients.clear();
    },
  };
}

/** The filters of a `/live` URL, or an error message. Unknown parameters are ignored (`api_key`). */
export function parseFilters(params: URLSearchParams): LiveFilters | string {
  const filters: LiveFilters = {};
  for (const name of Object.keys(LIVE_FILTERS) as FilterName[]) {
    const values = params.getAll(name).filter((v) => v !== '');
    if (values.length === 0) continue;
    if (values.length > MAX_FILTER_VALUES) return `At most ${MAX_FILTER_VALUES} values of \`${name}\`.`;
    if (values.some((v) => v.length > MAX_FILTER_VALUE_LENGTH)) return `A \`${name}\` value is too long.`;
    filters[name] = new Set(values);
  }
  return filters;
}

/** Every given filter must have a value equal to the envelope's field (none given: everything). */
export function matches(filters: LiveFilters, envelope: AppendedEvent['envelope']): boolean {
  for (const name of Object.keys(filters) as FilterName[]) {
    const wanted = filters[name]!;
    const value = LIVE_FILTERS[name](envelope);
    if (typeof value !== 'string' || !wanted.has(value)) return false;
  }
  return true;
}
