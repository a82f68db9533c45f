/**
 * BatchGetItem over any number of keys: 100 keys a call, and what DynamoDB leaves unprocessed
 * (throttling) asked again after a growing wait, until every key was answered. The items come back
 * in no particular order; items that do not exist are simply absent.
 */
import { BatchGetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

type Item = Record<string, unknown>;

/** BatchGetItem reads at most 100 keys per call. */
export const BATCH_GET_KEYS = 100;

export async function batchGetItems(
  doc: DynamoDBDocumentClient,
  tableName: string,
  keys: readonly Item[],
  opts: { consistentRead?: boolean; projection?: { expression: string; names: Record<string, string> } } = {},
): Promise<Item[]> {
  const found: Item[] = [];
  for (let i = 0; i < keys.length; i += BATCH_GET_KEYS) {
    let request: Item[] = keys.slice(i, i + BATCH_GET_KEYS);
    for (let attempt = 0; request.length > 0; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(2_000, 50 * 2 ** attempt)));
      const out = await doc.send(
        new BatchGetCommand({
          RequestItems: {
            [tableName]: {
              Keys: request,
              ...(opts.consistentRead && { ConsistentRead: true }),
              ...(opts.projection && { ProjectionExpression: opts.projection.expression, ExpressionAttributeNames: opts.projection.names }),
            },
          },
        }),
      );
      found.push(...((out.Responses?.[tableName] ?? []) as Item[]));
      request = (out.UnprocessedKeys?.[tableName]?.Keys ?? []) as Item[];
    }
  }
  return found;
}
