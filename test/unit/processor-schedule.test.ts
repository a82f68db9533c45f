import { describe, expect, it } from 'vitest';
import { worstCaseCallMs } from '#adapters/threetone-http.js';
import type { ThreeToneClientConfig } from '#functions/config.js';
import { processingSchedule, STORE_HEADROOM_SECONDS } from '#functions/processor/schedule.js';
import { measuredWorstCaseMs } from '#test/helpers/threetone-budget.js';

const base: ThreeToneClientConfig = { baseUrl: 'https://t.example', timeoutMs: 5_000, maxRetries: 3, baseDelayMs: 200, maxDelayMs: 10_000 };

describe('the processor schedule follows the ThreeTone client retry budget', () => {
  it.each([
    base,
    { ...base, maxRetries: 0 },
    { ...base, maxRetries: 10, timeoutMs: 1_000 },
    { ...base, timeoutMs: 30_000, maxDelayMs: 0 },
  ])('worstCaseCallMs is what the client really spends at most (%j)', async (config) => {
    expect(worstCaseCallMs(config)).toBe(await measuredWorstCaseMs(config));
  });

  it('defaults: one call up to 50 s; details + transcript + DynamoDB headroom = 130 s; visibility 780 s', () => {
    expect(worstCaseCallMs(base)).toBe(50_000);
    expect(processingSchedule(base, 5)).toEqual({ timeoutSeconds: 130, visibilityTimeoutSeconds: 780, longestNormalWaitSeconds: 3_900 });
  });

  it.each([{ maxRetries: 5 }, { timeoutMs: 9_000 }, { maxDelayMs: 20_000 }])('raising %j raises the timeout and the visibility timeout with it', async (change) => {
    const config = { ...base, ...change };
    const schedule = processingSchedule(config, 5);
    expect(schedule.timeoutSeconds).toBeGreaterThanOrEqual((2 * (await measuredWorstCaseMs(config))) / 1000 + STORE_HEADROOM_SECONDS);
    expect(schedule.timeoutSeconds).toBeGreaterThan(processingSchedule(base, 5).timeoutSeconds);
    expect(schedule.visibilityTimeoutSeconds).toBeGreaterThanOrEqual(6 * schedule.timeoutSeconds);
  });

  it('refuses a budget longer than Lambda allows', () => {
    expect(() => processingSchedule({ ...base, maxRetries: 10, timeoutMs: 30_000, maxDelayMs: 60_000 }, 5)).toThrow(/900 s/);
  });
});
