/**
 * `npm start`: the whole pipeline on this machine, with no AWS account. See README "Run it locally".
 */
import './env-defaults.js';
import { ConfigError } from '#functions/config.js';
import { QUERY_ROUTES, WEBHOOK_ROUTE } from '#functions/routes.js';
import { DEV_WEBHOOK_SECRET, startLocalRuntime } from './runtime.js';

try {
  const rt = await startLocalRuntime();
  const secretNote = rt.webhookSecret === DEV_WEBHOOK_SECRET ? `${rt.webhookSecret}  (development default: set THREETONE_WEBHOOK_SECRET for your own)` : '(from THREETONE_WEBHOOK_SECRET)';
  console.log(
    [
      '',
      `threetone-pipeline is running on ${rt.url}`,
      '',
      `  webhook     ${WEBHOOK_ROUTE.method} ${rt.url}${WEBHOOK_ROUTE.path}   (X-ThreeTone-Signature: sha256=<hmac>)`,
      `  secret      ${secretNote}`,
      `  query API   GET  ${rt.url}${QUERY_ROUTES.map((r) => r.path).join(' · ')}`,
      `  live page   ${rt.url}/   (active and ended conversations, agents today, alerts)`,
      `  live stream ${rt.liveUrl}   (WebSocket: each bus event as appended to the events file)`,
      `  health      GET  ${rt.url}/health`,
      `  ThreeTone   ${rt.simulator ? `built-in simulator at ${rt.threeToneUrl}` : rt.threeToneUrl}`,
      `  DynamoDB    ${rt.dynamoDb.embedded ? `DynamoDB Local at ${rt.dynamoDb.host}, state in ${rt.dataDir}/dynamodb` : `${rt.dynamoDb.host}  (DYNAMODB_ENDPOINT)`}, table ${rt.dynamoDb.table}`,
      `  events      ${rt.eventsFile}  (EventBridge envelopes, one per line)`,
      `  state       ${rt.dataDir}`,
      '',
      '  try:  npm run send -- conversation   (a signed conversation, start to end)',
      '        npm run demo                   (dozens of conversations, duplicates, failures, a summary: watch the live page)',
      '',
    ].join('\n'),
  );
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping (queued messages stay on disk and resume on the next start)`);
    await rt.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(`Configuration error: ${err.message}`);
  } else {
    const e = err as NodeJS.ErrnoException;
    console.error(`Could not start: ${e.code === 'EADDRINUSE' ? `port in use (set PORT): ${e.message}` : e.message}`);
  }
  process.exit(1);
}
