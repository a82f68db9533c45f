import type { APIGatewayProxyEventV2 } from 'aws-lambda';

export interface ApiEventOptions {
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: string;
  isBase64Encoded?: boolean;
  stage?: string;
  routeKey?: string;
  timeEpoch?: number;
}

/** An API Gateway HTTP API (payload 2.0) event, as the handlers receive it on AWS. */
export function apiGatewayEvent(method: string, path: string, opts: ApiEventOptions = {}): APIGatewayProxyEventV2 {
  const routeKey = opts.routeKey ?? '$default';
  return {
    version: '2.0',
    routeKey,
    rawPath: path,
    rawQueryString: new URLSearchParams(opts.query ?? {}).toString(),
    headers: opts.headers ?? {},
    ...(opts.query && { queryStringParameters: opts.query }),
    isBase64Encoded: opts.isBase64Encoded ?? false,
    ...(opts.body !== undefined && { body: opts.body }),
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'example.com',
      domainPrefix: 'example',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.1', userAgent: 'test' },
      requestId: 'req-1',
      routeKey,
      stage: opts.stage ?? '$default',
      time: '01/Jan/2024:00:00:00 +0000',
      timeEpoch: opts.timeEpoch ?? 0,
    },
  };
}
