import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_WEBHOOK_BYTES, type IngestConfig } from '#functions/config.js';
import { signBody } from '#core/signature.js';
import { createIngestHandler, type IngestDeps } from '#functions/ingest/ingest.js';
import type { SecretSource, WebhookQueue } from '#functions/ports.js';
import { apiGatewayEvent } from '#test/helpers/api-gateway.js';

const SECRET = 'whsec_current';
const NOW = Date.UTC(2024, 0, 15, 10, 30, 0);
const NOW_ISO = new Date(NOW).toISOString();
const DEFAULT_CONFIG: IngestConfig = {
  signature: { header: 'x-threetone-signature', prefix: 'sha256=' },
  replayWindowSeconds: 86_400,
};

class FakeQueue implements WebhookQueue {
  readonly sent: { body: string; receivedAt: string }[] = [];
  failWith: Error | null = null;
  async send(message: { body: string; receivedAt: string }) {
    if (this.failWith) throw this.failWith;
    this.sent.push(message);
  }
}

const secretsOf = (...values: string[]): SecretSource & { calls: number } => {
  const source = {
    calls: 0,
    async get() {
      source.calls += 1;
      return values;
    },
  };
  return source;
};

interface LogLine {
  level: 'info' | 'warn' | 'error';
  message: string;
  attrs: Record<string, unknown>;
}

function setup(overrides: Partial<IngestDeps> = {}) {
  const queue = new FakeQueue();
  const logs: LogLine[] = [];
  const record = (level: LogLine['level']) => (message: string, attrs: Record<string, unknown>) => {
    logs.push({ level, message, attrs });
  };
  const counts = { signatureFailure: 0, accepted: 0 };
  const handler = createIngestHandler({
    queue,
    secrets: secretsOf(SECRET),
    config: DEFAULT_CONFIG,
    now: () => NOW,
    metrics: { signatureFailure: () => void counts.signatureFailure++, accepted: () => void counts.accepted++ },
    logger: { info: record('info'), warn: record('warn'), error: record('error') } as unknown as IngestDeps['logger'],
    ...overrides,
  });
  return { handler, queue, logs, counts };
}

function envelope(overrides: Record<string, unknown> = {}) {
  return JSON.stringify({
    event: 'conversation_started',
    timestamp: new Date(NOW - 5_000).toISOString(),
    data: { conversation_id: 'conv_1', agent_id: 'agent_1', phone_number: '+15551234567' },
    ...overrides,
  });
}

function request(
  body: string | Buffer | undefined,
  opts: { signature?: string | null; secret?: string; headers?: Record<string, string>; base64?: boolean } = {},
): APIGatewayProxyEventV2 {
  const raw = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  const headers: Record<string, string> = { 'content-type': 'application/json', ...opts.headers };
  if (opts.signature !== null) {
    headers['x-threetone-signature'] = opts.signature ?? signBody(raw ?? '', opts.secret ?? SECRET);
  }
  return apiGatewayEvent('POST', '/webhooks/threetone', {
    routeKey: 'POST /webhooks/threetone',
    headers,
    isBase64Encoded: opts.base64 ?? false,
    ...(raw !== undefined && { body: opts.base64 ? raw.toString('base64') : raw.toString('utf8') }),
    timeEpoch: NOW,
  });
}

function bodyOf(res: APIGatewayProxyStructuredResultV2): unknown {
  return JSON.parse(res.body ?? '');
}

function expectError(res: APIGatewayProxyStructuredResultV2, status: number, code: string) {
  expect(res.statusCode).toBe(status);
  expect(res.headers?.['content-type']).toMatch(/^application\/json/);
  const body = bodyOf(res) as { error: { code: string; message: string } };
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message']);
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe('string');
  expect(body.error.message.length).toBeGreaterThan(0);
}

