import { Duration } from 'aws-cdk-lib';
import type { IHttpStage } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IRule } from 'aws-cdk-lib/aws-events';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENRICHMENT_METRICS } from '#adapters/emf-metrics.js';
import { METRICS_NAMESPACE } from './node-function.js';

/** Custom metrics the functions write (EMF, namespace `ThreeTonePipeline`, dimension `service`). */
export const CustomMetric = {
  SignatureFailures: 'SignatureFailures',
  WebhooksAccepted: 'WebhooksAccepted',
  ConversationsCompleted: 'ConversationsCompleted',
  ConversationAlerts: 'ConversationAlerts',
  ThreeToneThrottled: 'ThreeToneThrottled',
  DeadLettered: 'DeadLettered',
  /** Enrichment runs that waited because the ThreeTone API key is the placeholder or was refused. */
  ThreeToneApiKeyMissing: 'ThreeToneApiKeyMissing',
  /** The enrichment backlog after each enricher run (functions/adapters/emf-metrics.ts). */
  EnrichmentsPending: ENRICHMENT_METRICS.pending,
  OldestEnrichmentAgeSeconds: ENRICHMENT_METRICS.oldestAge,
} as const;

export interface MonitoringProps {
  /** The `service` dimension of the custom metrics (POWERTOOLS_SERVICE_NAME). */
  readonly serviceName: string;
  readonly functions: {
    readonly ingest: IFunction;
    readonly processor: IFunction;
    readonly query: IFunction;
    readonly reconciler: IFunction;
    readonly enricher: IFunction;
    readonly outboxPublisher: IFunction;
  };
  readonly queue: IQueue;
  readonly deadLetterQueue: IQueue;
  /** The outbox publisher's on-failure destination: batches of changes whose events were never published. */
  readonly streamDeadLetterQueue: IQueue;
  /** The rule that runs the reconciler: if it cannot invoke it, no reconciler error would ever show. */
  readonly reconcilerSchedule: IRule;
  /** The secret an operator must set when ThreeTone refuses the key (named in that alarm). */
  readonly apiKeySecret: ISecret;
  readonly apiStage: IHttpStage;
  /** Every alarm notifies it (the stateful stack's, with its subscriptions). */
  readonly topic: ITopic;
  readonly thresholds: {
    readonly queueAgeSeconds: number;
    readonly processorErrors: number;
    readonly api5xx: number;
    readonly signatureFailures: number;
    readonly threeToneThrottled: number;
    /** The oldest conversation waiting for enrichment ended this long ago. */
    readonly enrichmentAgeSeconds: number;
  };
}

const FIVE_MINUTES = Duration.minutes(5);
/** How late (stream record age, ms) the outbox publisher may fall before events count as late. */
const OUTBOX_LATE_MS = Duration.minutes(5).toMilliseconds();
const RUNBOOK = 'Runbook: docs/aws-deployment.md, "Alarms and what to do"';

/**
 * Alarms on everything that means lost, stuck or refused work, sent to one SNS topic (alarm and
 * recovery), and a dashboard of the pipeline's throughput, latency, outcomes and errors.
 */
export class Monitoring extends Construct {
  public readonly topic: ITopic;
  public readonly dashboard: Dashboard;
  public readonly alarms: Record<
    | 'deadLetterQueue'
    | 'queueAge'
    | 'processorErrors'
    | 'reconcilerErrors'
    | 'reconcilerNotInvoked'
    | 'api5xx'
    | 'signatureFailures'
    | 'threeToneThrottled'
    | 'threeToneApiKeyMissing'
    | 'enrichmentBacklog'
    | 'enricherErrors'
    | 'outboxPublisherErrors'
    | 'outboxLate'
    | 'streamDeadLetterQueue',
    Alarm
  >;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const { functions: fn, thresholds: t } = props;

    this.topic = props.topic;

