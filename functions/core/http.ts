/**
 * HTTP errors of the API handlers, mapped to status codes in one place. Bodies are always
 * `{"error": {"code", "message"}}`; 5xx bodies are generic (no stack, no internals).
 */

/** A response as the HTTP front (API Gateway's payload 2.0, or the local server) sends it. */
export interface HttpResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export const badRequest = (code: string, message: string) => new HttpError(400, code, message);
export const unauthorized = (code: string, message: string) => new HttpError(401, code, message);
export const notFound = (message: string) => new HttpError(404, 'not_found', message);

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

export function json(status: number, body: unknown): HttpResponse {
  return { statusCode: status, headers: JSON_HEADERS, body: JSON.stringify(body) };
}

export function errorResponse(err: unknown): HttpResponse {
  if (err instanceof HttpError) return json(err.status, { error: { code: err.code, message: err.message } });
  return json(500, { error: { code: 'internal_error', message: 'Internal error; the request can be retried.' } });
}