describe('ingest: accepted webhooks', () => {
  it('returns 202 and hands the exact raw body to the queue', async () => {
    const { handler, queue, counts } = setup();
    const body = envelope();

    const res = await handler(request(body));

    expect(res.statusCode).toBe(202);
    expect(bodyOf(res)).toEqual({ status: 'accepted', event: 'conversation_started', received_at: NOW_ISO });
    expect(queue.sent).toEqual([{ body, receivedAt: NOW_ISO }]);
    expect(counts).toEqual({ signatureFailure: 0, accepted: 1 });
  });

  it('decodes a base64-encoded body and verifies the decoded bytes', async () => {
    const { handler, queue } = setup();
    const body = envelope({ data: { conversation_id: 'conv_ü', note: 'Grüße, 你好, emoji 🎧' } });

    const res = await handler(request(body, { base64: true }));

    expect(res.statusCode).toBe(202);
    expect(queue.sent.map((m) => m.body)).toEqual([body]);
  });

  it('keeps pretty-printed bodies byte for byte', async () => {
    const { handler, queue } = setup();
    const body = `${JSON.stringify(JSON.parse(envelope()), null, 2)}\n`;

    const res = await handler(request(body));

    expect(res.statusCode).toBe(202);
    expect(queue.sent[0]?.body).toBe(body);
  });

  it('accepts unknown event names', async () => {
    const { handler, queue } = setup();

    const res = await handler(request(envelope({ event: 'something_new' })));

    expect(res.statusCode).toBe(202);
    expect(bodyOf(res)).toMatchObject({ event: 'something_new' });
    expect(queue.sent).toHaveLength(1);
  });

  it('accepts duplicates (dedupe is downstream)', async () => {
    const { handler, queue } = setup();
    const body = envelope();

    expect((await handler(request(body))).statusCode).toBe(202);
    expect((await handler(request(body))).statusCode).toBe(202);
    expect(queue.sent).toHaveLength(2);
  });

  it('accepts a body of exactly 256 KiB', async () => {
    const { handler, queue } = setup();
    const body = padTo(MAX_WEBHOOK_BYTES);

    const res = await handler(request(body));

    expect(res.statusCode).toBe(202);
    expect(Buffer.byteLength(queue.sent[0]?.body ?? '')).toBe(MAX_WEBHOOK_BYTES);
  });

  it('accepts Unix-seconds and Unix-millisecond timestamps', async () => {
    const { handler, queue } = setup();

    expect((await handler(request(envelope({ timestamp: Math.floor(NOW / 1000) - 60 }))))?.statusCode).toBe(202);
    expect((await handler(request(envelope({ timestamp: NOW - 60_000 }))))?.statusCode).toBe(202);
    expect(queue.sent).toHaveLength(2);
  });

  it('finds the signature header whatever its case', async () => {
    const { handler, queue } = setup();
    const body = envelope();

    const res = await handler(request(body, { signature: null, headers: { 'X-ThreeTone-Signature': signBody(body, SECRET) } }));

    expect(res.statusCode).toBe(202);
    expect(queue.sent).toHaveLength(1);
  });

  it('uses the header name and prefix from config', async () => {
    const config: IngestConfig = { signature: { header: 'x-custom-sig', prefix: '' }, replayWindowSeconds: 60 };
    const { handler, queue } = setup({ config });
    const body = envelope();

    const ok = await handler(request(body, { signature: null, headers: { 'x-custom-sig': signBody(body, SECRET, '') } }));
    const defaultHeader = await handler(request(body));

    expect(ok.statusCode).toBe(202);
    expectError(defaultHeader, 401, 'missing_signature');
    expect(queue.sent).toHaveLength(1);
  });

  it('accepts both secrets during a rotation, and no other', async () => {
    const { handler, queue } = setup({ secrets: secretsOf('whsec_old', 'whsec_new') });
    const body = envelope();

    const old = await handler(request(body, { secret: 'whsec_old' }));
    const fresh = await handler(request(body, { secret: 'whsec_new' }));
    const other = await handler(request(body, { secret: 'whsec_retired' }));

    expect(old.statusCode).toBe(202);
    expect(fresh.statusCode).toBe(202);
    expectError(other, 401, 'invalid_signature');
    expect(queue.sent).toHaveLength(2);
  });
});

