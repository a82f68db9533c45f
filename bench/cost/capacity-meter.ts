/**
 * Meters every DynamoDB call a client makes: adds `ReturnConsumedCapacity: INDEXES` to it and adds
 * up what DynamoDB Local reports, per table and per index. It also works out which partition keys
 * each write touched and how many write units each took under DynamoDB's published rules: it reads
 * every written item before and after the write through a second, unmetered client, and charges
 * units of 1 KB of the larger image, doubled in a transaction; an index entry when its key or
 * projected attributes change (deleted and re-put when its key moves); a transaction's
 * ConditionCheck as a transactional read (2 read units). Outside transactions this matches what
 * DynamoDB Local reports (test/unit/capacity-meter.test.ts); inside them DynamoDB Local reports more
 * than AWS documents (4 units for a 1 KB Put), so the bench prices the rules and shows both.
 */
import { type AttributeValue, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { TABLE } from '#adapters/table-schema.js';

type Av = AttributeValue;
type Image = Record<string, Av>;

/** What each index keeps of an item (mirrors the table definition: local/dynamodb-local.ts, lib/). */
export interface IndexShape {
  name: string;
  partitionKey: string;
  sortKey: string;
  /** undefined: ALL; [] : KEYS_ONLY; else INCLUDE these. */
  include?: readonly string[];
}

export interface CallRecord {
  command: string;
  /** Reported by DynamoDB: capacity units per table and per index (read or write, by command). */
  tableUnits: number;
  indexUnits: Record<string, number>;
  kind: 'read' | 'write';
}

export interface KeyHeat {
  /** `table` or an index name. */
  where: string;
  pk: string;
  /** The item's sort key (table writes), for the per-item breakdown. */
  sk?: string;
  wcu: number;
}

const WRITE_COMMANDS = new Set(['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand', 'TransactWriteItemsCommand', 'BatchWriteItemCommand']);

/** DynamoDB's item size: attribute names plus values (numbers: about 1 byte per 2 digits, plus 1). */
export function itemSize(item: Image): number {
  let n = 0;
  for (const [name, v] of Object.entries(item)) n += Buffer.byteLength(name) + valueSize(v);
  return n;
}

function valueSize(v: Av): number {
  if (v.S !== undefined) return Buffer.byteLength(v.S);
  if (v.N !== undefined) return Math.ceil(v.N.replace(/^-|\.|e.*$/gi, '').replace(/^0+/, '').length / 2) + 1;
  if (v.B !== undefined) return v.B.byteLength;
  if (v.BOOL !== undefined || v.NULL !== undefined) return 1;
  if (v.SS) return v.SS.reduce((s, x) => s + Buffer.byteLength(x), 0);
  if (v.NS) return v.NS.reduce((s, x) => s + valueSize({ N: x }), 0);
  if (v.L) return 3 + v.L.reduce((s, x) => s + 1 + valueSize(x), 0);
  if (v.M) return 3 + Object.entries(v.M).reduce((s, [k, x]) => s + 1 + Buffer.byteLength(k) + valueSize(x), 0);
  return 0;
}

const units = (bytes: number) => Math.max(1, Math.ceil(bytes / 1024));

function indexEntry(img: Image | undefined, ix: IndexShape): Image | null {
  if (!img || !img[ix.partitionKey] || !img[ix.sortKey]) return null;
  if (ix.include === undefined) return img;
  const keep = new Set([TABLE.partitionKey, TABLE.sortKey, ix.partitionKey, ix.sortKey, ...ix.include]);
  return Object.fromEntries(Object.entries(img).filter(([k]) => keep.has(k)));
}

const same = (a: Image | null, b: Image | null) => JSON.stringify(sorted(a)) === JSON.stringify(sorted(b));
const sorted = (img: Image | null) => (img ? Object.keys(img).sort().map((k) => [k, img[k]]) : null);
const keyString = (v: Av | undefined) => v?.S ?? v?.N ?? '?';

export interface Meter {
  calls: CallRecord[];
  heat: KeyHeat[];
  /** Read units of transactional condition checks (AWS bills a ConditionCheck as a transactional read: 2 units per 4 KB). */
  checkReadUnits: number;
  reset(): void;
}

/**
 * Instruments `client` (the one the adapters use). `indexes` describes the table's indexes as
 * deployed; `endpoint` is where the unmetered before/after reads go.
 */
export function meterDynamoDb(client: DynamoDBClient, endpoint: string, indexes: readonly IndexShape[]): Meter {
  const raw = new DynamoDBClient({ endpoint, region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const meter: Meter = {
    calls: [],
    heat: [],
    checkReadUnits: 0,
    reset() {
      meter.calls.length = 0;
      meter.heat.length = 0;
      meter.checkReadUnits = 0;
    },
  };

  const read = async (table: string, key: Image): Promise<Image | undefined> =>
    (await raw.send(new GetItemCommand({ TableName: table, Key: key, ConsistentRead: true }))).Item;

  client.middlewareStack.add(
    (next) => async (args) => {
      (args.input as Record<string, unknown>).ReturnConsumedCapacity = 'INDEXES';
      return next(args);
    },
    { step: 'initialize', priority: 'high', name: 'costBenchCapacity' },
  );
  // At the build step the input is marshalled (the document client's marshalling has run).
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const command = String((context as { commandName?: string }).commandName);
      const input = args.input as Record<string, unknown>;
      const writes = writesOf(command, input);
      const before = await Promise.all(writes.map((w) => (w.op === 'check' ? undefined : read(w.table, w.key))));
      const out = await next(args);
      const consumed = (out.output as { ConsumedCapacity?: unknown }).ConsumedCapacity;
      const list = (Array.isArray(consumed) ? consumed : consumed ? [consumed] : []) as {
        CapacityUnits?: number;
        Table?: { CapacityUnits?: number };
        GlobalSecondaryIndexes?: Record<string, { CapacityUnits?: number }>;
      }[];
      const rec: CallRecord = { command, tableUnits: 0, indexUnits: {}, kind: WRITE_COMMANDS.has(command) ? 'write' : 'read' };
      for (const c of list) {
        rec.tableUnits += c.Table?.CapacityUnits ?? c.CapacityUnits ?? 0;
        for (const [ix, u] of Object.entries(c.GlobalSecondaryIndexes ?? {})) rec.indexUnits[ix] = (rec.indexUnits[ix] ?? 0) + (u.CapacityUnits ?? 0);
      }
      meter.calls.push(rec);
      const after = await Promise.all(writes.map((w) => (w.op === 'check' ? undefined : read(w.table, w.key))));
      const factor = command === 'TransactWriteItemsCommand' ? 2 : 1;
      writes.forEach((w, i) => {
        const pk = keyString(w.key[TABLE.partitionKey]);
        const old = before[i];
        const neu = after[i];
        if (w.op === 'check') {
          meter.checkReadUnits += 2;
          return;
        }
        meter.heat.push({ where: 'table', pk, sk: `${w.op}${factor === 2 ? ' (tx)' : ''} ${keyString(w.key[TABLE.sortKey])}`, wcu: factor * units(Math.max(old ? itemSize(old) : 0, neu ? itemSize(neu) : 0)) });
        for (const ix of indexes) {
          const o = indexEntry(old, ix);
          const n = indexEntry(neu, ix);
          if (!o && !n) continue;
          const ok = o && keyString(o[ix.partitionKey]) + '\u0000' + keyString(o[ix.sortKey]);
          const nk = n && keyString(n[ix.partitionKey]) + '\u0000' + keyString(n[ix.sortKey]);
          if (o && n && ok === nk) {
            if (!same(o, n)) meter.heat.push({ where: ix.name, pk: keyString(n[ix.partitionKey]), wcu: units(itemSize(n)) });
            continue;
          }
          if (o) meter.heat.push({ where: ix.name, pk: keyString(o[ix.partitionKey]), wcu: units(itemSize(o)) });
          if (n) meter.heat.push({ where: ix.name, pk: keyString(n[ix.partitionKey]), wcu: units(itemSize(n)) });
        }
      });
      return out;
    },
    { step: 'build', priority: 'high', name: 'costBenchMeter' },
  );
  return meter;
}

interface Write {
  op: 'put' | 'update' | 'delete' | 'check';
  table: string;
  key: Image;
}

function keyOf(item: Image): Image {
  return { [TABLE.partitionKey]: item[TABLE.partitionKey]!, [TABLE.sortKey]: item[TABLE.sortKey]! };
}

function writesOf(command: string, input: Record<string, unknown>): Write[] {
  const table = String(input.TableName ?? '');
  switch (command) {
    case 'PutItemCommand':
      return [{ op: 'put', table, key: keyOf(input.Item as Image) }];
    case 'UpdateItemCommand':
      return [{ op: 'update', table, key: input.Key as Image }];
    case 'DeleteItemCommand':
      return [{ op: 'delete', table, key: input.Key as Image }];
    case 'TransactWriteItemsCommand':
      return (input.TransactItems as Record<string, { TableName: string; Item?: Image; Key?: Image }>[]).map((t) => {
        if (t.Put) return { op: 'put', table: t.Put.TableName, key: keyOf(t.Put.Item!) };
        if (t.Update) return { op: 'update', table: t.Update.TableName, key: t.Update.Key! };
        if (t.Delete) return { op: 'delete', table: t.Delete.TableName, key: t.Delete.Key! };
        return { op: 'check', table: t.ConditionCheck!.TableName, key: t.ConditionCheck!.Key! };
      });
    case 'BatchWriteItemCommand':
      return Object.entries(input.RequestItems as Record<string, { PutRequest?: { Item: Image }; DeleteRequest?: { Key: Image } }[]>).flatMap(([t, reqs]) =>
        reqs.map((r): Write => (r.PutRequest ? { op: 'put', table: t, key: keyOf(r.PutRequest.Item) } : { op: 'delete', table: t, key: r.DeleteRequest!.Key })),
      );
    default:
      return [];
  }
}
