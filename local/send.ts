/**
 * `npm run send -- <what> [options]`: signed sample webhooks to a running server (`npm start`).
 *
 *   conversation               a whole conversation, started → ended; then polls its record
 *   event <name> [--data JSON] one envelope of any name (unknown names are accepted too)
 *   file <path.json>           a JSON envelope (sent byte for byte) or an array of envelopes
 *
 * Prints every response. Exit code 1 on any non-2xx, except with --bad-signature, which signs with a
 * wrong secret to show the 401 and exits 0 when every request got one.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { signBody } from '#core/signature.js';
import type { Envelope } from '#core/types.js';
import { loadSignatureConfig, type SignatureConfig } from '#functions/config.js';
import { DEV_WEBHOOK_SECRET } from './runtime.js';
import { agentIds, conversationEvents, createRng, serializeEnvelope, signedRequest } from './traffic.js';

type Env = Record<string, string | undefined>;

export const WEBHOOK_PATH = '/webhooks/threetone';

/** Where and how to reach a running server. */
export interface Target {
  readonly url: string;
  readonly secret: string;
  readonly signature: SignatureConfig;
  /** Sent as `x-api-key` on GETs (the local query API wants it when QUERY_API_KEY is set). */
  readonly apiKey: string | undefined;
}

/** `--url`, else `http://HOST:PORT` with the server's own defaults (a wildcard host means loopback). */
export function serverUrl(flag: string | undefined, env: Env): string {
  if (flag?.trim()) return flag.trim().replace(/\/+$/, '');
  let host = env.HOST?.trim() || '127.0.0.1';
  if (host === '0.0.0.0' || host === '::') host = '127.0.0.1';
  if (host.includes(':') && !host.startsWith('[')) host = `[${host}]`;
  return `http://${host}:${env.PORT?.trim() || '3000'}`;
}

/** `--secret`, else the first of THREETONE_WEBHOOK_SECRET (comma-separated), else the dev default. */
export function webhookSecret(flag: string | undefined, env: Env): string {
  if (flag?.trim()) return flag.trim();
  const first = env.THREETONE_WEBHOOK_SECRET?.split(',').map((s) => s.trim()).find(Boolean);
  return first ?? DEV_WEBHOOK_SECRET;
}

export function targetFrom(flags: { url?: string | undefined; secret?: string | undefined }, env: Env = process.env): Target {
  return {
    url: serverUrl(flags.url, env),
    secret: webhookSecret(flags.secret, env),
    signature: loadSignatureConfig(env),
    apiKey: env.QUERY_API_KEY?.trim() || undefined,
  };
}

export interface HttpResult {
  status: number;
  text: string;
}

/** Signs `body` with `secret` (default: the target's) and POSTs it to the webhook route. */
export async function postWebhook(target: Target, body: string | Buffer, secret = target.secret): Promise<HttpResult> {
  const headers =
    typeof body === 'string'
      ? signedRequest(body, secret, target.signature)
      : { 'content-type': 'application/json', [target.signature.header]: signBody(body, secret, target.signature.prefix) };
  const res = await fetch(`${target.url}${WEBHOOK_PATH}`, { method: 'POST', headers, body });
  return { status: res.status, text: await res.text() };
}

/** GET on the query API, with `x-api-key` when one is configured. */
export async function getJson<T = unknown>(target: Target, path: string): Promise<{ status: number; body: T | null; text: string }> {
  const res = await fetch(`${target.url}${path}`, { headers: target.apiKey ? { 'x-api-key': target.apiKey } : {} });
  const text = await res.text();
  let body: T | null = null;
  try {
    body = JSON.parse(text) as T;
  } catch {
    body = null;
  }
  return { status: res.status, body, text };
}

/** "could not reach …" for a refused connection, else the error's message. */
export function describeFetchError(err: unknown, url: string): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code === 'ECONNREFUSED' || cause?.code === 'ENOTFOUND') return `could not reach ${url} (${cause.code}): start it first with npm start`;
  if (!(err instanceof Error)) return String(err);
  return cause?.message ? `${err.message}: ${cause.message}${cause.code ? ` (${cause.code})` : ''}` : err.message;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------------------------------ CLI

const USAGE = `usage: npm run send -- <what> [options]

  conversation                 a full conversation (started → ended), then polls GET /conversations/{id}
      --agent <id>             default agent_support
      --conversation-id <id>   default conv_local_<random>
      --duration <seconds>     default 180
      --escalate               add an escalation_triggered
      --with-call              add call_started / call_ended (with a call_id)
      --timeout <seconds>      how long to wait for the record (default 30)
  event <name> [--data JSON]   one envelope of any name; --timestamp to override (ISO or Unix seconds)
  file <path.json>             a JSON envelope (sent byte for byte) or an array of envelopes

  --url <url>          server (default http://HOST:PORT, i.e. http://127.0.0.1:3000)
  --secret <secret>    signing secret (default THREETONE_WEBHOOK_SECRET, else the development default)
  --bad-signature      sign with a wrong secret: every request should get 401
  QUERY_API_KEY        sent as x-api-key on GETs when set; WEBHOOK_SIGNATURE_HEADER/PREFIX as the server's`;

interface Sent {
  label: string;
  status: number;
}

async function sendOne(target: Target, label: string, body: string | Buffer, badSignature: boolean): Promise<Sent> {
  const secret = badSignature ? `${target.secret}-but-wrong` : target.secret;
  const res = await postWebhook(target, body, secret);
  console.log(`POST ${WEBHOOK_PATH}  ${label.padEnd(22)} → ${res.status} ${res.text}`);
  return { label, status: res.status };
}