/** A valid envelope padded (inside `data`) to exactly `bytes` bytes. */
function padTo(bytes: number): string {
  const base = envelope({ data: { conversation_id: 'conv_1', pad: '' } });
  const body = base.replace('"pad":""', `"pad":"${'x'.repeat(bytes - Buffer.byteLength(base))}"`);
  expect(Buffer.byteLength(body)).toBe(bytes);
  return body;
}

describe('ingest: the README webhook contract table (exact code, JSON error shape, nothing sent)', () => {
  const body = envelope();
  const cases: [string, () => APIGatewayProxyEventV2, number, string][] = [
    ['body over 256 KiB', () => request(padTo(MAX_WEBHOOK_BYTES + 1)), 413, 'payload_too_large'],
    ['base64 body over 256 KiB once decoded', () => request(padTo(MAX_WEBHOOK_BYTES + 1), { base64: true }), 413, 'payload_too_large'],
    ['no signature header', () => request(body, { signature: null }), 401, 'missing_signature'],
    ['blank signature header', () => request(body, { signature: '  ' }), 401, 'missing_signature'],
    ['signature with a wrong secret', () => request(body, { secret: 'not-the-secret' }), 401, 'invalid_signature'],
    ['signature of another body', () => request(body, { signature: signBody(envelope({ event: 'x' }), SECRET) }), 401, 'invalid_signature'],
    ['signature that is not hex', () => request(body, { signature: 'sha256=not-hex' }), 401, 'invalid_signature'],
    ['signature of the wrong length', () => request(body, { signature: signBody(body, SECRET).slice(0, -2) }), 401, 'invalid_signature'],
    ['signature without the prefix', () => request(body, { signature: signBody(body, SECRET, '') }), 401, 'invalid_signature'],
    ['timestamp 24 h + 1 s in the past', () => request(envelope({ timestamp: new Date(NOW - 86_401_000).toISOString() })), 401, 'stale_timestamp'],
    ['timestamp 24 h + 1 s in the future', () => request(envelope({ timestamp: new Date(NOW + 86_401_000).toISOString() })), 401, 'stale_timestamp'],
    ['body not JSON', () => request('{"event": "call_started",'), 400, 'invalid_json'],
    ['empty body', () => request(undefined), 400, 'invalid_json'],
    ['JSON array body', () => request('[]'), 400, 'invalid_envelope'],
    ['no event', () => request(envelope({ event: undefined })), 400, 'invalid_envelope'],
    ['event not a string', () => request(envelope({ event: 42 })), 400, 'invalid_envelope'],
    ['empty event', () => request(envelope({ event: '' })), 400, 'invalid_envelope'],
    ['no timestamp', () => request(envelope({ timestamp: undefined })), 400, 'invalid_envelope'],
    ['unparseable timestamp', () => request(envelope({ timestamp: 'soon' })), 400, 'invalid_envelope'],
    ['no data', () => request(envelope({ data: undefined })), 400, 'invalid_envelope'],
    ['null data', () => request(envelope({ data: null })), 400, 'invalid_envelope'],
    ['array data', () => request(envelope({ data: [] })), 400, 'invalid_envelope'],
    ['string data', () => request(envelope({ data: 'x' })), 400, 'invalid_envelope'],
  ];

  it.each(cases)('%s → %i %s', async (_name, make, status, code) => {
    const { handler, queue, counts } = setup();

    const res = await handler(make());

    expectError(res, status, code);
    expect(queue.sent).toHaveLength(0);
    expect(counts.accepted).toBe(0);
  });

  it('checks the signature before the envelope (unsigned garbage is 401, not 400)', async () => {
    const { handler } = setup();
    expectError(await handler(request('not json', { signature: 'sha256=00' })), 401, 'invalid_signature');
    expectError(await handler(request('not json', { signature: null })), 401, 'missing_signature');
  });

  it('checks the size before the signature (no HMAC over an oversized body)', async () => {
    const secrets = secretsOf(SECRET);
    const { handler } = setup({ secrets });
    expectError(await handler(request(padTo(MAX_WEBHOOK_BYTES + 1), { signature: null })), 413, 'payload_too_large');
    expect(secrets.calls).toBe(0);
  });

  it('counts signature failures, and only those', async () => {
    const { handler, counts } = setup();
    await handler(request(body, { signature: null }));
    await handler(request(body, { secret: 'wrong' }));
    await handler(request('[]'));
    expect(counts).toEqual({ signatureFailure: 2, accepted: 0 });
  });
});

