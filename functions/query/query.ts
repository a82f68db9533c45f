/**
 * Query API (README.md "Query API"): conversations, transcripts and agent metrics, read-only. Its
 * routes are the `query` routes of functions/routes.ts.
 *
 * Per request: 1. authenticate (local API key; on AWS, IAM at API Gateway) 2. route
 * 3. validate parameters 4. read through `ConversationQueries` 5. answer JSON, errors as
 * `{"error": {"code", "message"}}`, and log one line (route and status, never bodies or query values).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { agentMetrics } from '#core/aggregates.js';
import { HttpError, badRequest, errorResponse, json, notFound, unauthorized } from '#core/http.js';
import { MAX_ID_BYTES } from '#core/envelope.js';
import type { ConversationStatus } from '#core/types.js';
import type { QueryConfig } from '#functions/config.js';
import { type AudioLinks, type ConversationQueries, InvalidCursorError } from '#functions/ports.js';
import { QUERY_ROUTES, type QueryPath, segmentsOf } from '#functions/routes.js';
import { errorFields, logger } from '#functions/shared/logger.js';

export interface QueryDeps {
  readonly queries: ConversationQueries;
  readonly config: QueryConfig;
  /** @default () => new Date() */
  readonly now?: () => Date;
  /** Links to archived recordings (AWS: presigned S3 URLs); without it no recording is served. */
  readonly audio?: AudioLinks | null;
}

export type QueryHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 100;
/** Longest metrics range, in days, both ends included (a leap year). */
export const MAX_METRICS_DAYS = 366;
/** Default metrics range: the last 7 UTC days, today included. */
export const DEFAULT_METRICS_DAYS = 7;
const MAX_CURSOR_LENGTH = 4096;
const DAY_MS = 86_400_000;

type Params = Record<string, string>;
type Query = Record<string, string | undefined>;

type Run = (deps: Required<QueryDeps>, params: Params, query: Query) => Promise<APIGatewayProxyStructuredResultV2>;

interface Route {
  /** The route as logged: a template, never the actual values. */
  readonly name: string;
  readonly method: string;
  readonly segments: readonly string[];
  readonly run: Run;
}

/** What answers each query route of the table (the compiler requires one per route). */
const RUNS: { readonly [P in QueryPath]: Run } = {
  '/conversations': listConversations,
  '/conversations/{conversation_id}': getConversation,
  '/conversations/{conversation_id}/transcript': getTranscript,
  '/conversations/{conversation_id}/audio': getAudio,
  '/agents/{agent_id}/metrics': getAgentMetrics,
  '/events/{event_key}': getWebhook,
};

const ROUTES: readonly Route[] = QUERY_ROUTES.map((r) => ({ name: r.path, method: r.method, segments: segmentsOf(r.path), run: RUNS[r.path] }));

export function createQueryHandler(deps: QueryDeps): QueryHandler {
  const resolved: Required<QueryDeps> = { now: () => new Date(), audio: null, ...deps };
  const expectedKey = deps.config.apiKey === undefined ? undefined : digest(deps.config.apiKey);

  return async (event) => {
    const started = Date.now();
    const method = event.requestContext?.http?.method?.toUpperCase() ?? '';
    let routeName: string | null = null;
    let ids: Params = {};
    let response: APIGatewayProxyStructuredResultV2;
    try {
      // Before routing, so that an unauthenticated caller learns nothing about the routes.
      if (expectedKey && !keyMatches(header(event, 'x-api-key'), expectedKey)) {
        throw unauthorized('unauthorized', 'A valid x-api-key header is required.');
      }
      const match = matchRoute(stripStage(event.rawPath ?? '/', event.requestContext?.stage));
      if (!match) throw notFound('No such resource.');
      routeName = match.route.name;
      ids = match.params;
      if (method !== match.route.method) {
        throw new HttpError(405, 'method_not_allowed', `${routeName} accepts ${match.route.method} only.`);
      }
      response = await match.route.run(resolved, match.params, queryOf(event));
    } catch (caught) {
      // Storage's domain errors, as this API says them (the one place they are mapped).
      const err = caught instanceof InvalidCursorError ? badRequest('invalid_cursor', caught.message) : caught;
      response = errorResponse(err);
      if (response.statusCode === 405) response.headers = { ...response.headers, allow: 'GET' };
      if (!(err instanceof HttpError)) {
        logger.error('query request failed', {
          route: routeName,
          method,
          status: response.statusCode,
          duration_ms: Date.now() - started,
          ...ids,
          ...errorFields(err),
        });
        return response;
      }
    }
    logger.info('query request', { route: routeName, method, status: response.statusCode, duration_ms: Date.now() - started, ...ids });
    return response;
  };
}

