/**
 * Erasure (README "Erasure"): a conversation's personal data removed on request, by id or by the
 * caller's phone number, with the agent aggregates corrected by the difference.
 *
 * Erasing one conversation:
 *  1. one transaction, conditioned on the record's `rev` like every rebuild (so the aggregate
 *     correction happens exactly once, whatever runs concurrently): the tombstone is put, the record
 *     deleted, its contribution subtracted, the enrichment queue item deleted, the tombstone carrying
 *     `Conversation Erased` (the table's change stream publishes it, D30). From then on the processor
 *     and the enricher can write nothing of the conversation (their writes check the tombstone);
 *  2. the purge deletes the rest (calls, events, bodies, caller lookup items, transcript), then its
 *     archived recording (README "Audio").
 * Idempotent: a repeated request finds the tombstone, repeats 2 (which finishes a crashed run), and
 * answers the same.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { createHash, timingSafeEqual } from 'node:crypto';
import { aggregateDelta } from '#core/aggregates.js';
import { callerKey, normalizePhone } from '#core/caller-keys.js';
import { conversationErased } from '#core/conversation-events.js';
import { MAX_ID_BYTES } from '#core/envelope.js';
import { HttpError, badRequest, errorResponse, json, notFound, unauthorized } from '#core/http.js';
import { type AudioArchive, ConcurrentUpdateError, type ErasureStore } from '#functions/ports.js';
import { ERASURE_ROUTES, type ErasureRoute, segmentsOf } from '#functions/routes.js';
import { logger as defaultLogger, errorFields, type Logger } from '#functions/shared/logger.js';

export interface ErasureDeps {
  readonly store: ErasureStore;
  /** The caller lookup key (the processor hashes phone numbers under the same key). */
  readonly callerHashKey: () => Promise<string>;
  /** Where recordings are archived: the erased conversation's is deleted (idempotent). */
  readonly audio?: Pick<AudioArchive, 'delete'>;
  readonly now?: () => number;
  readonly logger?: Logger;
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface ErasureOutcome {
  readonly conversationId: string;
  readonly erasedAt: string;
  /** It had been erased before this request (the same outcome, nothing corrected twice). */
  readonly alreadyErased: boolean;
}

const MAX_ATTEMPTS = 8;

export function createErasure(deps: ErasureDeps) {
  const { store } = deps;
  const now = deps.now ?? Date.now;
  const baseLog = deps.logger ?? defaultLogger;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));

  /** Erases one conversation; null when nothing of it is stored (and it was never erased). */
  async function eraseConversation(conversationId: string, log: Logger = baseLog): Promise<ErasureOutcome | null> {
    let outcome: ErasureOutcome | null = null;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS && !outcome; attempt++) {
      const tombstone = await store.getTombstone(conversationId);
      if (tombstone) {
        outcome = { conversationId, erasedAt: tombstone.erasedAt, alreadyErased: attempt === 1 };
        break;
      }
      const snapshot = await store.getRecord(conversationId);
      if (!snapshot && !(await store.hasData(conversationId))) return null;
      const erasedAt = new Date(now()).toISOString();
      try {
        await store.commitErasure({
          conversationId,
          expectedRev: snapshot?.rev ?? null,
          erasedAt,
          aggregateDeltas: aggregateDelta(snapshot?.state.contribution ?? null, null),
          outbox: [conversationErased({ conversationId, agentId: snapshot?.record.agent_id ?? null, erasedAt })],
        });
        outcome = { conversationId, erasedAt, alreadyErased: false };
      } catch (err) {
        if (!(err instanceof ConcurrentUpdateError)) throw err;
        log.debug('concurrent update during erasure, retrying', { attempt });
        await sleep(Math.random() * 20 * attempt);
      }
    }
    if (!outcome) throw new ConcurrentUpdateError(conversationId);
    await store.purge(conversationId, outcome.erasedAt);
    // After the tombstone: an enricher uploading meanwhile finds its rebuild refused and deletes its upload.
    await deps.audio?.delete(conversationId);
    log.info('conversation erased', { already_erased: outcome.alreadyErased });
    return outcome;
  }

  /**
   * Erases every conversation whose webhooks carried this phone number (in any phone field), found by
   * its keyed hash; calls never linked to a conversation are erased on their own. Null when the
   * value is not a phone number.
   */
  async function eraseCaller(phone: unknown, log: Logger = baseLog): Promise<{ conversations: ErasureOutcome[]; calls: number } | null> {
    const normalized = normalizePhone(phone);
    if (normalized === null) return null;
    const { conversationIds, callIds } = await store.scopesOfCaller(callerKey(normalized, await deps.callerHashKey()));
    const ids = new Set(conversationIds);
    let calls = 0;
    for (const callId of callIds) {
      const linked = await store.getCallLink(callId);
      if (linked) ids.add(linked);
      else {
        await store.purgeCall(callId, new Date(now()).toISOString());
        calls++;
      }
    }
    const conversations: ErasureOutcome[] = [];
    for (const id of [...ids].sort()) {
      const child = log.createChild();
      child.appendKeys({ conversation_id: id });
      const outcome = await eraseConversation(id, child);
      if (outcome) conversations.push(outcome);
    }
    log.info('caller erased', { conversations: conversations.length, calls });
    return { conversations, calls };
  }

  return { eraseConversation, eraseCaller };
}

export type Erasure = ReturnType<typeof createErasure>;

// ---------------------------------------------------------------- HTTP

export interface ErasureHandlerDeps {
  readonly erasure: Erasure;
  /** Local only: when set, requests need `x-api-key` equal to it (on AWS, IAM authorizes). */
  readonly apiKey: string | undefined;
  readonly logger?: Logger;
}