describe('ingest: replay window', () => {
  const at = (offsetMs: number) => envelope({ timestamp: new Date(NOW + offsetMs).toISOString() });

  it('accepts timestamps exactly at the edge, both directions', async () => {
    const { handler, queue } = setup();
    expect((await handler(request(at(-86_400_000)))).statusCode).toBe(202);
    expect((await handler(request(at(86_400_000)))).statusCode).toBe(202);
    expect(queue.sent).toHaveLength(2);
  });

  it('is configurable', async () => {
    const { handler, queue } = setup({ config: { ...DEFAULT_CONFIG, replayWindowSeconds: 300 } });
    expect((await handler(request(at(-300_000)))).statusCode).toBe(202);
    expectError(await handler(request(at(-301_000))), 401, 'stale_timestamp');
    expectError(await handler(request(at(301_000))), 401, 'stale_timestamp');
    expect(queue.sent).toHaveLength(1);
  });

  it('counts a stale body as an authentication failure, for the signature-failure alarm', async () => {
    const { handler, counts } = setup();
    await handler(request(at(-86_400_001)));
    expect(counts).toEqual({ signatureFailure: 1, accepted: 0 });
  });

  it('applies to Unix-second timestamps too', async () => {
    const { handler, queue } = setup({ config: { ...DEFAULT_CONFIG, replayWindowSeconds: 60 } });
    expectError(await handler(request(envelope({ timestamp: Math.floor(NOW / 1000) - 61 }))), 401, 'stale_timestamp');
    expect(queue.sent).toHaveLength(0);
  });
});

describe('ingest: failures of our own', () => {
  it('answers 500 (not 401) and sends nothing when the secrets cannot be read', async () => {
    const secrets: SecretSource = {
      get: () => Promise.reject(new Error('AccessDeniedException')),
    };
    const { handler, queue, counts } = setup({ secrets });

    const res = await handler(request(envelope()));

    expectError(res, 500, 'internal_error');
    expect(queue.sent).toHaveLength(0);
    expect(counts.signatureFailure).toBe(0);
  });

  it('answers 500 when the hand-off fails, so ThreeTone retries', async () => {
    const { handler, queue, counts } = setup();
    queue.failWith = new Error('ServiceUnavailable');

    const res = await handler(request(envelope()));

    expectError(res, 500, 'internal_error');
    expect(bodyOf(res)).toEqual({
      error: { code: 'internal_error', message: expect.not.stringContaining('ServiceUnavailable') },
    });
    expect(counts.accepted).toBe(0);
  });
});

describe('ingest: logging', () => {
  it('logs one line per request with outcome, event, conversation_id and size', async () => {
    const { handler, logs } = setup();
    const body = envelope();

    await handler(request(body));

    expect(logs).toEqual([
      {
        level: 'info',
        message: 'webhook',
        attrs: {
          outcome: 'accepted',
          status: 202,
          event: 'conversation_started',
          conversation_id: 'conv_1',
          body_bytes: Buffer.byteLength(body),
        },
      },
    ]);
  });

  it('logs the code of a rejection, and never the body, signature or secret', async () => {
    const { handler, logs } = setup();
    const body = envelope();
    const signature = signBody(body, 'wrong-secret');

    await handler(request(body, { signature }));
    await handler(request(envelope({ timestamp: 'bad' })));

    expect(logs.map((l) => [l.level, l.attrs.code])).toEqual([
      ['warn', 'invalid_signature'],
      ['warn', 'invalid_envelope'],
    ]);
    const text = JSON.stringify(logs);
    expect(text).not.toContain('+15551234567');
    expect(text).not.toContain(signature.slice(7));
    expect(text).not.toContain(SECRET);
  });

  it('does not carry one request\'s keys into the next', async () => {
    const { handler, logs } = setup();

    await handler(request(envelope()));
    await handler(request(envelope({ event: 'agent_available', data: { agent_id: 'a' } })));

    expect(logs[1]?.attrs).not.toHaveProperty('conversation_id');
    expect(logs[1]?.attrs.event).toBe('agent_available');
  });

  it('logs an internal failure as an error with its code', async () => {
    const { handler, queue, logs } = setup();
    queue.failWith = new Error('boom');

    await handler(request(envelope()));

    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({ level: 'error', attrs: { outcome: 'rejected', status: 500, code: 'internal_error' } });
  });
});

