import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { CustomMetric } from '#lib/constructs/monitoring.js';
import { PROJECT_ROOT } from '#lib/stateless-stack.js';
import { logicalId, synthPipeline } from './support.js';

const { statelessTemplate: template, statefulTemplate, stateless, stateful, config } = synthPipeline();
const topic = { Ref: logicalId(stateful.alarmTopic) };
/** The alarm actions name the stateful stack's topic (a cross-stack reference). */
const isTopic = (actions: unknown) => JSON.stringify(actions).includes(logicalId(stateful.alarmTopic)) && (actions as unknown[]).length === 1;
const alarms = stateless.monitoring.alarms;
const alarmProps = (alarm: keyof typeof alarms) => template.toJSON().Resources[logicalId(alarms[alarm])].Properties;

describe('alarms', () => {
  it('notifies the topic on alarm and on recovery, for every alarm', () => {
    const all = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    expect(all).toHaveLength(14);
    for (const a of all) {
      expect(isTopic(a.Properties.AlarmActions)).toBe(true);
      expect(isTopic(a.Properties.OKActions)).toBe(true);
      expect(JSON.stringify(a.Properties.AlarmDescription)).toContain('docs/aws-deployment.md');
    }
  });

  it('fires as soon as one message is in the dead-letter queue', () => {
    expect(alarmProps('deadLetterQueue')).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 1,
    });
  });

  it('watches the dead-letter queue of the stateful stack', () => {
    expect(JSON.stringify(alarmProps('deadLetterQueue').Dimensions)).toContain(logicalId(stateful.deadLetterQueue));
  });

  it('fires when the oldest queued message is older than its normal retry schedule allows', () => {
    expect(alarmProps('queueAge')).toMatchObject({ MetricName: 'ApproximateAgeOfOldestMessage' });
    expect(JSON.stringify(alarmProps('queueAge').Dimensions)).toContain(logicalId(stateful.queue));
    // Normal retries: maxReceiveCount (5) deliveries, each hidden for the visibility timeout
    // (6 x the 130 s processor timeout); the alarm sits the configured margin (300 s) above that.
    const visibility = stateful.queue.node.defaultChild as unknown as { visibilityTimeout: number };
    expect(visibility.visibilityTimeout).toBe(780);
    expect(alarmProps('queueAge').Threshold).toBe(5 * 780 + 300);
    expect(config.alarms.queueAgeSeconds).toBe(5 * 780 + 300);
  });

  it("fires when the oldest conversation waiting for ThreeTone's details is too old (back-pressure), from the enricher's metric", () => {
    expect(alarmProps('enrichmentBacklog')).toMatchObject({
      Namespace: 'ThreeTonePipeline',
      MetricName: 'OldestEnrichmentAgeSeconds',
      Statistic: 'Maximum',
      Threshold: 120 * 60,
      Dimensions: [{ Name: 'service', Value: config.functions.serviceName }],
    });
    expect(config.alarms.enrichmentAgeSeconds).toBe(7200);
    expect(alarmProps('enricherErrors')).toMatchObject({
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalId(stateless.enrichment.handler.function) } }],
    });
  });

  it('fires on processor and reconciler errors', () => {
    expect(alarmProps('processorErrors')).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalId(stateless.processing.processor.function) } }],
      Threshold: 1,
    });
    expect(alarmProps('reconcilerErrors')).toMatchObject({
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalId(stateless.reconciler.handler.function) } }],
    });
  });

  it("fires when the outbox publisher reads changes 5 minutes or more after their commit (IteratorAge, in ms): events are late", () => {
    expect(alarmProps('outboxLate')).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'IteratorAge',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalId(stateless.outboxPublisher.handler.function) } }],
      Statistic: 'Maximum',
      Threshold: 5 * 60 * 1000,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  it('fires as soon as one batch of changes is in the stream dead-letter queue (events never published)', () => {
    expect(alarmProps('streamDeadLetterQueue')).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Statistic: 'Maximum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 1,
    });
    const dimensions = JSON.stringify(alarmProps('streamDeadLetterQueue').Dimensions);
    expect(dimensions).toContain(logicalId(stateful.streamDeadLetterQueue));
    expect(dimensions).not.toContain(logicalId(stateful.deadLetterQueue));
    expect(JSON.stringify(alarmProps('streamDeadLetterQueue').AlarmDescription)).toContain('24 hours');
  });

  it('fires on outbox publisher errors', () => {
    expect(alarmProps('outboxPublisherErrors')).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalId(stateless.outboxPublisher.handler.function) } }],
      Statistic: 'Sum',
      Threshold: 1,
    });
  });

  it('fires on 5xx answers of the HTTP API', () => {
    expect(alarmProps('api5xx')).toMatchObject({
      Namespace: 'AWS/ApiGateway',
      MetricName: '5xx',
      Dimensions: [
        { Name: 'ApiId', Value: { Ref: logicalId(stateless.api.api) } },
        { Name: 'Stage', Value: '$default' },
      ],
      Statistic: 'Sum',
      Threshold: 1,
    });
  });

  it('fires on a spike of signature failures and on repeated ThreeTone 429s (custom metrics)', () => {
    const dims = [{ Name: 'service', Value: 'threetone-pipeline' }];
    expect(alarmProps('signatureFailures')).toMatchObject({
      Namespace: 'ThreeTonePipeline',
      MetricName: CustomMetric.SignatureFailures,
      Dimensions: dims,
      Statistic: 'Sum',
      Period: 300,
      Threshold: 20,
    });
    expect(alarmProps('threeToneThrottled')).toMatchObject({
      Namespace: 'ThreeTonePipeline',
      MetricName: CustomMetric.ThreeToneThrottled,
      Dimensions: dims,
      Threshold: 10,
    });
  });

  it('has a runbook row for every alarm (the descriptions point to it)', () => {
    const runbook = readFileSync(join(PROJECT_ROOT, 'docs', 'aws-deployment.md'), 'utf8');
    for (const a of Object.values(alarms)) expect(runbook).toContain(`| **${a.node.id}** |`);
  });

  it('treats missing data as not breaching (idle is healthy)', () => {
    for (const a of Object.values(template.findResources('AWS::CloudWatch::Alarm'))) {
      expect(a.Properties.TreatMissingData).toBe('notBreaching');
    }
  });

  it('fires when the schedule cannot invoke the reconciler (which ReconcilerErrors could never see)', () => {
    expect(alarmProps('reconcilerNotInvoked')).toMatchObject({
      Namespace: 'AWS/Events',
      MetricName: 'FailedInvocations',
      Dimensions: [{ Name: 'RuleName', Value: { Ref: logicalId(stateless.reconciler.schedule) } }],
      Threshold: 1,
    });
  });

  it('has no e-mail subscription unless an address is configured', () => {
    statefulTemplate.resourceCountIs('AWS::SNS::Subscription', 0);
  });

  it('keeps the topic (and its confirmed subscriptions) in the stateful stack, not with the alarms', () => {
    template.resourceCountIs('AWS::SNS::Topic', 0);
    statefulTemplate.resourceCountIs('AWS::SNS::Topic', 1);
  });

  it('lets CloudWatch publish to the topic, for this account\'s alarms only', () => {
    // enforceSSL's topic policy replaces SNS's default one: without this Allow no alarm is delivered.
    const [policy] = Object.values(statefulTemplate.findResources('AWS::SNS::TopicPolicy'));
    expect(policy!.Properties.Topics).toEqual([topic]);
    const allows = policy!.Properties.PolicyDocument.Statement.filter((s: { Effect: string }) => s.Effect === 'Allow');
    expect(allows).toEqual([
      {
        Sid: 'AllowCloudWatchAlarmsOfThisAccount',
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: 'sns:Publish',
        Resource: topic,
        Condition: {
          StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
          ArnLike: {
            'aws:SourceArn': {
              'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':cloudwatch:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':alarm:*']],
            },
          },
        },
      },
    ]);
  });

  it('alarms when the ThreeTone API key is missing, naming the secret to set', () => {
    expect(alarmProps('threeToneApiKeyMissing')).toMatchObject({
      Namespace: 'ThreeTonePipeline',
      MetricName: CustomMetric.ThreeToneApiKeyMissing,
      Threshold: 1,
    });
    expect(JSON.stringify(alarmProps('threeToneApiKeyMissing').AlarmDescription)).toContain(logicalId(stateful.apiKeySecret));
  });

  it('accepts only TLS publishers on the topic', () => {
    statefulTemplate.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });
});

