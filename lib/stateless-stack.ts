import { join } from 'node:path';
import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { PipelineConfig } from './config.js';
import { ConversationEnricher } from './constructs/conversation-enricher.js';
import { ConversationErasure } from './constructs/conversation-erasure.js';
import type { StreamingTable } from './constructs/conversation-table.js';
import { ConversationProcessor } from './constructs/conversation-processor.js';
import { ConversationQuery } from './constructs/conversation-query.js';
import { LiveStream } from './constructs/live-stream.js';
import { Monitoring } from './constructs/monitoring.js';
import type { FunctionDefaults } from './constructs/node-function.js';
import { OutboxPublisher } from './constructs/outbox-publisher.js';
import { PipelineApi } from './constructs/pipeline-api.js';
import { Reconciler } from './constructs/reconciler.js';
import { WebhookIngest } from './constructs/webhook-ingest.js';

/** Repository root: package.json, package-lock.json and functions/ live here. */
export const PROJECT_ROOT = join(import.meta.dirname, '..');

export interface StatelessStackProps extends StackProps {
  readonly config: PipelineConfig;
  /** With its change stream: the outbox publisher's event source needs the stream's ARN. */
  readonly table: StreamingTable;
  readonly bus: IEventBus;
  readonly webhookSecret: ISecret;
  readonly apiKeySecret: ISecret;
  /** The caller lookup key (processor hashes, erasure looks up). */
  readonly callerKeySecret: ISecret;
  /** Archived recordings (stateful stack): the enricher writes, the query presigns, the erasure deletes. */
  readonly audioBucket: IBucket;
  /** The work queue and its DLQ (stateful stack: accepted webhooks outlive this stack). */
  readonly queue: IQueue;
  readonly deadLetterQueue: IQueue;
  /** The change stream's DLQ (stateful stack: the record of changes whose events were not published). */
  readonly streamDeadLetterQueue: IQueue;
  /** The stateful stack's alarm topic. */
  readonly alarmTopic: ITopic;
  /**
   * Directory holding `<name>/handler.ts` for each function (ingest, processor, outbox-publisher, ...).
   * @default `<project root>/functions`
   */
  readonly functionsDir?: string;
}

/**
 * Everything that can be destroyed and redeployed without losing data: the HTTP API, the functions
 * (the outbox publisher's stream event source included: it resumes from the stream's oldest record),
 * the reconciler schedule, alarms and the dashboard. It holds no accepted data: the queues, table,
 * bus and secrets it uses are the stateful stack's.
 */
export class StatelessStack extends Stack {
  public readonly api: PipelineApi;
  public readonly ingest: WebhookIngest;
  public readonly processing: ConversationProcessor;
  public readonly enrichment: ConversationEnricher;
  public readonly query: ConversationQuery;
  public readonly erasure: ConversationErasure;
  public readonly outboxPublisher: OutboxPublisher;
  public readonly reconciler: Reconciler;
  public readonly monitoring: Monitoring;
  public readonly live: LiveStream;

  constructor(scope: Construct, id: string, props: StatelessStackProps) {
    super(scope, id, props);
    const { config } = props;
    const functionsDir = props.functionsDir ?? join(PROJECT_ROOT, 'functions');
    const entry = (name: string) => join(functionsDir, name, 'handler.ts');
    const defaults: FunctionDefaults = { projectRoot: PROJECT_ROOT, ...config.functions };

    this.processing = new ConversationProcessor(this, 'Processing', {
      defaults,
      entry: entry('processor'),
      table: props.table,
      bus: props.bus,
      callerKeySecret: props.callerKeySecret,
      queue: props.queue,
      timeout: Duration.seconds(config.processor.schedule.timeoutSeconds),
      batchSize: config.processor.batchSize,
      maxConcurrency: config.processor.maxConcurrency,
      settings: config.processor.settings,
    });

    this.enrichment = new ConversationEnricher(this, 'Enrichment', {
      defaults,
      entry: entry('enricher'),
      table: props.table,
      bus: props.bus,
      apiKeySecret: props.apiKeySecret,
      audioBucket: props.audioBucket,
      threeTone: config.threeTone,
      settings: config.processor.settings,
    });

    this.ingest = new WebhookIngest(this, 'Webhook', {
      defaults,
      entry: entry('ingest'),
      queue: props.queue,
      webhookSecret: props.webhookSecret,
      settings: config.ingest,
    });

    this.query = new ConversationQuery(this, 'Query', { defaults, entry: entry('query'), table: props.table, audioBucket: props.audioBucket });

    this.erasure = new ConversationErasure(this, 'Erasure', {
      defaults,
      entry: entry('erasure'),
      table: props.table,
      callerKeySecret: props.callerKeySecret,
      audioBucket: props.audioBucket,
      settings: config.erasure.settings,
    });

    this.outboxPublisher = new OutboxPublisher(this, 'Outbox', {
      defaults,
      entry: entry('outbox-publisher'),
      table: props.table,
      bus: props.bus,
      deadLetterQueue: props.streamDeadLetterQueue,
    });

    this.reconciler = new Reconciler(this, 'Reconcile', {
      defaults,
      entry: entry('reconciler'),
      table: props.table,
      queue: props.queue,
      apiKeySecret: props.apiKeySecret,
      every: Duration.minutes(config.reconciler.scheduleMinutes),
      threeTone: config.threeTone,
      settings: config.reconciler.settings,
    });

    this.api = new PipelineApi(this, 'Api', {
      ingest: this.ingest.handler.function,
      query: this.query.handler.function,
      erasure: this.erasure.handler.function,
      webhookThrottle: config.webhook.throttle,
      queryThrottle: config.query.throttle,
      logRetention: config.functions.logRetention,
      corsOrigins: config.live.allowedOrigins,
    });

    this.live = new LiveStream(this, 'Live', {
      defaults,
      entry: entry('live-publisher'),
      bus: props.bus,
      apiKeyExpiryDays: config.live.apiKeyExpiryDays,
      logRetention: config.functions.logRetention,
    });

    this.monitoring = new Monitoring(this, 'Monitoring', {
      serviceName: config.functions.serviceName,
      functions: {
        ingest: this.ingest.handler.function,
        processor: this.processing.processor.function,
        query: this.query.handler.function,
        reconciler: this.reconciler.handler.function,
        enricher: this.enrichment.handler.function,
        outboxPublisher: this.outboxPublisher.handler.function,
      },
      queue: props.queue,
      deadLetterQueue: props.deadLetterQueue,
      streamDeadLetterQueue: props.streamDeadLetterQueue,
      reconcilerSchedule: this.reconciler.schedule,
      apiKeySecret: props.apiKeySecret,
      apiStage: this.api.stage,
      topic: props.alarmTopic,
      thresholds: config.alarms,
    });

    new CfnOutput(this, 'WebhookUrl', { description: 'Register this URL with ThreeTone', value: this.api.webhookUrl });
    new CfnOutput(this, 'ApiUrl', { description: 'Base URL of the IAM-authorized query routes', value: this.api.api.apiEndpoint });
    new CfnOutput(this, 'LiveRealtimeUrl', { description: 'WebSocket URL of the live stream (AppSync Events)', value: this.live.realtimeUrl });
    new CfnOutput(this, 'LiveApiId', { description: 'AppSync Events API id: its API key is the live stream credential', value: this.live.api.apiId });
    new CfnOutput(this, 'DashboardName', { value: this.monitoring.dashboard.dashboardName });
  }
}