describe('handler.ts wiring', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
    vi.resetModules();
  });

  it('fails the cold start with a clear message when QUEUE_URL is missing', async () => {
    vi.stubEnv('QUEUE_URL', '');
    vi.stubEnv('THREETONE_WEBHOOK_SECRET', SECRET);
    await expect(import('#functions/ingest/handler.js')).rejects.toThrow('QUEUE_URL is required');
  });

  it('fails the cold start when no secret is configured', async () => {
    vi.stubEnv('QUEUE_URL', 'https://sqs.us-east-1.amazonaws.com/123456789012/webhooks');
    vi.stubEnv('WEBHOOK_SECRET_ARN', '');
    vi.stubEnv('THREETONE_WEBHOOK_SECRET', '');
    await expect(import('#functions/ingest/handler.js')).rejects.toThrow(/THREETONE_WEBHOOK_SECRET/);
  });

  it('sends accepted webhooks to SQS and emits EMF counters', async () => {
    const sqs = mockClient(SQSClient);
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
    vi.stubEnv('QUEUE_URL', 'https://sqs.us-east-1.amazonaws.com/123456789012/webhooks');
    vi.stubEnv('WEBHOOK_SECRET_ARN', '');
    vi.stubEnv('THREETONE_WEBHOOK_SECRET', `whsec_other, ${SECRET}`);
    vi.stubEnv('POWERTOOLS_METRICS_NAMESPACE', 'TestNs');
    vi.stubEnv('POWERTOOLS_SERVICE_NAME', 'ingest-test');
    // EMF lines go to stdout itself (not through console, which Lambda's JSON log format wraps).
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const { handler } = await import('#functions/ingest/handler.js');
    const body = envelope({ timestamp: new Date().toISOString() });

    const accepted = await handler(request(body));
    const rejected = await handler(request(body, { secret: 'nope' }));

    expect(accepted.statusCode).toBe(202);
    expect(rejected.statusCode).toBe(401);
    expect(sqs).toHaveReceivedCommandOnce(SendMessageCommand);
    expect(sqs).toHaveReceivedCommandWith(SendMessageCommand, { MessageBody: body });
    const emf = out.mock.calls
      .map(([line]) => {
        try {
          return JSON.parse(String(line)) as Record<string, unknown>;
        } catch {
          return null;
        }
      })
      .filter((l) => l?._aws);
    expect(emf).toEqual([
      {
        _aws: {
          Timestamp: expect.any(Number),
          CloudWatchMetrics: [{ Namespace: 'TestNs', Dimensions: [['service']], Metrics: [{ Name: 'WebhooksAccepted', Unit: 'Count' }] }],
        },
        service: 'ingest-test',
        WebhooksAccepted: 1,
      },
      {
        _aws: {
          Timestamp: expect.any(Number),
          CloudWatchMetrics: [{ Namespace: 'TestNs', Dimensions: [['service']], Metrics: [{ Name: 'SignatureFailures', Unit: 'Count' }] }],
        },
        service: 'ingest-test',
        SignatureFailures: 1,
      },
    ]);
    sqs.restore();
  });
});
