import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { CustomMetric } from '#lib/constructs/monitoring.js';
import { logicalId, synthPipeline } from './support.js';

const { statelessTemplate: template, stateless } = synthPipeline();
const topic = { Ref: logicalId(stateless.monitoring.topic) };
const alarms = stateless.monitoring.alarms;
const alarmProps = (alarm: keyof typeof alarms) => template.toJSON().Resources[logicalId(alarms[alarm])].Properties;

describe('alarms', () => {
  it('notifies the topic on alarm and on recovery, for every alarm', () => {
    const all = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    expect(all).toHaveLength(7);
    for (const a of all) {
      expect(a.Properties.AlarmActions).toEqual([topic]);
      expect(a.Properties.OKActions).toEqual([topic]);
      expect(a.Properties.AlarmDescription).toContain('docs/aws-deployment.md');
    }
  });

  it('fires as soon as one message is in the dead-letter queue', () => {
    expect(alarmProps('deadLetterQueue')).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(stateless.processing.deadLetterQueue), 'QueueName'] } }],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 1,
    });
  });

  it('fires when the oldest queued message is too old', () => {
    expect(alarmProps('queueAge')).toMatchObject({
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(stateless.processing.queue), 'QueueName'] } }],
      Threshold: 900,
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

  it('treats missing data as not breaching (idle is healthy)', () => {
    for (const a of Object.values(template.findResources('AWS::CloudWatch::Alarm'))) {
      expect(a.Properties.TreatMissingData).toBe('notBreaching');
    }
  });

  it('has no e-mail subscription unless an address is configured', () => {
    template.resourceCountIs('AWS::SNS::Subscription', 0);
  });

  it('accepts only TLS publishers on the topic', () => {
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });
});

describe('alarms (configured)', () => {
  const { statelessTemplate: t } = synthPipeline({
    context: { alarmEmail: 'oncall@example.com', alarmSignatureFailures: '5', alarmQueueAgeSeconds: 300 },
  });

  it('subscribes the e-mail address to the topic', () => {
    t.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com' });
  });

  it('uses the configured thresholds', () => {
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: CustomMetric.SignatureFailures, Threshold: 5 });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateAgeOfOldestMessage', Threshold: 300 });
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

  it('shows the state of every alarm', () => {
    for (const alarm of Object.values(alarms)) expect(body).toContain(logicalId(alarm));
  });
});
