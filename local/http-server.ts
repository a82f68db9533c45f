/**
 * The local stand-in for the API Gateway HTTP API (payload format 2.0) of `npm start`: serves the
 * routes of functions/routes.ts with the same ingest and query handlers the Lambdas run, with the
 * event API Gateway would build. Per request:
 * 1. access: when `queryApiKey` is set, anything but a public or webhook route needs `x-api-key`
 *    equal to it, else 401, before any routing (an unauthenticated caller learns no route);
 * 2. route: unknown path → 404, known path with another method → 405, `GET /health` → readiness;
 * 3. read the body up to `maxBodyBytes` (over it: 413, stop reading, close the connection);
 * 4. build the APIGatewayProxyEventV2 (body base64-encoded, so the handler sees the exact bytes);
 * 5. write the handler's result; a handler that throws gets a generic 500.
 * Like API Gateway, which ends a request after 30 s, a request whose headers and body have not
 * arrived within `requestTimeoutMs` gets 408 and its connection is closed (a slowly sent body cannot
 * hold a connection open).
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { ROUTES, type RouteSpec, routeKey, segmentsOf } from '#functions/routes.js';
import { logger } from '#functions/shared/logger.js';
import { listen } from './listen.js';

export type ApiHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

export interface HttpServerOptions {
  host: string;
  /** 0 picks a free port (see `url`). */
  port: number;
  ingest: ApiHandler;
  query: ApiHandler;
  /** The `admin` routes (redrive, replay); without it they answer 404. */
  admin?: ApiHandler;
  erasure: ApiHandler;
  /** `GET /health` answers 200 when true, 503 otherwise. */
  isReady: () => boolean;
  /** More figures for `GET /health` (e.g. the enrichment backlog). */
  health?: () => Record<string, unknown>;
  /** API Gateway's own payload limit. @default 10 MiB */
  maxBodyBytes?: number;
  /** When set, every route but the public and webhook ones needs header `x-api-key` equal to it. */
  queryApiKey?: string;
  /** Time allowed to receive a request's headers and body; then 408 and the connection closes. @default 30000 */
  requestTimeoutMs?: number;
  /** WebSocket upgrade requests (the live stream); without it they are refused. */
  upgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /**
   * Serves the `download` routes (a recording, streamed with ranges) in place of their Lambda
   * handler, after the same access check; without it they go to their handler like any route.
   */
  download?: (req: IncomingMessage, res: ServerResponse, params: Record<string, string>) => Promise<void>;
  /** Static files answered to GET before the API routes (the live page); null: not a static path. */
  staticFile?: (path: string) => Promise<{ contentType: string; body: Buffer } | null>;
}

export interface RunningHttpServer {
  /** e.g. `http://127.0.0.1:3000` */
  readonly url: string;
  /** Stops accepting connections and waits for in-flight requests. */
  close(): Promise<void>;
}

export const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;
/** API Gateway's limit for a whole request (30 s). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** In-flight requests get this long to finish on `close` before their connections are cut. */
const CLOSE_GRACE_MS = 5_000;

interface Route extends RouteSpec {
  readonly segments: readonly string[];
  readonly routeKey: string;
}

const SERVED: readonly Route[] = ROUTES.map((r: RouteSpec) => ({ ...r, segments: segmentsOf(r.path), routeKey: routeKey(r) }));

/** Routes anyone may call even when `queryApiKey` is set: the webhook (signed) and public ones. */
const isOpen = (r: Route | undefined) => r !== undefined && (r.access === 'hmac' || r.access === 'public');

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

function errorBody(code: string, message: string): string {
  return JSON.stringify({ error: { code, message } });
}

