/** The cost benchmark's figures as markdown (BENCHMARKS.md section "Cost per million conversations"). */
import type { CostRun, HeatLine } from './cost-bench.js';

const money = (n: number) => `$${n.toFixed(2)}`;
const num = (n: number, d = 2) => (Math.round(n * 10 ** d) / 10 ** d).toLocaleString('en-US');

function heatRows(lines: HeatLine[], top = 12): string[] {
  return lines.slice(0, top).map((h) => `| ${h.where} | \`${h.key}\` | ${num(h.wcuPerConversation, 3)} | ${num(h.wcuPerSecond, 1)} |`);
}

export function costReport(run: CostRun): string {
  const f = run.typical;
  const a = run.withAudio;
  const o = f.options;
  // The same lines in the same order: what archiving each recording adds.
  const added = a.lines
    .map((l, i) => ({ l, d: l.dollarsPerMillion - (f.lines[i]?.dollarsPerMillion ?? 0) }))
    .filter((x) => Math.abs(x.d) >= 0.01);
  const out: string[] = [];
  out.push(
    `Typical conversation: \`call_started\`, \`conversation_started\`, \`conversation_ended\`, \`call_ended\`, then ThreeTone's details with a 30-turn transcript; ${o.conversations} conversations over 50 agents, processor batches of ${o.batchSize}, ${o.memoryMb} MB functions. Prices: \`bench/cost/prices.ts\` (${f.prices.region} list prices as of ${f.prices.asOf}).`,
    '',
    '| service | what | per conversation | $ per million conversations |',
    '|---|---|---:|---:|',
    ...f.lines.map((l) => `| ${l.service} | ${l.what} | ${num(l.perConversation, 4)} | ${money(l.dollarsPerMillion)} |`),
    `| **total** | | | **${money(f.total)}** |`,
    '',
    `With DynamoDB Local's own write-unit accounting (it charges transactions about twice what AWS documents) the total would be ${money(f.totalAsReported)}.`,
    '',
    `**With each recording archived** (\`AUDIO_ARCHIVE\`, on by default; measured in a second run): **${money(a.total)}** per million conversations. What archiving adds:`,
    '',
    '| service | what | $ per million conversations added |',
    '|---|---|---:|',
    ...added.map((x) => `| ${x.l.service} | ${x.l.what} | ${money(x.d)} |`),
    '',
    `DynamoDB write units per conversation as reported: table ${num(f.wcuReported.table)}, ${Object.entries(f.wcuReported.indexes)
      .map(([k, v]) => `${k} ${num(v)}`)
      .join(', ') || 'no index writes'}; the meter's estimate: table ${num(f.wcuEstimated.table)}, ${Object.entries(f.wcuEstimated.indexes)
      .map(([k, v]) => `${k} ${num(v)}`)
      .join(', ') || 'no index writes'}. Read units: ${num(f.rruPerConversation)}. Calls per conversation: ${Object.entries(f.dynamoCalls)
      .map(([k, v]) => `${k} ${num(v)}`)
      .join(', ')}. ThreeTone requests per conversation: ${num(f.threeToneRequests)}. Handler ms per conversation: ${Object.entries(f.handlerMs)
      .map(([k, v]) => `${k} ${num(v, 1)}`)
      .join(', ')}.`,
    '',
    'Table write units per conversation by item (the meter\'s estimate; `(tx)`: in a transaction, twice the units):',
    '',
    '| item | operation | WCU per conversation |',
    '|---|---|---:|',
    ...f.tableItems.filter((t) => t.wcu >= 0.01).map((t) => { const [pk, op, sk] = t.item.split(' ').length > 2 ? [t.item.split(' ')[0], t.item.split(' ').slice(1, -1).join(' '), t.item.split(' ').at(-1)] : [t.item, '', '']; return `| \`${pk} / ${sk}\` | ${op} | ${num(t.wcu)} |`; }),
    '',
    `Key heat at ${o.rate} conversations/s (write units per partition key; per-conversation keys show their hottest member, whose writes are spread over the conversation's life): many agents`,
    '',
    '| where | partition key | WCU per conversation | WCU/s at the rate |',
    '|---|---|---:|---:|',
    ...heatRows(f.heat.manyAgents),
    '',
    `and all ${o.rate} conversations/s for one agent:`,
    '',
    '| where | partition key | WCU per conversation | WCU/s at the rate |',
    '|---|---|---:|---:|',
    ...heatRows(f.heat.oneAgent),
  );
  return out.join('\n');
}
