import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { PipelineConfig } from './config.js';
import { StatefulStack } from './stateful-stack.js';
import { StatelessStack } from './stateless-stack.js';

export interface PipelineOptions {
  /** @default `<project root>/functions` */
  readonly functionsDir?: string;
  /** Run cdk-nag's AwsSolutions rules at synth (findings fail it). @default true */
  readonly nag?: boolean;
}

/**
 * The whole deployment: the stateful stack, the stateless stack that references it, and cdk-nag.
 * Used by lib/app.ts and by the infra tests, so both build exactly the same thing.
 */
export function createPipeline(app: App, config: PipelineConfig, options: PipelineOptions = {}) {
  const env = { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION };
  const tags = { project: 'threetone-pipeline' };

  const stateful = new StatefulStack(app, `${config.stackPrefix}-Stateful`, {
    env,
    tags,
    description: 'ThreeTone pipeline: table and its stream, work queue and DLQ, stream DLQ, event bus and archive, secrets, audio bucket (stateful)',
    config,
  });
  const stateless = new StatelessStack(app, `${config.stackPrefix}-Stateless`, {
    env,
    tags,
    description: 'ThreeTone pipeline: webhook API, functions, schedule, alarms, dashboard (stateless)',
    config,
    table: stateful.table,
    bus: stateful.bus,
    webhookSecret: stateful.webhookSecret,
    apiKeySecret: stateful.apiKeySecret,
    callerKeySecret: stateful.callerKeySecret,
    audioBucket: stateful.audioBucket,
    queue: stateful.queue,
    deadLetterQueue: stateful.deadLetterQueue,
    streamDeadLetterQueue: stateful.streamDeadLetterQueue,
    alarmTopic: stateful.alarmTopic,
    functionsDir: options.functionsDir,
  });
  stateless.addStackDependency(stateful, 'references the table and its stream, queues, bus, secrets and audio bucket');

  if (options.nag ?? true) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { stateful, stateless };
}