export async function startHttpServer(opts: HttpServerOptions): Promise<RunningHttpServer> {
  const maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const requestTimeoutMs = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const expectedKey = opts.queryApiKey ? digest(opts.queryApiKey) : undefined;
  let closing = false;

  const server = createServer({
    requestTimeout: requestTimeoutMs,
    headersTimeout: requestTimeoutMs,
    // How often Node checks those timeouts (its default, 30 s, would let a request run to 60 s).
    connectionsCheckingInterval: Math.max(10, Math.min(1_000, Math.floor(requestTimeoutMs / 10))),
  }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      // The client went away mid-request, or writing the response failed.
      logger.warn('Request ended without a response', { errorName: errorName(err) });
      res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const started = Date.now();
    const target = req.url ?? '/';
    const q = target.indexOf('?');
    const rawPath = q === -1 ? target : target.slice(0, q);
    const rawQueryString = q === -1 ? '' : target.slice(q + 1);
    const method = req.method ?? 'GET';

    const reply = (status: number, headers: OutgoingHttpHeaders, body: Buffer | string) => {
      const payload = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
      const h: OutgoingHttpHeaders = { ...headers, 'content-length': payload.length, 'apigw-requestid': requestId };
      if (closing) h.connection = 'close';
      res.writeHead(status, h);
      res.end(payload);
      logger.debug('Local HTTP request', { method, routeKey: matched?.route.routeKey, status, ms: Date.now() - started });
    };

    const candidates = SERVED.flatMap((r) => {
      const params = matchPath(r.segments, rawPath);
      return params ? [{ route: r, params }] : [];
    });
    const matched = candidates.find((c) => c.route.method === method);

    // 0. the live page's static files are public (they hold no data; the page asks for the key)
    if (candidates.length === 0 && opts.staticFile && (method === 'GET' || method === 'HEAD')) {
      const file = await opts.staticFile(rawPath);
      if (file) return reply(200, { 'content-type': file.contentType, 'cache-control': 'no-cache' }, method === 'HEAD' ? '' : file.body);
    }

    // 1. access, before anything reveals which routes exist
    if (expectedKey && !isOpen(matched?.route)) {
      const given = req.headers['x-api-key'];
      if (typeof given !== 'string' || !timingSafeEqual(digest(given), expectedKey)) {
        return reply(401, JSON_HEADERS, errorBody('unauthorized', 'A valid x-api-key header is required.'));
      }
    }

    // 2. route
    if (candidates.length === 0) {
      return reply(404, JSON_HEADERS, errorBody('not_found', `No route for ${method} ${rawPath}`));
    }
    if (!matched) {
      const allow = [...new Set(candidates.map((c) => c.route.method))].join(', ');
      return reply(405, { ...JSON_HEADERS, allow }, errorBody('method_not_allowed', `${method} is not allowed on ${rawPath}`));
    }
    if (matched.route.target === 'health') {
      return opts.isReady()
        ? reply(200, JSON_HEADERS, JSON.stringify({ status: 'ok', ...opts.health?.() }))
        : reply(503, JSON_HEADERS, JSON.stringify({ status: 'starting' }));
    }

    // A file, streamed (never read whole into memory as a handler's result would be).
    if (matched.route.download && opts.download) {
      await opts.download(req, res, matched.params);
      logger.debug('Local HTTP request', { method, routeKey: matched.route.routeKey, status: res.statusCode, ms: Date.now() - started });
      return;
    }

    // 3. body
    const body = await readBody(req, maxBodyBytes);
    if (body === null) {
      // Stop reading, answer, then close: the rest of the body is never read.
      res.once('finish', () => setTimeout(() => req.socket.destroy(), 100).unref());
      return reply(
        413,
        { ...JSON_HEADERS, connection: 'close' },
        errorBody('payload_too_large', `Request body exceeds ${maxBodyBytes} bytes`),
      );
    }

    // 4. event, 5. handler
    const event = buildEvent(req, {
      routeKey: matched.route.routeKey,
      rawPath,
      rawQueryString,
      pathParameters: matched.params,
      body,
      requestId,
      now: started,
      port: (server.address() as AddressInfo).port,
    });
    const handler = lambdaHandler(matched.route.target);
    let result: APIGatewayProxyStructuredResultV2;
    try {
      result = await handler(event);
    } catch (err) {
      // The name only: messages and payloads may hold personal data.
      logger.error('Handler failed', { routeKey: matched.route.routeKey, errorName: errorName(err), requestId });
      return reply(500, JSON_HEADERS, errorBody('internal_error', 'Internal error'));
    }
    const status = result.statusCode ?? 200;
    if (!Number.isInteger(status) || status < 100 || status > 599) {
      logger.error('Handler returned an invalid status code', { routeKey: matched.route.routeKey, requestId });
      return reply(500, JSON_HEADERS, errorBody('internal_error', 'Internal error'));
    }
    const headers: OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(result.headers ?? {})) headers[name.toLowerCase()] = String(value);
    if (result.cookies?.length) headers['set-cookie'] = result.cookies;
    const payload =
      result.body === undefined
        ? Buffer.alloc(0)
        : Buffer.from(result.body, result.isBase64Encoded ? 'base64' : 'utf8');
    return reply(status, headers, payload);
  }

  /** The Lambda handler behind a target; the local server's own targets are answered above. */
  function lambdaHandler(target: RouteSpec['target']): ApiHandler {
    switch (target) {
      case 'ingest':
        return opts.ingest;
      case 'query':
        return opts.query;
      case 'admin':
        return opts.admin ?? (async () => ({ statusCode: 404, headers: JSON_HEADERS, body: errorBody('not_found', 'No admin operations here') }));
      case 'erasure':
        return opts.erasure;
      case 'health':
        throw new Error(`target ${target} is answered by the server itself`);
      default: {
        const unknown: never = target;
        throw new Error(`no handler for target ${String(unknown)}`);
      }
    }
  }

  server.on('upgrade', (req, socket, head) => {
    if (opts.upgrade && !closing) opts.upgrade(req, socket, head);
    else socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
  });
  const url = await listen(server, opts.port, opts.host);

  return {
    url,
    close() {
      closing = true;
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
        timer.unref();
        server.close((err) => {
          clearTimeout(timer);
          if (err) reject(err);
          else resolve();
        });
        server.closeIdleConnections();
      });
    },
  };
}