// ---------------------------------------------------------------- routes

async function getConversation(deps: Required<QueryDeps>, params: Params): Promise<APIGatewayProxyStructuredResultV2> {
  const id = requireId(params.conversation_id, 'conversation_id');
  const record = await deps.queries.getRecord(id);
  if (!record) throw notFound('Conversation not found.');
  return json(200, record);
}

async function getTranscript(deps: Required<QueryDeps>, params: Params): Promise<APIGatewayProxyStructuredResultV2> {
  const id = requireId(params.conversation_id, 'conversation_id');
  const turns = await deps.queries.getTranscript(id);
  if (!turns) throw notFound('Transcript not found.');
  return json(200, { conversation_id: id, turns });
}

/**
 * A conversation's archived recording, as a redirect (307) to a presigned URL valid for a few minutes
 * (README "Audio"): the bytes never pass through the function (API Gateway caps a response at 10 MB).
 */
async function getAudio(deps: Required<QueryDeps>, params: Params): Promise<APIGatewayProxyStructuredResultV2> {
  const stored = await storedAudio(deps.queries, params.conversation_id);
  if (!deps.audio) throw notFound('Audio not stored.');
  const url = await deps.audio.presign(stored.conversationId, stored.contentType);
  return { statusCode: 307, headers: { location: url, 'cache-control': 'no-store' }, body: '' };
}

/** The recording the record says is archived, else a 404 (no record, or `audio.status` not `stored`). */
export async function storedAudio(
  queries: Pick<ConversationQueries, 'getRecord'>,
  rawId: string | undefined,
): Promise<{ conversationId: string; contentType: string; sizeBytes: number | null }> {
  const conversationId = requireId(rawId, 'conversation_id');
  const record = await queries.getRecord(conversationId);
  if (!record) throw notFound('Conversation not found.');
  if (record.audio?.status !== 'stored' || record.audio.content_type === null) {
    throw notFound(`Audio not stored (audio.status: ${record.audio?.status ?? 'pending'}).`);
  }
  return { conversationId, contentType: record.audio.content_type, sizeBytes: record.audio.size_bytes };
}

/** A stored webhook body, exactly as it was signed (personal data: IAM-protected like every route). */
async function getWebhook(deps: Required<QueryDeps>, params: Params): Promise<APIGatewayProxyStructuredResultV2> {
  const key = params.event_key ?? '';
  if (!EVENT_KEY.test(key)) throw badRequest('invalid_parameter', '`event_key` must be 40 lower-case hex digits.');
  const body = await deps.queries.getWebhook(key);
  if (body === null) throw notFound('Webhook not found (unknown, or past RAW_EVENT_RETENTION_DAYS).');
  return { statusCode: 200, headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }, body };
}
const EVENT_KEY = /^[0-9a-f]{40}$/;

