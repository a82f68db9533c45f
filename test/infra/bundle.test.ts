/**
 * The one test that bundles the real handlers with the local esbuild and synthesizes with every check
 * on, as `npm run synth` does: aws-cdk-lib's CloudFormation validator in strict mode
 * (`@aws-cdk/core:validateAgainstDefaultRules`) and cdk-nag. Slower than the others (seconds).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '#lib/config.js';
import { createPipeline } from '#lib/pipeline.js';
import { PROJECT_ROOT } from '#lib/stateless-stack.js';
import { CDK_JSON_CONTEXT } from './support.js';

const ENTRIES = ['ingest', 'processor', 'query', 'erasure', 'reconciler', 'enricher', 'live-publisher', 'outbox-publisher'].map((name) => join(PROJECT_ROOT, 'functions', name, 'handler.ts'));

describe('full synth: real bundles, strict CloudFormation validation, cdk-nag', () => {
  it('bundles every handler as minified ESM with the SDK inside and passes every check', { timeout: 180_000 }, () => {
    expect(ENTRIES.filter((e) => !existsSync(e)), 'missing Lambda entry files').toEqual([]);

    const app = new App({
      context: { ...CDK_JSON_CONTEXT, '@aws-cdk/core:validateAgainstDefaultRules': true },
    });
    createPipeline(app, loadConfig((key) => app.node.tryGetContext(key)));
    const assembly = app.synth(); // throws on any validator or cdk-nag finding

    const report = JSON.parse(readFileSync(join(assembly.directory, 'validation-report.json'), 'utf8'));
    expect(report.pluginReports.flatMap((r: { violations: unknown[] }) => r.violations)).toEqual([]);

    const stateless = assembly.stacks.find((s) => s.stackName.endsWith('-Stateless'))!;
    const functions = Object.values(stateless.template.Resources as Record<string, any>).filter(
      (r) => r.Type === 'AWS::Lambda::Function',
    );
    expect(functions).toHaveLength(ENTRIES.length);
    /** The functions that bundle the S3 client (recordings: README "Audio"); the webhook path must not. */
    const withS3: string[] = [];
    for (const fn of functions) {
      // The asset's S3 key is `<hash>.zip`; the bundle sits in `asset.<hash>` in the assembly.
      const assetDir = join(assembly.directory, `asset.${String(fn.Properties.Code.S3Key).replace(/\.zip$/, '')}`);
      const files = readdirSync(assetDir).sort();
      expect(files).toEqual(['index.mjs', 'index.mjs.map']);
      const code = readFileSync(join(assetDir, 'index.mjs'), 'utf8');
      expect(code.startsWith('import { createRequire as __createRequire }')).toBe(true);
      // The AWS SDK is bundled, not left to the runtime's copy.
      expect(code).not.toMatch(/from\s*["']@aws-sdk\//);
      if (code.includes('AmazonS3')) withS3.push(String(fn.Properties.Description));
    }
    expect(withS3.sort()).toEqual([
      'Answers the conversation and agent-metrics query routes (IAM-authorized)',
      'Erases conversations by id or by caller phone number (IAM-authorized)',
      "Fetches ThreeTone's details of ended conversations within its request quota",
    ]);
  });
});