/** Path parameters when `rawPath` matches the route's segments (`{name}` matches one non-empty segment). */
function matchPath(segments: readonly string[], rawPath: string): Record<string, string> | null {
  const parts = rawPath.split('/').slice(1);
  if (!rawPath.startsWith('/') || parts.length !== segments.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const pattern = segments[i]!;
    const part = parts[i]!;
    if (pattern.startsWith('{')) {
      if (part === '') return null;
      params[pattern.slice(1, -1)] = decode(part);
    } else if (pattern !== part) {
      return null;
    }
  }
  return params;
}

/** The body, or null when it is larger than `limit` (then reading stops). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | null> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.resolve(null);
  return new Promise<Buffer | null>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.pause();
        chunks.length = 0;
        resolve(null);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onClose = () => onError(new Error('client closed the request before its end'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

interface EventParts {
  routeKey: string;
  rawPath: string;
  rawQueryString: string;
  pathParameters: Record<string, string>;
  body: Buffer;
  requestId: string;
  now: number;
  port: number;
}

/** The event API Gateway HTTP API (payload 2.0) sends to a Lambda integration. */
function buildEvent(req: IncomingMessage, p: EventParts): APIGatewayProxyEventV2 {
  // Header names lower-cased, repeated headers joined with commas; cookies go to `cookies`.
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!.toLowerCase();
    const value = req.rawHeaders[i + 1]!;
    if (name === 'cookie') {
      cookies.push(...value.split(';').map((c) => c.trim()).filter((c) => c !== ''));
      continue;
    }
    headers[name] = name in headers ? `${headers[name]},${value}` : value;
  }
  const sourceIp = (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
  headers['x-forwarded-for'] = headers['x-forwarded-for'] ? `${headers['x-forwarded-for']}, ${sourceIp}` : sourceIp;
  headers['x-forwarded-port'] ??= String(p.port);
  headers['x-forwarded-proto'] ??= 'http';

  const domainName = (headers.host ?? `localhost:${p.port}`).replace(/:\d+$/, '');
  const method = req.method ?? 'GET';
  const query = parseQuery(p.rawQueryString);
  const hasBody = p.body.length > 0;

  return {
    version: '2.0',
    routeKey: p.routeKey,
    rawPath: p.rawPath,
    rawQueryString: p.rawQueryString,
    ...(cookies.length > 0 ? { cookies } : {}),
    headers,
    ...(query ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName,
      domainPrefix: domainName.split('.')[0] ?? domainName,
      http: {
        method,
        path: p.rawPath,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: p.requestId,
      routeKey: p.routeKey,
      stage: '$default',
      time: clfTime(p.now),
      timeEpoch: p.now,
    },
    ...(Object.keys(p.pathParameters).length > 0 ? { pathParameters: p.pathParameters } : {}),
    ...(hasBody ? { body: p.body.toString('base64') } : {}),
    isBase64Encoded: hasBody,
  };
}

/** Decoded query parameters, repeated keys joined with commas (as API Gateway does); undefined when none. */
function parseQuery(raw: string): Record<string, string> | undefined {
  if (raw === '') return undefined;
  const out: Record<string, string> = {};
  for (const pair of raw.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = decode(eq === -1 ? pair : pair.slice(0, eq), true);
    const value = eq === -1 ? '' : decode(pair.slice(eq + 1), true);
    out[key] = key in out ? `${out[key]},${value}` : value;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

function decode(s: string, plusIsSpace = false): string {
  const t = plusIsSpace ? s.replace(/\+/g, ' ') : s;
  try {
    return decodeURIComponent(t);
  } catch {
    return t;
  }
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `requestContext.time` format: `12/Mar/2020:19:03:58 +0000`. */
function clfTime(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(
    d.getUTCMinutes(),
  )}:${two(d.getUTCSeconds())} +0000`;
}

function errorName(err: unknown): string {
  return err instanceof Error ? err.name : typeof err;
}