describe('alarms (configured)', () => {
  const { statelessTemplate: t, statefulTemplate: st } = synthPipeline({
    context: { alarmEmail: 'oncall@example.com', alarmSignatureFailures: '5', alarmQueueAgeMarginSeconds: 600, maxReceiveCount: 3 },
  });

  it('subscribes the e-mail address to the topic', () => {
    st.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com' });
  });

  it('uses the configured thresholds', () => {
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: CustomMetric.SignatureFailures, Threshold: 5 });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateAgeOfOldestMessage', Threshold: 3 * 780 + 600 });
  });
});

describe('dashboard', () => {
  const body = JSON.stringify(Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0]?.Properties.DashboardBody);

  it('shows ingest rate and latency, conversations completed, alerts and errors', () => {
    for (const metric of Object.values(CustomMetric)) expect(body).toContain(`\\"${metric}\\"`);
    for (const metric of ['Latency', 'Duration', 'Errors', '5xx', 'ApproximateAgeOfOldestMessage']) {
      expect(body).toContain(`\\"${metric}\\"`);
    }
  });

  it("shows the outbox publisher's lag and errors and the stream dead-letter queue", () => {
    expect(body).toContain('\\"IteratorAge\\"');
    expect(body).toContain(logicalId(stateless.outboxPublisher.handler.function));
    expect(body).toContain(logicalId(stateful.streamDeadLetterQueue));
  });

  it('shows the state of every alarm', () => {
    for (const alarm of Object.values(alarms)) expect(body).toContain(logicalId(alarm));
  });
});
