/**
 * Every HTTP route, in one table: the API construct (lib/constructs/pipeline-api.ts) creates the AWS
 * routes from it, the query Lambda (functions/query/query.ts) routes by it, and the local server
 * (local/http-server.ts) serves it. A route names its target (which handler answers it) and its
 * access: `hmac` (public; the ingest function checks the webhook signature), `iam` (SigV4 on AWS;
 * locally the `x-api-key` header when `QUERY_API_KEY` is set) or `public`. `localOnly` routes exist
 * only in `npm start` (the local server is their only home, e.g. readiness or a page).
 */

export type RouteMethod = 'GET' | 'POST' | 'DELETE';
/**
 * Which handler answers: a Lambda's (`ingest`, `query`, `erasure`) or one of the local server's own
 * (`health`; `admin`: the operations `npm run redrive` and `npm run replay` ask a running `npm start` for).
 */
export type RouteTarget = 'ingest' | 'query' | 'erasure' | 'health' | 'admin';
export type RouteAccess = 'hmac' | 'iam' | 'public';

export interface RouteSpec {
  readonly method: RouteMethod;
  /** `{name}` matches one non-empty path segment, passed on as a path parameter. */
  readonly path: string;
  readonly target: RouteTarget;
  readonly access: RouteAccess;
  readonly localOnly?: boolean;
  /**
   * Answers a file (a recording): on AWS its function redirects to a short-lived presigned S3 URL;
   * locally the server streams the file itself, with `Range` support (local/audio-download.ts).
   */
  readonly download?: boolean;
}

export const ROUTES = [
  { method: 'POST', path: '/webhooks/threetone', target: 'ingest', access: 'hmac' },
  { method: 'GET', path: '/conversations', target: 'query', access: 'iam' },
  { method: 'GET', path: '/conversations/{conversation_id}', target: 'query', access: 'iam' },
  { method: 'GET', path: '/conversations/{conversation_id}/transcript', target: 'query', access: 'iam' },
  { method: 'GET', path: '/conversations/{conversation_id}/audio', target: 'query', access: 'iam', download: true },
  { method: 'GET', path: '/events/{event_key}', target: 'query', access: 'iam' },
  { method: 'GET', path: '/agents/{agent_id}/metrics', target: 'query', access: 'iam' },
  // Erasure (README "Erasure"): its own function, so the query function stays read-only.
  { method: 'DELETE', path: '/conversations/{conversation_id}', target: 'erasure', access: 'iam' },
  { method: 'POST', path: '/erasures', target: 'erasure', access: 'iam' },
  { method: 'GET', path: '/health', target: 'health', access: 'public', localOnly: true },
  { method: 'POST', path: '/admin/redrive', target: 'admin', access: 'iam', localOnly: true },
  { method: 'POST', path: '/admin/replay', target: 'admin', access: 'iam', localOnly: true },
] as const satisfies readonly RouteSpec[];

export type Route = (typeof ROUTES)[number];
export type QueryRoute = Extract<Route, { target: 'query' }>;
export type QueryPath = QueryRoute['path'];
export type ErasureRoute = Extract<Route, { target: 'erasure' }>;

/** The webhook route ThreeTone posts to. */
export const WEBHOOK_ROUTE = ROUTES.find((r): r is Extract<Route, { target: 'ingest' }> => r.target === 'ingest')!;
export const QUERY_ROUTES: readonly QueryRoute[] = ROUTES.filter((r): r is QueryRoute => r.target === 'query');
export type AdminRoute = Extract<Route, { target: 'admin' }>;
export type AdminPath = AdminRoute['path'];

export const ERASURE_ROUTES: readonly ErasureRoute[] = ROUTES.filter((r): r is ErasureRoute => r.target === 'erasure');
/** The routes API Gateway serves. */
export const AWS_ROUTES: readonly RouteSpec[] = ROUTES.filter((r: RouteSpec) => !r.localOnly);

/** `POST /webhooks/threetone`: API Gateway's route key. */
export const routeKey = (r: Pick<RouteSpec, 'method' | 'path'>) => `${r.method} ${r.path}`;

/** The path's segments after the leading `/` (`/a/{b}` → `['a', '{b}']`). */
export const segmentsOf = (path: string): string[] => path.split('/').slice(1);
