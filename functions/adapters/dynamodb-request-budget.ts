/**
 * ThreeTone's request quota (`RequestBudget`) as DynamoDB counters, shared by every processor,
 * enricher and reconciler that calls ThreeTone, on AWS and locally (docs/decisions.md, D19).
 *
 * ThreeTone allows N requests a minute and M an hour and does not say how it counts. Fixed-window
 * counters alone would allow 2N across a window boundary, so each window is cut into 6 buckets and
 * each bucket allows ⌊limit / 7⌋: any 60-second (or 3,600-second) span, however aligned, overlaps at
 * most 7 buckets, so it never holds more than the limit. That paces at 6/7 of a limit less rounding
 * (about 80% of ThreeTone's 100/minute and 1,000/hour; smaller limits use fewer, longer buckets).
 *
 * A take is one transaction: both buckets' conditional increments plus a check that no 429 has
 * blocked the budget. To keep that transaction off the hot path (issue 10: it cost more write units
 * per conversation than the record), one take reserves a few requests' worth (a quarter of the
 * smallest bucket cap, at most 10) and hands them out from memory until the bucket they were counted
 * in ends, or a 429 blocks the budget. Units still reserved when the bucket ends are never used, so
 * the bound above holds; the price is at most `chunk - 1` requests per taker per bucket left unused.
 */
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { RequestBudget } from '#functions/ports.js';
import { keys } from './table-schema.js';

export interface RequestBudgetOptions {
  readonly perMinute: number;
  readonly perHour: number;
  /** Epoch ms; a compressed clock in tests and local runs. @default Date.now */
  readonly now?: () => number;
}

/** The most requests' worth one take reserves. */
const MAX_CHUNK = 10;

interface Window {
  readonly name: 'MINUTE' | 'HOUR';
  readonly bucketMs: number;
  readonly cap: number;
}

/** Buckets per window and the cap of each, so that no span of `windowMs` exceeds `limit`. */
export function windowOf(name: Window['name'], windowMs: number, limit: number): Window {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`${name} limit must be a positive integer`);
  // k buckets per window: a span of one window overlaps at most k + 1 of them.
  const k = Math.max(1, Math.min(6, limit - 1));
  return { name, bucketMs: windowMs / k, cap: Math.max(1, Math.floor(limit / (k + 1))) };
}

export function createDynamoDbRequestBudget(doc: DynamoDBDocumentClient, tableName: string, opts: RequestBudgetOptions): RequestBudget {
  const now = opts.now ?? Date.now;
  const windows = [windowOf('MINUTE', 60_000, opts.perMinute), windowOf('HOUR', 3_600_000, opts.perHour)];
  const blockKey = { pk: keys.budget, sk: keys.budgetBlock };
  const chunk = Math.max(1, Math.min(MAX_CHUNK, Math.floor(Math.min(...windows.map((w) => w.cap)) / 4)));
  /** Units taken and not yet handed out; usable until `untilMs` (the end of the earliest bucket they were counted in). */
  let reserve = { units: 0, untilMs: 0 };

  async function takeUnits(k: number, t: number): Promise<{ granted: true } | { granted: false; retryAfterMs: number; full: boolean }> {
      const buckets = windows.map((w) => Math.floor(t / w.bucketMs));
      try {
        await doc.send(
          new TransactWriteCommand({
            TransactItems: [
              ...windows.map((w, i) => ({
                Update: {
                  TableName: tableName,
                  Key: { pk: keys.budget, sk: keys.budgetBucket(w.name, buckets[i]!) },
                  UpdateExpression: 'SET expires_at = :exp ADD n :one',
                  ConditionExpression: 'attribute_not_exists(n) OR n <= :room',
                  ExpressionAttributeValues: {
                    ':one': k,
                    ':room': w.cap - k,
                    // Kept a day past the bucket (real seconds: TTL runs on the wall clock).
                    ':exp': Math.floor(Date.now() / 1000) + Math.ceil(w.bucketMs / 1000) + 86_400,
                  },
                },
              })),
              {
                ConditionCheck: {
                  TableName: tableName,
                  Key: blockKey,
                  ConditionExpression: 'attribute_not_exists(until_ms) OR until_ms <= :now',
                  ExpressionAttributeValues: { ':now': t },
                },
              },
            ],
          }),
        );
        reserve = { units: k - 1, untilMs: Math.min(...windows.map((w, i) => (buckets[i]! + 1) * w.bucketMs)) };
        return { granted: true };
      } catch (err) {
        if (!(err instanceof TransactionCanceledException)) throw err;
        const reasons = err.CancellationReasons ?? [];
        let waitMs = 0;
        let full = false;
        windows.forEach((w, i) => {
          if (reasons[i]?.Code === 'ConditionalCheckFailed') {
            full = true;
            waitMs = Math.max(waitMs, (buckets[i]! + 1) * w.bucketMs - t);
          }
        });
        if (reasons[windows.length]?.Code === 'ConditionalCheckFailed') {
          full = false;
          const block = await doc.send(new GetCommand({ TableName: tableName, Key: blockKey, ConsistentRead: true }));
          waitMs = Math.max(waitMs, Number(block.Item?.until_ms ?? t) - t);
        }
        // Only a conflict with a concurrent taker: ask again shortly.
        return { granted: false, retryAfterMs: Math.max(waitMs, 25), full };
      }
  }

  return {
    async take() {
      const t = now();
      if (reserve.units > 0 && t < reserve.untilMs) {
        reserve.units--;
        return { granted: true };
      }
      reserve = { units: 0, untilMs: 0 };
      const got = await takeUnits(chunk, t);
      // A bucket without room for a whole chunk may still have room for one.
      const result = !got.granted && got.full && chunk > 1 ? await takeUnits(1, t) : got;
      return result.granted ? result : { granted: false, retryAfterMs: result.retryAfterMs };
    },

    async block(forMs) {
      reserve = { units: 0, untilMs: 0 };
      const untilMs = now() + forMs;
      await doc.send(
        new PutCommand({
          TableName: tableName,
          Item: { ...blockKey, until_ms: untilMs },
          // Never shortens a longer block.
          ConditionExpression: 'attribute_not_exists(until_ms) OR until_ms < :until',
          ExpressionAttributeValues: { ':until': untilMs },
        }),
      ).catch((err: unknown) => {
        if ((err as { name?: string }).name !== 'ConditionalCheckFailedException') throw err;
      });
    },
  };
}
