/**
 * `npm run replay`: re-runs stored webhooks through the processor (e.g. after a fix), each body
 * exactly as it was signed, through the work queue. Idempotent: see functions/replay/replay.ts.
 *
 *   npm run replay -- --conversation <id>                 one conversation (and its calls)
 *   npm run replay -- --from <iso> --to <iso>             accepted in that range (inclusive)
 * Locally it asks the `npm start` running on DATA_DIR (`POST /admin/replay`). On AWS (your
 * credentials, least privilege in docs/aws-deployment.md "Replay"):
 *   npm run replay -- --conversation <id> --table <TableName> --queue-url <WorkQueueUrl> [--region <r>]
 */
import './env-defaults.js';
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDynamoDbStoredWebhooks } from '#adapters/dynamodb-queries.js';
import { createSqsQueue } from '#adapters/sqs-queue.js';
import { createReplay, replaySelection, type ReplayResult } from '#functions/replay/replay.js';
import { dataDirOf, postAdmin, runningServer } from './running.js';

const USAGE = `usage: npm run replay -- (--conversation <id> | --from <iso> --to <iso>) [--table <name> --queue-url <url> [--region <region>]]
  Sends stored webhooks (exact signed bodies) back through the work queue; the processor rebuilds
  their conversations (nothing is stored or counted twice).
  Locally: asks the npm start running on DATA_DIR (default .local); QUERY_API_KEY sent when set.
  On AWS: --table (output TableName) and --queue-url (output WorkQueueUrl), with your credentials.`;

type Env = Record<string, string | undefined>;

export async function replay(argv: string[], env: Env = process.env): Promise<ReplayResult> {
  const { values } = parseArgs({
    args: argv,
    options: {
      conversation: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      table: { type: 'string' },
      'queue-url': { type: 'string' },
      region: { type: 'string' },
    },
    strict: true,
  });
  const selection = replaySelection({ conversationId: values.conversation, from: values.from, to: values.to });
  if (values.table !== undefined || values['queue-url'] !== undefined) {
    if (!values.table || !values['queue-url']) throw new RangeError('--table and --queue-url go together');
    const region = values.region ? { region: values.region } : {};
    const ddb = new DynamoDBClient(region);
    const sqs = new SQSClient(region);
    try {
      const doc = DynamoDBDocumentClient.from(ddb);
      return await createReplay({ webhooks: createDynamoDbStoredWebhooks(doc, values.table), queue: createSqsQueue(sqs, values['queue-url']) })(selection);
    } finally {
      ddb.destroy();
      sqs.destroy();
    }
  }
  const dataDir = dataDirOf(env);
  const url = await runningServer(dataDir);
  if (!url) throw new Error(`no npm start is running on ${dataDir}: start it first (replay reads its DynamoDB Local and feeds its queue)`);
  const params = new URLSearchParams(
    selection.kind === 'conversation' ? { conversation_id: selection.conversationId } : { from: selection.from, to: selection.to },
  );
  return postAdmin<ReplayResult>(url, `/admin/replay?${params.toString()}`, env);
}

const isMain = process.argv[1]?.endsWith('replay.ts') === true;
if (isMain) {
  const argv = process.argv.slice(2);
  if (argv.length === 0 || argv.some((a) => a === '-h' || a === '--help')) {
    console.log(USAGE);
    process.exit(argv.length === 0 ? 1 : 0);
  }
  try {
    const r = await replay(argv);
    console.log(`replayed ${r.enqueued} of ${r.selected} stored webhook(s) through the work queue${r.expired > 0 ? `; ${r.expired} body(ies) past RAW_EVENT_RETENTION_DAYS were skipped` : ''}`);
  } catch (err) {
    // Messages here are this tool's own or the SDK's (no payload is ever in them).
    console.error(`replay failed: ${(err as Error).message}`);
    process.exit(1);
  }
}