type Run = (erasure: Erasure, params: Record<string, string>, event: APIGatewayProxyEventV2, log: Logger) => Promise<APIGatewayProxyStructuredResultV2>;

const RUNS: { readonly [P in ErasureRoute['path']]: Run } = {
  '/conversations/{conversation_id}': eraseConversationRoute,
  '/erasures': eraseCallerRoute,
};

const ROUTES = ERASURE_ROUTES.map((r) => ({ name: r.path, method: r.method, segments: segmentsOf(r.path), run: RUNS[r.path] }));

/**
 * The erasure routes (README "Erasure"): `DELETE /conversations/{conversation_id}` and
 * `POST /erasures {"phone_number"}`. Logs the route and status, never a phone number.
 */
export function createErasureHandler(deps: ErasureHandlerDeps) {
  const log = deps.logger ?? defaultLogger;
  const expectedKey = deps.apiKey === undefined ? undefined : digest(deps.apiKey);
  return async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
    const method = event.requestContext?.http?.method?.toUpperCase() ?? '';
    let routeName: string | null = null;
    let response: APIGatewayProxyStructuredResultV2;
    try {
      if (expectedKey && !keyMatches(header(event, 'x-api-key'), expectedKey)) {
        throw unauthorized('unauthorized', 'A valid x-api-key header is required.');
      }
      const path = stripStage(event.rawPath ?? '/', event.requestContext?.stage);
      const matches = ROUTES.flatMap((r) => {
        const params = matchSegments(r.segments, path);
        return params ? [{ route: r, params }] : [];
      });
      if (matches.length === 0) throw notFound('No such resource.');
      const match = matches.find((m) => m.route.method === method);
      routeName = matches[0]!.route.name;
      if (!match) throw new HttpError(405, 'method_not_allowed', `${routeName} accepts ${matches.map((m) => m.route.method).join(', ')} only.`);
      response = await match.route.run(deps.erasure, match.params, event, log);
    } catch (err) {
      response = errorResponse(err);
      if (err instanceof HttpError && err.status === 405 && routeName) {
        response.headers = { ...response.headers, allow: ROUTES.filter((r) => r.name === routeName).map((r) => r.method).join(', ') };
      }
      if (!(err instanceof HttpError)) {
        log.error('erasure request failed', { route: routeName, method, status: response.statusCode, ...errorFields(err) });
        return response;
      }
    }
    log.info('erasure request', { route: routeName, method, status: response.statusCode });
    return response;
  };
}

async function eraseConversationRoute(erasure: Erasure, params: Record<string, string>, _event: APIGatewayProxyEventV2, log: Logger) {
  const id = params.conversation_id ?? '';
  if (id.trim() === '' || Buffer.byteLength(id, 'utf8') > MAX_ID_BYTES) throw badRequest('invalid_parameter', '`conversation_id` must be 1-256 bytes.');
  const child = log.createChild();
  child.appendKeys({ conversation_id: id });
  const outcome = await erasure.eraseConversation(id, child);
  if (!outcome) throw notFound('Conversation not found (nothing stored under this id).');
  return json(200, erasedBody(outcome));
}

const MAX_BODY_BYTES = 4096;

async function eraseCallerRoute(erasure: Erasure, _params: Record<string, string>, event: APIGatewayProxyEventV2, log: Logger) {
  const text = event.body === undefined ? '' : event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  if (Buffer.byteLength(text, 'utf8') > MAX_BODY_BYTES) throw badRequest('invalid_json', `The body must be a JSON object of at most ${MAX_BODY_BYTES} bytes.`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw badRequest('invalid_json', 'The body must be JSON: {"phone_number": "..."}.');
  }
  const phone = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>).phone_number : undefined;
  // Never echo the value: it is the personal data being erased.
  const result = typeof phone === 'string' ? await erasure.eraseCaller(phone, log) : null;
  if (!result) throw badRequest('invalid_parameter', '`phone_number` must be a string holding 5-32 digits.');
  return json(200, { conversations: result.conversations.map(erasedBody), unlinked_calls_erased: result.calls });
}

const erasedBody = (o: ErasureOutcome) => ({ conversation_id: o.conversationId, status: 'erased', erased_at: o.erasedAt, already_erased: o.alreadyErased });

function matchSegments(segments: readonly string[], path: string): Record<string, string> | null {
  const trimmed = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  const parts = trimmed.split('/').slice(1);
  if (parts.length !== segments.length) return null;
  const params: Record<string, string> = {};
  for (const [i, pattern] of segments.entries()) {
    const part = parts[i]!;
    if (!pattern.startsWith('{')) {
      if (part !== pattern) return null;
      continue;
    }
    if (part === '') return null;
    try {
      params[pattern.slice(1, -1)] = decodeURIComponent(part);
    } catch {
      throw badRequest('invalid_parameter', 'The path holds a malformed percent-encoding.');
    }
  }
  return params;
}

function stripStage(path: string, stage: string | undefined): string {
  if (!stage || stage === '$default') return path;
  const prefix = `/${stage}`;
  if (path === prefix) return '/';
  return path.startsWith(`${prefix}/`) ? path.slice(prefix.length) : path;
}

function header(event: APIGatewayProxyEventV2, name: string): string | undefined {
  for (const [k, v] of Object.entries(event.headers ?? {})) if (k.toLowerCase() === name) return v;
  return undefined;
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
const keyMatches = (given: string | undefined, expected: Buffer) => given !== undefined && timingSafeEqual(digest(given), expected);
