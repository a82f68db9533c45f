import { request } from 'node:http';
import { connect } from 'node:net';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_REQUEST_TIMEOUT_MS, startHttpServer, type HttpServerOptions, type RunningHttpServer } from '#local/http-server.js';

let server: RunningHttpServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const ok = (body: unknown = { ok: true }): APIGatewayProxyStructuredResultV2 => ({
  statusCode: 200,
  headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify(body),
});

/** Starts a server whose handlers record the events they get. */
async function start(opts: Partial<HttpServerOptions> = {}) {
  const ingested: APIGatewayProxyEventV2[] = [];
  const queried: APIGatewayProxyEventV2[] = [];
  const erased: APIGatewayProxyEventV2[] = [];
  server = await startHttpServer({
    host: '127.0.0.1',
    port: 0,
    ingest: async (e) => {
      ingested.push(e);
      return { statusCode: 202, headers: { 'content-type': 'application/json' }, body: '{"accepted":true}' };
    },
    query: async (e) => {
      queried.push(e);
      return ok();
    },
    erasure: async (e) => {
      erased.push(e);
      return ok({ erased: true });
    },
    isReady: () => true,
    ...opts,
  });
  return { url: server.url, ingested, queried, erased };
}

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A request with exact control of headers (duplicates included) and body. */
function raw(
  url: string,
  opts: { method?: string; path: string; headers?: [string, string][]; body?: Buffer | string },
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${opts.path}`, { method: opts.method ?? 'GET' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    for (const [name, value] of opts.headers ?? []) {
      const prev = req.getHeader(name);
      req.setHeader(name, prev === undefined ? value : [...(Array.isArray(prev) ? prev : [String(prev)]), value]);
    }
    req.end(opts.body);
  });
}

describe('local HTTP server', () => {
  it('passes a webhook to ingest as an HTTP API v2 event with the exact body bytes', async () => {
    const { url, ingested } = await start();
    const body = Buffer.from('{"event":"call_started","data":{"name":"Zoë 🙂 日本"},"timestamp":1}\n', 'utf8');

    const res = await raw(url, {
      method: 'POST',
      path: '/webhooks/threetone?debug=1',
      headers: [
        ['Content-Type', 'application/json'],
        ['X-ThreeTone-Signature', 't=1,v1=abc'],
        ['X-Multi', 'one'],
        ['x-multi', 'two'],
        ['User-Agent', 'ThreeTone-Webhooks/1.0'],
        ['Cookie', 'a=1; b=2'],
      ],
      body,
    });

    expect(res.status).toBe(202);
    expect(JSON.parse(res.body)).toEqual({ accepted: true });
    expect(res.headers['apigw-requestid']).toEqual(expect.any(String));
    expect(ingested).toHaveLength(1);
    const e = ingested[0]!;
    expect(e).toMatchObject({
      version: '2.0',
      routeKey: 'POST /webhooks/threetone',
      rawPath: '/webhooks/threetone',
      rawQueryString: 'debug=1',
      queryStringParameters: { debug: '1' },
      cookies: ['a=1', 'b=2'],
      isBase64Encoded: true,
      requestContext: {
        http: {
          method: 'POST',
          path: '/webhooks/threetone',
          protocol: 'HTTP/1.1',
          sourceIp: '127.0.0.1',
          userAgent: 'ThreeTone-Webhooks/1.0',
        },
        requestId: res.headers['apigw-requestid'],
        routeKey: 'POST /webhooks/threetone',
        stage: '$default',
        time: expect.stringMatching(/^\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d \+0000$/),
        timeEpoch: expect.any(Number),
      },
    });
    expect(Buffer.from(e.body!, 'base64').equals(body)).toBe(true);
    expect(e.headers).toMatchObject({
      'content-type': 'application/json',
      'x-threetone-signature': 't=1,v1=abc',
      'x-multi': 'one,two',
      'user-agent': 'ThreeTone-Webhooks/1.0',
      'content-length': String(body.length),
    });
    expect(Object.keys(e.headers).every((k) => k === k.toLowerCase())).toBe(true);
    expect(e.headers.cookie).toBeUndefined();
    expect(e.pathParameters).toBeUndefined();
  });

  it.each([
    ['/conversations?agent_id=agent%201&limit=5&from=2025-01-01T00:00:00%2B00:00', 'GET /conversations', undefined, {
      agent_id: 'agent 1',
      limit: '5',
      from: '2025-01-01T00:00:00+00:00',
    }],
    ['/conversations/conv%2F1', 'GET /conversations/{conversation_id}', { conversation_id: 'conv/1' }, undefined],
    ['/conversations/c-1/transcript', 'GET /conversations/{conversation_id}/transcript', { conversation_id: 'c-1' }, undefined],
    ['/agents/a-1/metrics?from=2025-01-01&to=2025-01-31&from=x', 'GET /agents/{agent_id}/metrics', { agent_id: 'a-1' }, {
      from: '2025-01-01,x',
      to: '2025-01-31',
    }],
  ])('routes GET %s to query with path and query parameters', async (path, routeKey, pathParameters, query) => {
    const { url, queried } = await start();

    const res = await raw(url, { path, headers: [['X-Api-Key', 'k']] });

    expect(res.status).toBe(200);
    const e = queried[0]!;
    expect(e.routeKey).toBe(routeKey);
    expect(e.requestContext.routeKey).toBe(routeKey);
    expect(e.pathParameters).toEqual(pathParameters);
    expect(e.queryStringParameters).toEqual(query);
    expect(e.rawQueryString).toBe(path.includes('?') ? path.slice(path.indexOf('?') + 1) : '');
    expect(e.headers['x-api-key']).toBe('k');
    expect(e.body).toBeUndefined();
    expect(e.isBase64Encoded).toBe(false);
  });

  it('writes the handler result: status, headers and a base64 body decoded', async () => {
    const bytes = Buffer.from([0, 1, 2, 250, 255]);
    const { url } = await start({
      query: async () => ({
        statusCode: 201,
        headers: { 'X-Custom': 'yes', 'content-type': 'application/octet-stream' },
        body: bytes.toString('base64'),
        isBase64Encoded: true,
      }),
    });

    const res = await new Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
      request(`${url}/conversations/c1`, (r) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, headers: r.headers, body: Buffer.concat(chunks) }));
      })
        .on('error', reject)
        .end();
    });

    expect(res.status).toBe(201);
    expect(res.headers['x-custom']).toBe('yes');
    expect(res.body.equals(bytes)).toBe(true);
  });

  it('answers 404 with a JSON error for an unknown path', async () => {
    const { url, ingested, queried } = await start();

    for (const path of ['/nope', '/conversations/', '/conversations/a/b', '/webhooks/threetone/x']) {
      const res = await raw(url, { path });
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(JSON.parse(res.body)).toEqual({ error: { code: 'not_found', message: expect.any(String) } });
    }
    expect([...ingested, ...queried]).toEqual([]);
  });

  it('answers 405 with a JSON error and Allow for a wrong method on a known path', async () => {
    const { url, ingested, queried } = await start();

    const get = await raw(url, { path: '/webhooks/threetone' });
    const post = await raw(url, { method: 'POST', path: '/conversations/c1', body: '{}' });

    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('POST');
    expect(JSON.parse(get.body)).toEqual({ error: { code: 'method_not_allowed', message: expect.any(String) } });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, DELETE');
    expect([...ingested, ...queried]).toEqual([]);
  });

  it('routes the erasure routes to the erasure handler, behind the query key', async () => {
    const { url, queried, erased } = await start({ queryApiKey: 'k' });

    const denied = await raw(url, { method: 'DELETE', path: '/conversations/c1' });
    const del = await raw(url, { method: 'DELETE', path: '/conversations/c1', headers: [['x-api-key', 'k']] });
    const post = await raw(url, { method: 'POST', path: '/erasures', body: '{"phone_number":"+15550100"}', headers: [['x-api-key', 'k']] });

    expect(denied.status).toBe(401);
    expect(del.status).toBe(200);
    expect(post.status).toBe(200);
    expect(erased.map((e) => `${e.requestContext.http.method} ${e.rawPath}`)).toEqual(['DELETE /conversations/c1', 'POST /erasures']);
    expect(queried).toEqual([]);
  });

  it('answers 413 to a body declared larger than the limit, without calling the handler', async () => {
    const { url, ingested } = await start({ maxBodyBytes: 1024 });

    const res = await raw(url, { method: 'POST', path: '/webhooks/threetone', body: Buffer.alloc(1025, 'a') });

    expect(res.status).toBe(413);
    expect(JSON.parse(res.body)).toEqual({ error: { code: 'payload_too_large', message: expect.any(String) } });
    expect(ingested).toEqual([]);
  });

  it('answers 413 to a streamed body once it passes the limit, without reading the rest', async () => {
    const { url, ingested } = await start({ maxBodyBytes: 64 * 1024 });
    const chunk = Buffer.alloc(16 * 1024, 'a');
    let written = 0;
    let answered = false;

    const res = await new Promise<RawResponse>((resolve, reject) => {
      const req = request(`${url}/webhooks/threetone`, { method: 'POST' }, (r) => {
        answered = true;
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, headers: r.headers, body: Buffer.concat(chunks).toString() }));
      });
      req.on('error', () => undefined); // the server closes the connection while we still send
      const pump = () => {
        // Chunked transfer: no content-length, so the server must count. Up to 64 MiB, never all read.
        while (written < 64 * 1024 * 1024 && !answered && !req.destroyed) {
          written += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
      setTimeout(() => reject(new Error('no response')), 5_000).unref();
    });

    expect(res.status).toBe(413);
    expect(JSON.parse(res.body).error.code).toBe('payload_too_large');
    expect(ingested).toEqual([]);
    expect(written).toBeLessThan(16 * 1024 * 1024); // what socket buffers took, not the 64 MiB
  });

  it('accepts a body exactly at the limit', async () => {
    const { url, ingested } = await start({ maxBodyBytes: 1024 });

    const res = await raw(url, { method: 'POST', path: '/webhooks/threetone', body: Buffer.alloc(1024, 'a') });

    expect(res.status).toBe(202);
    expect(Buffer.from(ingested[0]!.body!, 'base64')).toHaveLength(1024);
  });

  it('answers a generic 500 JSON error when a handler throws', async () => {
    const { url } = await start({
      ingest: async () => {
        throw new Error('secret detail: +1 555 0100');
      },
    });

    const res = await raw(url, { method: 'POST', path: '/webhooks/threetone', body: '{}' });

    expect(res.status).toBe(500);
    expect(JSON.parse(res.body)).toEqual({ error: { code: 'internal_error', message: 'Internal error' } });
  });

  it('reports readiness on GET /health', async () => {
    let ready = false;
    const { url } = await start({ isReady: () => ready });

    const before = await raw(url, { path: '/health' });
    ready = true;
    const after = await raw(url, { path: '/health' });

    expect(before.status).toBe(503);
    expect(after.status).toBe(200);
    expect(JSON.parse(after.body)).toEqual({ status: 'ok' });
  });

  it('closes while idle keep-alive connections are open', async () => {
    const { url } = await start();
    await fetch(`${url}/health`).then((r) => r.text());

    const t0 = Date.now();
    await server!.close();
    server = undefined;

    expect(Date.now() - t0).toBeLessThan(1_000);
  });
});

/** Writes `chunks` on a raw socket (the last one is left hanging) and returns what the server answers. */
function slowClient(url: string, chunks: string[]): Promise<{ response: string; closedAfterMs: number }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect(Number(port), hostname, () => {
      for (const c of chunks) socket.write(c);
    });
    let response = '';
    socket.on('data', (d) => {
      response += d.toString('utf8');
    });
    socket.on('close', () => resolve({ response, closedAfterMs: Date.now() - started }));
    socket.on('error', reject);
  });
}

describe('local HTTP server: request timeouts (like API Gateway, 30 s by default)', () => {
  it('answers 408 and closes a connection whose body arrives too slowly, without calling the handler', async () => {
    const { url, ingested } = await start({ requestTimeoutMs: 300 });
    const { response, closedAfterMs } = await slowClient(url, [
      'POST /webhooks/threetone HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n',
      '{"event":',
    ]);
    expect(response).toMatch(/^HTTP\/1\.1 408 /);
    expect(closedAfterMs).toBeLessThan(3_000);
    expect(ingested).toEqual([]);
  });

  it('answers 408 and closes a connection whose headers never end', async () => {
    const { url } = await start({ requestTimeoutMs: 300 });
    const { response, closedAfterMs } = await slowClient(url, ['GET /health HTTP/1.1\r\nHost: localhost\r\nX-Slow: ']);
    expect(response).toMatch(/^HTTP\/1\.1 408 /);
    expect(closedAfterMs).toBeLessThan(3_000);
  });

  it('defaults to 30 s', () => {
    expect(DEFAULT_REQUEST_TIMEOUT_MS).toBe(30_000);
  });
});

describe('local HTTP server: QUERY_API_KEY is checked before routing', () => {
  const KEY = 'local-query-key';
  const withKey: [string, string][] = [['x-api-key', KEY]];

  it.each([
    ['GET', '/no-such-route'],
    ['GET', '/conversations'],
    ['DELETE', '/conversations'],
    ['GET', '/webhooks/threetone'],
    ['POST', '/health'],
  ])('%s %s without the key: 401, revealing nothing about routes', async (method, path) => {
    const { url, queried } = await start({ queryApiKey: KEY });
    const res = await raw(url, { method, path, headers: [['x-api-key', 'wrong']] });
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body)).toEqual({ error: { code: 'unauthorized', message: 'A valid x-api-key header is required.' } });
    expect(queried).toEqual([]);
  });

  it('leaves the webhook route (signed) and /health open', async () => {
    const { url, ingested } = await start({ queryApiKey: KEY });
    expect((await raw(url, { method: 'POST', path: '/webhooks/threetone', body: '{}' })).status).toBe(202);
    expect(ingested).toHaveLength(1);
    expect((await raw(url, { path: '/health' })).status).toBe(200);
  });

  it('with the key: routes as usual (200, 404, 405)', async () => {
    const { url, queried } = await start({ queryApiKey: KEY });
    expect((await raw(url, { path: '/conversations', headers: withKey })).status).toBe(200);
    expect(queried).toHaveLength(1);
    expect((await raw(url, { path: '/no-such-route', headers: withKey })).status).toBe(404);
    expect((await raw(url, { method: 'DELETE', path: '/conversations', headers: withKey })).status).toBe(405);
  });
});
