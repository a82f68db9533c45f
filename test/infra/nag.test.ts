import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { synthPipeline } from './support.js';

/** Every acknowledgment recorded in the app: construct path, rule, reason. */
function acknowledgments(root: IConstruct) {
  return root.node.findAll().flatMap((c) =>
    c.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((m) => Object.entries(m.data as Record<string, string>))
      .map(([rule, reason]) => ({ path: c.node.path, rule, reason })),
  );
}

describe('cdk-nag AwsSolutions', () => {
  // Synth throws on any unacknowledged finding (validation plugins fail an in-memory synth).
  const { app } = synthPipeline({ nag: true });
  const assembly = app.synth();

  it('reports no finding', () => {
    const report = JSON.parse(readFileSync(join(assembly.directory, 'validation-report.json'), 'utf8'));
    const violations = report.pluginReports.flatMap((r: { violations: unknown[] }) => r.violations);
    expect(violations).toEqual([]);
  });

  it('acknowledges only the expected rules, each on the construct concerned and with a reason', () => {
    const acks = acknowledgments(app);
    const rule = (r: string) => r.replace(/^.*?::(?=AwsSolutions-)/, '').replace(/\[Resource::.*\/audio\/\*\]$/, '[Resource::<audio bucket>/audio/*]');
    expect(acks.map((a) => `${a.path.split('/').slice(1).join('/')} ${rule(a.rule)}`).sort()).toEqual([
      'Api/HttpApi/POST--webhooks--threetone AwsSolutions-APIG4',
      // Object actions name objects by a key pattern: the recordings prefix only, exact actions (see audio.test.ts).
      'Audio/Bucket AwsSolutions-S1',
      'Enrichment/Enricher AwsSolutions-IAM5[Resource::<audio bucket>/audio/*]',
      'Erasure/Erasure AwsSolutions-IAM5[Resource::<audio bucket>/audio/*]',
      // dynamodb:ListStreams names no resource (the stream's data actions name its ARN: stateless-stack.test.ts).
      'Outbox/Publisher AwsSolutions-IAM5[Resource::*]',
      'Query/Query AwsSolutions-IAM5[Resource::<audio bucket>/audio/*]',
      'Secrets/ApiKeySecret AwsSolutions-SMG4',
      'Secrets/CallerKeySecret AwsSolutions-SMG4',
      'Secrets/WebhookSecret AwsSolutions-SMG4',
      // A DLQ itself (the stream event source's on-failure destination, in the other stack).
      'StreamFailures/Queue AwsSolutions-SQS3',
    ]);
    for (const a of acks) expect(a.reason.length).toBeGreaterThan(80);
  });
});
