import { createThreeToneHttpClient } from '#adapters/threetone-http.js';
import type { ThreeToneClientConfig } from '#functions/config.js';

/**
 * Drives the real client through its worst case: every attempt fails in a retryable way (standing for
 * an attempt that ran into its timeout) and ThreeTone asks for a day's wait each time. Returns what
 * that costs: each attempt up to the per-attempt timeout, plus the waits the client really made.
 */
export async function measuredWorstCaseMs(config: ThreeToneClientConfig): Promise<number> {
  let attempts = 0;
  let waited = 0;
  const client = createThreeToneHttpClient(config, {
    apiKey: async () => 'key',
    fetch: async () => {
      attempts++;
      return new Response('{}', { status: 503, headers: { 'retry-after': '86400' } });
    },
    sleep: async (ms) => {
      waited += ms;
    },
    random: () => 0.999_999,
  });
  await client.getConversation('c-1').catch(() => undefined);
  return attempts * config.timeoutMs + waited;
}

