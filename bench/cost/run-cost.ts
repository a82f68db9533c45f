/**
 * `npm run bench:cost [-- --conversations N]`: the cost benchmark alone, printed as markdown
 * (bench/run.ts includes the same section in BENCHMARKS.md). Runs at the deployed log level (INFO)
 * so that log bytes are what AWS would ingest; the lines are counted, not printed.
 */
import { parseArgs } from 'node:util';
import { costBench } from './cost-bench.js';
import { costReport } from './cost-report.js';
import { TABLE_INDEXES } from '#adapters/table-schema.js';

const { values } = parseArgs({
  options: { conversations: { type: 'string', default: '100' }, json: { type: 'boolean', default: false } },
});
const figures = await costBench({ conversations: Number(values.conversations), batchSize: 10, memoryMb: 512, rate: 200 }, TABLE_INDEXES);
console.log(values.json ? JSON.stringify(figures) : costReport(figures));