async function listConversations(deps: Required<QueryDeps>, _params: Params, query: Query): Promise<APIGatewayProxyStructuredResultV2> {
  const agentId = query.agent_id === undefined ? undefined : requireId(query.agent_id, 'agent_id');
  const status = query.status === undefined ? undefined : parseStatus(query.status);
  const from = query.from === undefined ? undefined : parseBound(query.from, 'from');
  const to = query.to === undefined ? undefined : parseBound(query.to, 'to');
  if (from !== undefined && to !== undefined && from > to) throw badRequest('invalid_parameter', '`from` must not be after `to`.');
  const limit = parseLimit(query.limit);
  const cursor = query.cursor;
  if (cursor !== undefined && (cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor))) {
    throw new InvalidCursorError();
  }
  const page = await deps.queries.listConversations({
    limit,
    ...(agentId !== undefined && { agentId }),
    ...(status !== undefined && { status }),
    ...(from !== undefined && { from }),
    ...(to !== undefined && { to }),
    ...(cursor !== undefined && { cursor }),
  });
  return json(200, { items: page.items, next_cursor: page.nextCursor });
}

async function getAgentMetrics(deps: Required<QueryDeps>, params: Params, query: Query): Promise<APIGatewayProxyStructuredResultV2> {
  const agentId = requireId(params.agent_id, 'agent_id');
  const to = query.to === undefined ? deps.now().toISOString().slice(0, 10) : requireDay(query.to, 'to');
  const from = query.from === undefined ? addDays(to, -(DEFAULT_METRICS_DAYS - 1)) : requireDay(query.from, 'from');
  if (from > to) throw badRequest('invalid_parameter', '`from` must not be after `to`.');
  if (daysBetween(from, to) + 1 > MAX_METRICS_DAYS) {
    throw badRequest('invalid_parameter', `The range may span at most ${MAX_METRICS_DAYS} days.`);
  }
  const days = await deps.queries.getAgentDays(agentId, from, to);
  return json(200, agentMetrics(agentId, from, to, days));
}

// ---------------------------------------------------------------- request parsing

function matchRoute(path: string): { route: Route; params: Params } | null {
  const trimmed = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  const segments = trimmed.split('/').slice(1);
  for (const route of ROUTES) {
    if (route.segments.length !== segments.length) continue;
    const params: Params = {};
    const matches = route.segments.every((pattern, i) => {
      const segment = segments[i]!;
      if (!pattern.startsWith('{')) return segment === pattern;
      if (segment === '') return false;
      params[pattern.slice(1, -1)] = decodeSegment(segment);
      return true;
    });
    if (matches) return { route, params };
  }
  return null;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw badRequest('invalid_parameter', 'The path holds a malformed percent-encoding.');
  }
}

/** HTTP API puts a named stage (not `$default`) in front of `rawPath`. */
function stripStage(path: string, stage: string | undefined): string {
  if (!stage || stage === '$default') return path;
  const prefix = `/${stage}`;
  if (path === prefix) return '/';
  return path.startsWith(`${prefix}/`) ? path.slice(prefix.length) : path;
}

/** Query parameters; an empty value counts as absent (`?agent_id=&from=`). */
function queryOf(event: APIGatewayProxyEventV2): Query {
  const source: Record<string, string | undefined> =
    event.queryStringParameters ?? Object.fromEntries(new URLSearchParams(event.rawQueryString ?? ''));
  const query: Query = {};
  for (const [k, v] of Object.entries(source)) if (v !== undefined && v !== '') query[k] = v;
  return query;
}

function header(event: APIGatewayProxyEventV2, name: string): string | undefined {
  for (const [k, v] of Object.entries(event.headers ?? {})) if (k.toLowerCase() === name) return v;
  return undefined;
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Constant time, whatever the lengths: compares digests of equal size. */
function keyMatches(given: string | undefined, expected: Buffer): boolean {
  return given !== undefined && timingSafeEqual(digest(given), expected);
}

function requireId(value: string | undefined, name: string): string {
  if (value === undefined || value.trim() === '') throw badRequest('invalid_parameter', `\`${name}\` must not be empty.`);
  if (Buffer.byteLength(value, 'utf8') > MAX_ID_BYTES) throw badRequest('invalid_parameter', `\`${name}\` is too long.`);
  return value;
}

export const CONVERSATION_STATUSES: readonly ConversationStatus[] = ['active', 'ended'];

function parseStatus(raw: string): ConversationStatus {
  const status = CONVERSATION_STATUSES.find((s) => s === raw);
  if (status === undefined) throw badRequest('invalid_parameter', '`status` must be `active` or `ended`.');
  return status;
}

function parseLimit(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_LIMIT;
  const n = /^\d{1,4}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 1 && n <= MAX_LIMIT)) throw badRequest('invalid_parameter', `\`limit\` must be an integer from 1 to ${MAX_LIMIT}.`);
  return n;
}

