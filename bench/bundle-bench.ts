/**
 * Figures of the Lambda bundles: each entry bundled the way it ships (esbuild: bundle, ESM, node20,
 * minified, a createRequire banner for CommonJS dependencies), its size, and its cold import time
 * in a fresh Node process with the configuration the module reads at load.
 */
import { AUDIO_BUCKET_ENV } from '#functions/config.js';
import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';

export const LAMBDA_ENTRIES = ['ingest', 'processor', 'enricher', 'query', 'erasure', 'reconciler', 'live-publisher', 'outbox-publisher'] as const;

export interface BundleFigures {
  name: string;
  bytes: number;
  /** Median of `runs`: `await import(bundle)` measured inside the fresh process. */
  importMs: number;
  /** Median of `runs`: the whole `node` process, spawn to exit (Node's own start-up included). */
  processMs: number;
  runs: number;
}

const BANNER = "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);";

/** What the handlers read at module load (values are placeholders: nothing is called at import). */
const LAMBDA_ENV: Record<string, string> = {
  QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/threetone-webhooks',
  TABLE_NAME: 'threetone-pipeline',
  EVENT_BUS_NAME: 'threetone-pipeline',
  LIVE_EVENTS_HTTP_DOMAIN: 'example.appsync-api.us-east-1.amazonaws.com',
  THREETONE_WEBHOOK_SECRET: 'bench-secret',
  THREETONE_API_KEY_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:threetone-api-key',
  CALLER_KEY_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:threetone-caller-key',
  [AUDIO_BUCKET_ENV]: 'threetone-pipeline-audio',
  AWS_REGION: 'us-east-1',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  POWERTOOLS_LOG_LEVEL: 'ERROR',
};

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

export async function bundleEntry(root: string, name: string, outDir: string): Promise<string> {
  const outfile = join(outDir, `${name}.mjs`);
  await build({
    entryPoints: [join(root, 'functions', name, 'handler.ts')],
    absWorkingDir: root,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    minify: true,
    banner: { js: BANNER },
    outfile,
    logLevel: 'error',
  });
  return outfile;
}

/** One fresh process importing `file`: the import time it measured, and its own wall time. */
function coldImport(file: string): Promise<{ importMs: number; processMs: number }> {
  const script = `const t = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); process.stdout.write(String(performance.now() - t));`;
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...LAMBDA_ENV };
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const processMs = performance.now() - started;
      const importMs = Number(out.trim());
      if (code !== 0 || !Number.isFinite(importMs)) reject(new Error(`importing ${file} failed (exit ${code}): ${err.trim().split("\n").filter((l) => !l.startsWith("file://") && l.length < 400).slice(-6).join(" | ")}`));
      else resolve({ importMs, processMs });
    });
  });
}

export async function bundleBench(root: string, outDir: string, runs = 5): Promise<BundleFigures[]> {
  const figures: BundleFigures[] = [];
  for (const name of LAMBDA_ENTRIES) {
    const file = await bundleEntry(root, name, outDir);
    const bytes = (await stat(file)).size;
    const samples: { importMs: number; processMs: number }[] = [];
    for (let i = 0; i < runs; i++) samples.push(await coldImport(file));
    figures.push({
      name,
      bytes,
      importMs: median(samples.map((s) => s.importMs)),
      processMs: median(samples.map((s) => s.processMs)),
      runs,
    });
  }
  return figures;
}
