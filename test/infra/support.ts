/**
 * Shared by the infra tests: synthesizes the pipeline exactly as lib/app.ts does (same cdk.json
 * context, same `createPipeline`), without bundling and without the slow validators unless asked.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, type CfnElement, type Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { loadConfig } from '#lib/config.js';
import { createPipeline } from '#lib/pipeline.js';
import { PROJECT_ROOT } from '#lib/stateless-stack.js';

/** The context of cdk.json (feature flags, telemetry off), as the CLI passes it to the app. */
export const CDK_JSON_CONTEXT: Record<string, unknown> = JSON.parse(
  readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8'),
).context;

/**
 * Stand-in entry files. NodejsFunction checks that its entry exists even when bundling is skipped,
 * and these tests are about the infrastructure, not the handlers (bundle.test.ts uses the real ones).
 */
export const STUB_FUNCTIONS_DIR = join(import.meta.dirname, 'fixtures', 'functions');

export interface SynthOptions {
  /** Extra CDK context, as `-c key=value` would give. */
  readonly context?: Record<string, unknown>;
  /** Run cdk-nag. @default false */
  readonly nag?: boolean;
}

export function synthPipeline(options: SynthOptions = {}) {
  const app = new App({
    builtinCloudFormationValidation: false,
    context: { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [], ...options.context },
  });
  const config = loadConfig((key) => app.node.tryGetContext(key));
  const stacks = createPipeline(app, config, { functionsDir: STUB_FUNCTIONS_DIR, nag: options.nag ?? false });
  return {
    app,
    config,
    ...stacks,
    statefulTemplate: Template.fromStack(stacks.stateful),
    statelessTemplate: Template.fromStack(stacks.stateless),
  };
}

/** The logical ID of a construct's CloudFormation resource (its default child for an L2). */
export function logicalId(construct: IConstruct): string {
  const cfn = (construct.node.defaultChild ?? construct) as CfnElement;
  return (cfn.stack as Stack).getLogicalId(cfn);
}

export interface Statement {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
}

/** Every IAM statement attached to a role, from its inline and its attached `AWS::IAM::Policy` policies. */
export function statementsOfRole(template: Template, roleLogicalId: string): Statement[] {
  const role = template.toJSON().Resources[roleLogicalId];
  const inline: Statement[] = (role?.Properties?.Policies ?? []).flatMap(
    (p: { PolicyDocument: { Statement: Statement[] } }) => p.PolicyDocument.Statement,
  );
  const attached = Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => JSON.stringify(p.Properties.Roles).includes(`"${roleLogicalId}"`))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
  const managed = Object.values(template.findResources('AWS::IAM::ManagedPolicy')).filter((p) =>
    JSON.stringify(p.Properties.Roles ?? []).includes(`"${roleLogicalId}"`),
  );
  if (managed.length > 0) throw new Error(`role ${roleLogicalId} has managed policies attached`);
  return [...inline, ...attached];
}

export const actionsOf = (statements: Statement[]) =>
  [...new Set(statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action])))].sort();

/** The resources (as JSON text) granted for one action. */
export const resourcesFor = (statements: Statement[], action: string) =>
  statements
    .filter((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]).includes(action))
    .flatMap((s) => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]))
    .map((r) => JSON.stringify(r));