    const custom = (metricName: string) =>
      new Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { service: props.serviceName },
        statistic: 'Sum',
        period: FIVE_MINUTES,
      });

    const alarm = (id: string, metric: IMetric, threshold: number, description: string, evaluationPeriods = 1) => {
      const a = new Alarm(this, id, {
        metric,
        threshold,
        evaluationPeriods,
        datapointsToAlarm: evaluationPeriods,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        alarmDescription: `${description} ${RUNBOOK}.`,
      });
      a.addAlarmAction(new SnsAction(this.topic));
      a.addOkAction(new SnsAction(this.topic));
      return a;
    };

    this.alarms = {
      deadLetterQueue: alarm(
        'DeadLetterQueueNotEmpty',
        props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: Duration.minutes(1) }),
        1,
        'Webhooks failed processing on every delivery and wait in the dead-letter queue.',
      ),
      queueAge: alarm(
        'QueueOldestMessageAge',
        props.queue.metricApproximateAgeOfOldestMessage({ statistic: 'Maximum', period: Duration.minutes(1) }),
        t.queueAgeSeconds,
        `The oldest queued webhook has waited ${t.queueAgeSeconds} s or more for 5 minutes: processing is stuck or too slow.`,
        5,
      ),
      processorErrors: alarm(
        'ProcessorErrors',
        fn.processor.metricErrors({ statistic: 'Sum', period: FIVE_MINUTES }),
        t.processorErrors,
        'Processor invocations failed as a whole (crash, timeout, cold-start configuration error).',
      ),
      reconcilerErrors: alarm(
        'ReconcilerErrors',
        fn.reconciler.metricErrors({ statistic: 'Sum', period: Duration.minutes(30) }),
        1,
        'A reconciler run failed; missed conversations are not being repaired.',
      ),
      reconcilerNotInvoked: alarm(
        'ReconcilerScheduleFailedInvocations',
        new Metric({
          namespace: 'AWS/Events',
          metricName: 'FailedInvocations',
          dimensionsMap: { RuleName: props.reconcilerSchedule.ruleName },
          statistic: 'Sum',
          period: Duration.minutes(30),
        }),
        1,
        'The schedule could not invoke the reconciler (permissions, throttling): it does not run, so ReconcilerErrors cannot fire.',
      ),
      api5xx: alarm(
        'Api5xx',
        props.apiStage.metricServerError({ statistic: 'Sum', period: FIVE_MINUTES }),
        t.api5xx,
        'The HTTP API answered 5xx (webhook ingest or a query route); ThreeTone retries refused webhooks.',
      ),
      signatureFailures: alarm(
        'SignatureFailureSpike',
        custom(CustomMetric.SignatureFailures),
        t.signatureFailures,
        'Many webhooks failed signature or replay-window checks: a secret mismatch after a rotation, or forged traffic.',
      ),
      threeToneThrottled: alarm(
        'ThreeToneThrottled',
        custom(CustomMetric.ThreeToneThrottled),
        t.threeToneThrottled,
        'ThreeTone answered 429 (rate limit 100 requests/minute, 1000/hour) repeatedly.',
      ),
      threeToneApiKeyMissing: alarm(
        'ThreeToneApiKeyMissing',
        custom(CustomMetric.ThreeToneApiKeyMissing),
        1,
        `The ThreeTone API key is still the placeholder, or ThreeTone refused it (401/403): put your key in the secret ${props.apiKeySecret.secretArn}. Conversations are recorded from their webhooks meanwhile; their details wait on the enrichment queue.`,
      ),
      enrichmentBacklog: alarm(
        'EnrichmentBacklogAge',
        new Metric({
          namespace: METRICS_NAMESPACE,
          metricName: CustomMetric.OldestEnrichmentAgeSeconds,
          dimensionsMap: { service: props.serviceName },
          statistic: 'Maximum',
          period: FIVE_MINUTES,
        }),
        t.enrichmentAgeSeconds,
        `The oldest conversation waiting for ThreeTone's details ended ${t.enrichmentAgeSeconds} s ago or more: the request quota (THREETONE_REQUESTS_PER_*) is too small for the traffic, or ThreeTone is failing. Webhook facts are unaffected.`,
        3,
      ),
      enricherErrors: alarm(
        'EnricherErrors',
        fn.enricher.metricErrors({ statistic: 'Sum', period: Duration.minutes(15) }),
        3,
        "Enricher runs failed; ThreeTone's details are not being fetched (the processor's short drains still try).",
      ),
      outboxPublisherErrors: alarm(
        'OutboxPublisherErrors',
        fn.outboxPublisher.metricErrors({ statistic: 'Sum', period: FIVE_MINUTES }),
        1,
        'Outbox publisher invocations failed as a whole (crash, timeout, configuration error); the stream retries the batch, so events are delayed, not lost, for 23 hours.',
      ),
      outboxLate: alarm(
        'OutboxPublisherIteratorAge',
        // IteratorAge is in milliseconds: the age of the last record of each batch when it was read.
        fn.outboxPublisher.metric('IteratorAge', { statistic: 'Maximum', period: FIVE_MINUTES }),
        OUTBOX_LATE_MS,
        'The outbox publisher reads table changes 5 minutes or more after they were committed: bus events are late (the bus refuses them, or the function fails or is throttled). A change still unpublished at 23 hours is given up (StreamDeadLetterQueueNotEmpty).',
      ),
      streamDeadLetterQueue: alarm(
        'StreamDeadLetterQueueNotEmpty',
        props.streamDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: Duration.minutes(1) }),
        1,
        "A batch of table changes could not be published for 23 hours and was given up, before the stream's 24 hours retention would trim it unseen: their bus events were never published (the changes themselves are in the table; the message names the batch's shard and sequence numbers).",
      ),
    };

    const perMinute = (metricName: string, label: string) =>
      new Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { service: props.serviceName },
        statistic: 'Sum',
        period: Duration.minutes(1),
        label,
      });
    const minute = { period: Duration.minutes(1) };

    this.dashboard = new Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(6) });
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Webhooks per minute',
        width: 8,
        left: [
          perMinute(CustomMetric.WebhooksAccepted, 'accepted'),
          perMinute(CustomMetric.SignatureFailures, 'signature or replay-window failures'),
          props.apiStage.metricCount({ ...minute, statistic: 'Sum', label: 'API requests (all routes)' }),
        ],
      }),
      new GraphWidget({
        title: 'Ingest latency (ms)',
        width: 8,
        left: [
          props.apiStage.metricLatency({ ...minute, statistic: 'p50', label: 'API p50' }),
          props.apiStage.metricLatency({ ...minute, statistic: 'p99', label: 'API p99' }),
          fn.ingest.metricDuration({ ...minute, statistic: 'p99', label: 'ingest function p99' }),
        ],
      }),
      new GraphWidget({
        title: 'Conversations completed and alerts',
        width: 8,
        left: [
          perMinute(CustomMetric.ConversationsCompleted, 'completed'),
          perMinute(CustomMetric.ConversationAlerts, 'conversation alerts'),
        ],
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Errors',
        width: 8,
        left: [
          fn.ingest.metricErrors({ ...minute, label: 'ingest' }),
          fn.processor.metricErrors({ ...minute, label: 'processor' }),
          fn.query.metricErrors({ ...minute, label: 'query' }),
          fn.reconciler.metricErrors({ ...minute, label: 'reconciler' }),
          fn.outboxPublisher.metricErrors({ ...minute, label: 'outbox publisher' }),
          props.apiStage.metricServerError({ ...minute, statistic: 'Sum', label: 'API 5xx' }),
          perMinute(CustomMetric.DeadLettered, 'dead-lettered'),
        ],
      }),
      new GraphWidget({
        title: 'Work queue',
        width: 8,
        left: [
          props.queue.metricApproximateNumberOfMessagesVisible({ ...minute, statistic: 'Maximum', label: 'waiting' }),
          props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ ...minute, statistic: 'Maximum', label: 'dead-letter queue' }),
        ],
        right: [props.queue.metricApproximateAgeOfOldestMessage({ ...minute, statistic: 'Maximum', label: 'oldest (s)' })],
      }),
      new GraphWidget({
        title: 'ThreeTone API',
        width: 8,
        left: [
          perMinute(CustomMetric.ThreeToneThrottled, '429 responses'),
          perMinute(CustomMetric.ThreeToneApiKeyMissing, 'waiting for the API key'),
        ],
        right: [fn.processor.metricDuration({ ...minute, statistic: 'p99', label: 'processor p99 (ms)' })],
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Enrichment backlog (waiting for ThreeTone)',
        width: 12,
        left: [
          new Metric({ namespace: METRICS_NAMESPACE, metricName: CustomMetric.EnrichmentsPending, dimensionsMap: { service: props.serviceName }, statistic: 'Maximum', period: Duration.minutes(1), label: 'conversations waiting' }),
        ],
        right: [
          new Metric({ namespace: METRICS_NAMESPACE, metricName: CustomMetric.OldestEnrichmentAgeSeconds, dimensionsMap: { service: props.serviceName }, statistic: 'Maximum', period: Duration.minutes(1), label: 'oldest waiting (s)' }),
        ],
      }),
      new GraphWidget({
        title: 'Events from the change stream (outbox publisher)',
        width: 12,
        left: [fn.outboxPublisher.metric('IteratorAge', { ...minute, statistic: 'Maximum', label: 'iterator age, max (ms)' })],
        right: [
          props.streamDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ ...minute, statistic: 'Maximum', label: 'stream dead-letter queue' }),
        ],
      }),
    );
    this.dashboard.addWidgets(new AlarmStatusWidget({ title: 'Alarms', width: 24, alarms: Object.values(this.alarms) }));
  }
}
