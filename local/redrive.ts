/**
 * `npm run redrive`: moves the dead letters of DATA_DIR/queue/dlq.jsonl back into the local work
 * queue, receive counts reset (SQS's message move task, locally). While `npm start` runs on the same
 * DATA_DIR it asks it (`POST /admin/redrive`: the queue folder belongs to one process); otherwise it
 * opens the queue itself (its lock keeps an `npm start` from opening it meanwhile) and the messages
 * are processed on the next start. See README "Operations".
 */
import './env-defaults.js';
import { join } from 'node:path';
import { createLocalQueue, type RedriveResult } from './local-queue.js';
import { dataDirOf, postAdmin, runningServer } from './running.js';

const USAGE = `usage: npm run redrive
  Moves every message of DATA_DIR/queue/dlq.jsonl back into the local queue (receive count reset).
  DATA_DIR as for npm start (default .local); QUERY_API_KEY sent as x-api-key when set.`;

export async function redrive(env: Record<string, string | undefined> = process.env): Promise<{ via: 'server' | 'queue'; result: RedriveResult }> {
  const dataDir = dataDirOf(env);
  const url = await runningServer(dataDir);
  if (url) {
    const r = await postAdmin<{ moved: number; message_ids: string[] }>(url, '/admin/redrive', env);
    return { via: 'server', result: { moved: r.moved, messageIds: r.message_ids } };
  }
  const queue = createLocalQueue({ dir: join(dataDir, 'queue') });
  try {
    return { via: 'queue', result: await queue.redrive() };
  } finally {
    await queue.stop();
  }
}

const isMain = process.argv[1]?.endsWith('redrive.ts') === true;
if (isMain) {
  if (process.argv.slice(2).some((a) => a === '-h' || a === '--help')) {
    console.log(USAGE);
    process.exit(0);
  }
  try {
    const { via, result } = await redrive();
    const where = via === 'server' ? 'the running npm start processes them now' : 'they are processed on the next npm start';
    console.log(`moved ${result.moved} dead letter(s) back to the queue${result.moved > 0 ? `; ${where}` : ''}`);
    for (const id of result.messageIds) console.log(`  ${id}`);
  } catch (err) {
    console.error(`redrive failed: ${(err as Error).message}`);
    process.exit(1);
  }
}