function parseJsonFlag(name: string, raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    throw new UsageError(`--${name} is not valid JSON: ${raw}`);
  }
}

class UsageError extends Error {}

/** Default `data` for a named event: the ids the processor keys on. */
function sampleData(event: string): Record<string, unknown> {
  const id = `conv_local_${Date.now().toString(36)}`;
  if (event.startsWith('call_')) return { call_id: `call_local_${Date.now().toString(36)}`, conversation_id: id, agent_id: 'agent_support' };
  if (event.startsWith('conversation_') || event === 'escalation_triggered') return { conversation_id: id, agent_id: 'agent_support' };
  if (event.startsWith('agent_')) return { agent_id: 'agent_support' };
  return { message: `sample ${event} from npm run send` };
}

async function pollRecord(target: Target, id: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  process.stdout.write(`waiting for the record (up to ${Math.round(timeoutMs / 1000)} s) `);
  while (Date.now() < deadline) {
    const res = await getJson<Record<string, unknown>>(target, `/conversations/${encodeURIComponent(id)}`);
    if (res.status === 401) {
      console.log(`\nGET /conversations/${id} → 401 ${res.text}\nset QUERY_API_KEY to the server's key`);
      return false;
    }
    if (res.status === 200 && res.body) {
      last = res.text;
      if (res.body.status === 'ended' && res.body.details_stored === true) {
        console.log(`\nGET /conversations/${id} → 200`);
        console.log(JSON.stringify(res.body, null, 2));
        return true;
      }
    } else if (res.status !== 404) {
      console.log(`\nGET /conversations/${id} → ${res.status} ${res.text}`);
      return false;
    }
    process.stdout.write('.');
    await sleep(500);
  }
  console.log(`\ntimed out: the conversation is not ended with details stored yet${last ? `; last seen:\n${last}` : ' (no record yet)'}`);
  return false;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      secret: { type: 'string' },
      data: { type: 'string' },
      timestamp: { type: 'string' },
      agent: { type: 'string' },
      'conversation-id': { type: 'string' },
      duration: { type: 'string' },
      escalate: { type: 'boolean', default: false },
      'with-call': { type: 'boolean', default: false },
      timeout: { type: 'string' },
      'bad-signature': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [what, arg] = positionals;
  if (values.help || !what) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const target = targetFrom(values);
  const bad = values['bad-signature'];
  if (bad) console.log('--bad-signature: signing with a wrong secret, expecting 401 for every request');
  const sent: Sent[] = [];

  try {
    if (what === 'conversation') {
      const duration = values.duration === undefined ? 180 : Number(values.duration);
      if (!(duration >= 0 && duration <= 86_000)) throw new UsageError('--duration must be a number of seconds');
      const id = values['conversation-id'] ?? `conv_local_${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
      const start = new Date(Math.floor(Date.now() / 1000 - duration - 2) * 1000);
      const envelopes = conversationEvents({
        conversationId: id,
        agentId: values.agent ?? agentIds(1)[0]!,
        start,
        durationSeconds: duration,
        escalate: values.escalate,
        withCall: values['with-call'],
        rng: createRng(Date.now()),
      });
      console.log(`conversation ${id}`);
      for (const e of envelopes) sent.push(await sendOne(target, e.event, serializeEnvelope(e), bad));
      if (!bad && sent.every((s) => s.status >= 200 && s.status < 300)) {
        const timeoutMs = (values.timeout === undefined ? 30 : Number(values.timeout)) * 1000;
        if (!(await pollRecord(target, id, timeoutMs))) return 1;
      }
    } else if (what === 'event') {
      if (!arg) throw new UsageError('event needs a name, e.g. npm run send -- event agent_busy');
      const data = values.data === undefined ? sampleData(arg) : parseJsonFlag('data', values.data);
      let timestamp: unknown = new Date().toISOString();
      if (values.timestamp !== undefined) timestamp = /^-?\d+(\.\d+)?$/.test(values.timestamp) ? Number(values.timestamp) : values.timestamp;
      sent.push(await sendOne(target, arg, JSON.stringify({ event: arg, timestamp, data }), bad));
    } else if (what === 'file') {
      if (!arg) throw new UsageError('file needs a path, e.g. npm run send -- file test/fixtures/event.json');
      const raw = await readFile(arg);
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw.toString('utf8'));
      } catch {
        parsed = undefined; // not JSON: sent as it is, and the server says 400
      }
      if (Array.isArray(parsed)) {
        // An array is a list of webhooks: each is sent as its own (compact) JSON body.
        for (const [i, item] of parsed.entries()) {
          const name = typeof (item as Envelope | null)?.event === 'string' ? (item as Envelope).event : `item ${i}`;
          sent.push(await sendOne(target, name, JSON.stringify(item), bad));
        }
      } else {
        const name = typeof (parsed as Envelope | undefined)?.event === 'string' ? (parsed as Envelope).event : arg;
        sent.push(await sendOne(target, name, raw, bad));
      }
    } else {
      throw new UsageError(`unknown <what>: ${what}`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`${err.message}\n\n${USAGE}`);
      return 2;
    }
    console.error(describeFetchError(err, target.url));
    return 1;
  }

  if (bad) {
    const ok = sent.length > 0 && sent.every((s) => s.status === 401);
    console.log(ok ? 'every request got 401, as expected' : 'expected 401 for every request');
    return ok ? 0 : 1;
  }
  return sent.every((s) => s.status >= 200 && s.status < 300) ? 0 : 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.exitCode = await main(process.argv.slice(2));
  } catch (err) {
    // parseArgs: an unknown option or a missing value
    console.error(`${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
    process.exitCode = 2;
  }
}