// ---------------------------------------------------------------- dates (UTC, strict calendar)

const DAY_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const INSTANT_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})$/;

/** Epoch ms of a real calendar date's midnight UTC, or null (Date.parse would roll 02-30 over). */
function calendarDay(y: number, m: number, d: number): number | null {
  if (m < 1 || m > 12 || d < 1) return null;
  const date = new Date(0);
  date.setUTCFullYear(y, m - 1, d);
  return date.getUTCMonth() === m - 1 && date.getUTCDate() === d ? date.getTime() : null;
}

function parseDay(raw: string): number | null {
  const m = DAY_RE.exec(raw);
  return m ? calendarDay(Number(m[1]), Number(m[2]), Number(m[3])) : null;
}

function requireDay(raw: string, name: string): string {
  if (parseDay(raw) === null) throw badRequest('invalid_parameter', `\`${name}\` must be a calendar date, YYYY-MM-DD.`);
  return raw;
}

/**
 * An inclusive listing bound as canonical ISO (`toISOString`, like the stored sort times). A day
 * means its first millisecond for `from` and its last for `to`; digits below the millisecond round
 * inwards, so that the bound still includes exactly the instants asked for.
 */
function parseBound(raw: string, name: 'from' | 'to'): string {
  const ms = parseDayBound(raw, name) ?? parseInstant(raw, name);
  if (ms === null) {
    throw badRequest('invalid_parameter', `\`${name}\` must be an ISO-8601 instant with a time zone, or a date YYYY-MM-DD.`);
  }
  const iso = new Date(ms).toISOString();
  if (!/^\d{4}-/.test(iso)) throw badRequest('invalid_parameter', `\`${name}\` is out of range.`);
  return iso;
}

function parseDayBound(raw: string, name: 'from' | 'to'): number | null {
  const day = parseDay(raw);
  if (day === null) return null;
  return name === 'from' ? day : day + DAY_MS - 1;
}

function parseInstant(raw: string, name: 'from' | 'to'): number | null {
  // A `+` in an unencoded query string arrives as a space: `...T10:00:00 02:00`.
  const m = INSTANT_RE.exec(raw.toUpperCase().replace(/ (\d{2}:?\d{2})$/, '+$1'));
  if (!m) return null;
  const [, y, mo, d, hh, mm, ss = '0', frac = '', zone = 'Z'] = m;
  const day = calendarDay(Number(y), Number(mo), Number(d));
  if (day === null || Number(hh) > 23 || Number(mm) > 59 || Number(ss) > 59) return null;
  let offsetMinutes = 0;
  if (zone !== 'Z') {
    const digits = zone.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = Number(digits.slice(2));
    if (oh > 23 || om > 59) return null;
    offsetMinutes = (zone.startsWith('-') ? -1 : 1) * (oh * 60 + om);
  }
  const millis = Number(frac.padEnd(3, '0').slice(0, 3));
  const roundUp = name === 'from' && /[1-9]/.test(frac.slice(3)) ? 1 : 0;
  return day + ((Number(hh) * 60 + Number(mm) - offsetMinutes) * 60 + Number(ss)) * 1000 + millis + roundUp;
}

const FIRST_DAY_MS = calendarDay(0, 1, 1)!;

/** Never before year 0000, which would leave the YYYY-MM-DD format. */
function addDays(day: string, n: number): string {
  return new Date(Math.max(FIRST_DAY_MS, parseDay(day)! + n * DAY_MS)).toISOString().slice(0, 10);
}

function daysBetween(from: string, to: string): number {
  return Math.round((parseDay(to)! - parseDay(from)!) / DAY_MS);
}
