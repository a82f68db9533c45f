/**
 * ThreeTone's request budget on DynamoDB Local: shared by every caller, it never lets any sliding
 * window of a minute (or an hour) hold more requests than the limit, refuses with the time to
 * wait, and stops everyone after a 429.
 */
import fc from 'fast-check';
import { type DynamoDBDocumentClient, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoDbRequestBudget, windowOf } from '#adapters/dynamodb-request-budget.js';
import { createTestTable, type TestTable } from '#test/helpers/dynamodb.js';

let table: TestTable;
beforeAll(async () => {
  table = await createTestTable();
});
afterAll(() => table.drop());

/** The most grants any window of `windowMs` holds, for grant times `times` (sorted). */
function busiestWindow(times: number[], windowMs: number): number {
  let best = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i]! - times[j]! >= windowMs) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

describe('bucket sizing', () => {
  it('keeps every sliding window within the limit, and paces at 40% of the limit or more from 7, three quarters from 42', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 5000 }), fc.constantFrom(60_000, 3_600_000), (limit, windowMs) => {
        const w = windowOf('MINUTE', windowMs, limit);
        const buckets = Math.round(windowMs / w.bucketMs);
        // worst case: a full bucket at the end of one bucket and full buckets after it
        expect(w.cap * (buckets + 1)).toBeLessThanOrEqual(limit);
        if (limit >= 7) expect((w.cap * buckets) / limit).toBeGreaterThanOrEqual(0.4);
        if (limit >= 42) expect((w.cap * buckets) / limit).toBeGreaterThanOrEqual(0.75);
      }),
      { seed: 8, numRuns: 300 },
    );
  });
});

describe('the shared budget on DynamoDB', () => {
  it('two takers on one clock never put more than the limit in any sliding minute or hour', async () => {
    let clock = Date.UTC(2026, 10, 20, 10, 0, 7);
    const opts = { perMinute: 10, perHour: 40, now: () => clock };
    const a = createDynamoDbRequestBudget(table.doc, table.tableName, opts);
    const b = createDynamoDbRequestBudget(table.doc, table.tableName, opts);
    const granted: number[] = [];
    let refusals = 0;
    for (let step = 0; step < 120; step++) {
      const results = await Promise.all([a.take(), b.take()]);
      for (const r of results) {
        if (r.granted) granted.push(clock);
        else {
          refusals++;
          expect(r.retryAfterMs).toBeGreaterThan(0);
        }
      }
      clock += 30_000; // 120 steps × 30 s = 1 hour
    }
    expect(busiestWindow(granted, 60_000)).toBeLessThanOrEqual(10);
    expect(busiestWindow(granted, 3_600_000)).toBeLessThanOrEqual(40);
    expect(granted.length).toBeGreaterThanOrEqual(30); // ~85% of the hourly limit, not starved
    expect(refusals).toBeGreaterThan(0);
  });

  it('with room for it, one transaction reserves several requests', async () => {
    let clock = Date.UTC(2026, 10, 22, 10, 0, 3);
    let transactions = 0;
    const counting = {
      send: (cmd: unknown) => {
        if (cmd instanceof TransactWriteCommand) transactions++;
        return table.doc.send(cmd as TransactWriteCommand);
      },
    } as unknown as DynamoDBDocumentClient;
    const opts = { perMinute: 7_000, perHour: 200_000, now: () => clock };
    const takers = [0, 1, 2].map(() => createDynamoDbRequestBudget(counting, table.tableName, opts));
    const granted: number[] = [];
    for (let step = 0; step < 600; step++) {
      for (const r of await Promise.all(takers.map((t) => t.take()))) if (r.granted) granted.push(clock);
      clock += 250; // 600 steps × 3 takers over 150 s
    }
    expect(busiestWindow(granted, 60_000)).toBeLessThanOrEqual(7_000);
    expect(granted.length).toBeGreaterThanOrEqual(1500);
    expect(transactions).toBeLessThanOrEqual(granted.length / 5);
  });

  it('reserving several requests at once never lets a sliding minute exceed the limit, even when takers compete for it', async () => {
    let clock = Date.UTC(2026, 10, 23, 10, 0, 3);
    const opts = { perMinute: 700, perHour: 20_000, now: () => clock }; // buckets of 100: 10 reserved per take
    const takers = [0, 1, 2].map(() => createDynamoDbRequestBudget(table.doc, table.tableName, opts));
    const granted: number[] = [];
    for (let step = 0; step < 480; step++) {
      for (const r of await Promise.all(takers.map((t) => t.take()))) if (r.granted) granted.push(clock);
      clock += 250; // 3 takers asking 12 times a second: more than the limit allows
    }
    expect(busiestWindow(granted, 60_000)).toBeLessThanOrEqual(700);
    expect(granted.length).toBeGreaterThanOrEqual(600); // 2 minutes at ~6/7 of the limit, less what reservations leave unused
  });

  it('after a 429, nobody takes until the block ends, and the wait says when', async () => {
    let clock = Date.UTC(2026, 10, 21, 9, 0, 0);
    const budget = createDynamoDbRequestBudget(table.doc, table.tableName, { perMinute: 100, perHour: 1000, now: () => clock });
    expect((await budget.take()).granted).toBe(true);

    await budget.block(30_000);
    await budget.block(5_000); // a shorter block never shortens a longer one
    const refused = await budget.take();
    clock += 31_000;
    const after = await budget.take();

    expect(refused).toEqual({ granted: false, retryAfterMs: 30_000 });
    expect(after.granted).toBe(true);
  });
});
