/**
 * The local server's admin operations (routes with target `admin` in functions/routes.ts, served
 * only by `npm start`, behind QUERY_API_KEY when set): what `npm run redrive` and `npm run replay`
 * ask a running `npm start` to do, since the queue folder belongs to one process.
 *   POST /admin/redrive → `{moved, message_ids}`: the dead letters moved back into the queue
 *   POST /admin/replay?conversation_id=… | ?from=…&to=… → `{selected, enqueued, expired}`
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { AdminPath } from '#functions/routes.js';
import type { ReplayResult } from '#functions/replay/replay.js';
import { replaySelection } from '#functions/replay/replay.js';
import type { WebhookSelection } from '#functions/ports.js';
import type { RedriveResult } from './local-queue.js';

export interface AdminDeps {
  redrive(): Promise<RedriveResult>;
  replay(selection: WebhookSelection): Promise<ReplayResult>;
}

const json = (statusCode: number, body: unknown): APIGatewayProxyStructuredResultV2 => ({
  statusCode,
  headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
  body: JSON.stringify(body),
});

export function createAdminHandler(deps: AdminDeps) {
  const RUNS: Record<AdminPath, (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>> = {
    '/admin/redrive': async () => {
      const r = await deps.redrive();
      return json(200, { moved: r.moved, message_ids: r.messageIds });
    },
    '/admin/replay': async (event) => {
      const q = event.queryStringParameters ?? {};
      let selection: WebhookSelection;
      try {
        selection = replaySelection({ conversationId: q.conversation_id, from: q.from, to: q.to });
      } catch (err) {
        return json(400, { error: { code: 'invalid_parameter', message: (err as Error).message } });
      }
      return json(200, await deps.replay(selection));
    },
  };
  return async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
    const path = event.routeKey.slice(event.routeKey.indexOf(' ') + 1) as AdminPath;
    const run = RUNS[path];
    return run ? run(event) : json(404, { error: { code: 'not_found', message: 'No such admin operation' } });
  };
}
