/**
 * `npm run bench:cost [-- --conversations N]`: the cost benchmark alone, printed as markdown
 * (bench/run.ts includes the same section in BENCHMARKS.md). Runs at the deployed log level (INFO)
 * so that log bytes are what AWS would ingest; the lines are counted, not printed.
 */
import { parseArgs } from 'node:util';
import { costBench, type CostRun } from './cost-bench.js';
import { costReport } from './cost-report.js';
import { TABLE_INDEXES } from '#adapters/table-schema.js';

const { values } = parseArgs({
  options: { conversations: { type: 'string', default: '100' }, json: { type: 'boolean', default: false } },
});
const base = { conversations: Number(values.conversations), batchSize: 10, memoryMb: 512, rate: 200 };
// Issue 10's typical conversation, then the same with its recording archived (AUDIO_ARCHIVE, on by default).
const run: CostRun = {
  typical: await costBench({ ...base, audio: false }, TABLE_INDEXES),
  withAudio: await costBench({ ...base, audio: true }, TABLE_INDEXES),
};
console.log(values.json ? JSON.stringify(run) : costReport(run));
