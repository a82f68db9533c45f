/**
 * ThreeTone's request quota (`RequestBudget`) as DynamoDB counters, shared by every processor,
 * enricher and reconciler that calls ThreeTone, on AWS and locally (docs/decisions.md, D19).
 *
 * ThreeTone allows N requests a minute and M an hour and does not say how it counts. Fixed-window
 * counters alone would allow 2N across a window boundary, so each window is cut into 6 buckets and
 * each bucket allows ⌊limit / 7⌋: any 60-second (or 3,600-second) span, however aligned, overlaps at
 * most 7 buckets, so it never holds more than the limit. That paces at 6/7 of a limit less rounding
 * (about 80% of ThreeTone's 100/minute and 1,000/hour; smaller limits use fewer, longer buckets). One request's worth is one transaction: both
 * buckets' conditional increments plus a check that no 429 has blocked the budget.
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

  return {
    async take() {
      const t = now();
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
                  ConditionExpression: 'attribute_not_exists(n) OR n < :cap',
                  ExpressionAttributeValues: {
                    ':one': 1,
                    ':cap': w.cap,
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
        return { granted: true };
      } catch (err) {
        if (!(err instanceof TransactionCanceledException)) throw err;
        const reasons = err.CancellationReasons ?? [];
        let waitMs = 0;
        windows.forEach((w, i) => {
          if (reasons[i]?.Code === 'ConditionalCheckFailed') waitMs = Math.max(waitMs, (buckets[i]! + 1) * w.bucketMs - t);
        });
        if (reasons[windows.length]?.Code === 'ConditionalCheckFailed') {
          const block = await doc.send(new GetCommand({ TableName: tableName, Key: blockKey, ConsistentRead: true }));
          waitMs = Math.max(waitMs, Number(block.Item?.until_ms ?? t) - t);
        }
        // Only a conflict with a concurrent taker: ask again shortly.
        return { granted: false, retryAfterMs: Math.max(waitMs, 25) };
      }
    },

    async block(forMs) {
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
