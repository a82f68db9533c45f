import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { TABLE } from '#adapters/table-schema.js';
import { EVENT_SOURCE } from '#core/bus-events.js';
import { THREETONE_API_KEY_PLACEHOLDER } from '#functions/config.js';
import { logicalId, synthPipeline } from './support.js';

const { statefulTemplate: template, statelessTemplate, stateful, stateless } = synthPipeline();
const resources = template.toJSON().Resources;
const statelessResources = statelessTemplate.toJSON().Resources;

describe('stateful stack (defaults)', () => {

  it('creates one on-demand table with the keys of table-schema.ts', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: TABLE.partitionKey, KeyType: 'HASH' },
        { AttributeName: TABLE.sortKey, KeyType: 'RANGE' },
      ],
    });
  });

  it('has both query indexes, carrying only the attributes their readers filter on', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      GlobalSecondaryIndexes: Match.arrayWith(
        [TABLE.byAgentIndex, TABLE.byTimeIndex].map((index) => ({
          IndexName: index.name,
          KeySchema: [
            { AttributeName: index.partitionKey, KeyType: 'HASH' },
            { AttributeName: index.sortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: [...index.include] },
        })),
      ),
    });
    // never whole items: an index entry carrying them is rewritten on every change of its item
    expect(JSON.stringify(template.findResources('AWS::DynamoDB::Table'))).not.toContain('"ProjectionType":"ALL"');
  });

  it('enables point-in-time recovery, encryption and TTL on expires_at', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
      TimeToLiveSpecification: { AttributeName: TABLE.ttlAttribute, Enabled: true },
    });
  });

  it('streams every change of the table with both images: the view type of table-schema.ts, which the outbox publisher reads', () => {
    expect(TABLE.stream).toBe('NEW_AND_OLD_IMAGES');
    template.hasResourceProperties('AWS::DynamoDB::Table', { StreamSpecification: { StreamViewType: TABLE.stream } });
    // The stateless stack reads it through the stream ARN this stack publishes.
    expect(stateful.table.tableStreamArn).toBeDefined();
  });

  it('keeps the table when the stack is deleted or the table replaced, and protects it from deletion', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({ DeletionProtectionEnabled: true }),
    });
  });

  it('gives the table and the bus generated names (no hard-coded physical names)', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', { TableName: Match.absent() });
    const [bus] = Object.values(template.findResources('AWS::Events::EventBus'));
    expect(bus?.Properties.Name).toMatch(/^ThreeTonePipelineStateful.*[0-9A-F]{8}$/);
  });

  it('keeps the bus (consumers\' rules) and its archive (their replays) when the stack is deleted', () => {
    for (const type of ['AWS::Events::EventBus', 'AWS::Events::Archive']) {
      const [resource] = Object.values(template.findResources(type));
      expect(resource?.DeletionPolicy).toBe('Retain');
      expect(resource?.UpdateReplacePolicy).toBe('Retain');
    }
  });

  it('archives every event of our source from the bus, for 90 days by default', () => {
    const busId = Object.keys(template.findResources('AWS::Events::EventBus'))[0]!;
    template.hasResourceProperties('AWS::Events::Archive', {
      SourceArn: { 'Fn::GetAtt': [busId, 'Arn'] },
      EventPattern: { source: [EVENT_SOURCE] },
      RetentionDays: 90,
    });
  });

  it('creates the webhook, API key and caller lookup key secrets, retained on deletion', () => {
    template.resourceCountIs('AWS::SecretsManager::Secret', 3);
    const secrets = template.findResources('AWS::SecretsManager::Secret');
    for (const secret of Object.values(secrets)) {
      expect(secret.DeletionPolicy).toBe('Retain');
      expect(secret.Properties.Name).toBeUndefined();
    }
  });

  it('gives the webhook secret a random value', () => {
    const webhook = resources[logicalId(stateful.webhookSecret)];
    expect(webhook.Properties.GenerateSecretString).toBeDefined();
    expect(webhook.Properties.SecretString).toBeUndefined();
  });

  it('gives the caller lookup key a random value (phone numbers are stored only as HMACs under it)', () => {
    const callerKey = resources[logicalId(stateful.callerKeySecret)];
    expect(callerKey.Properties.GenerateSecretString).toMatchObject({ PasswordLength: 64 });
    expect(callerKey.Properties.SecretString).toBeUndefined();
  });

  it('creates the API key secret with the placeholder the processor recognises (so messages wait, not dead-letter)', () => {
    const apiKey = resources[logicalId(stateful.apiKeySecret)];
    expect(apiKey.Properties.SecretString).toBe(THREETONE_API_KEY_PLACEHOLDER);
    expect(apiKey.Properties.GenerateSecretString).toBeUndefined();
  });

  it('outputs what the deploy guide needs', () => {
    for (const name of ['AlarmTopicArn', 'DeadLetterQueueArn', 'StreamDeadLetterQueueUrl', 'WorkQueueUrl', 'TableName', 'EventBusName', 'EventBusArn', 'EventArchiveArn', 'WebhookSecretArn', 'ApiKeySecretArn']) {
      template.hasOutput(name, {});
    }
    // Replay sends to the work queue itself (redrive's destination is the DLQ's source queue).
    template.hasOutput('WorkQueueUrl', { Value: { Ref: logicalId(stateful.queue) } });
    // What an operator reads when StreamDeadLetterQueueNotEmpty fires.
    template.hasOutput('StreamDeadLetterQueueUrl', { Value: { Ref: logicalId(stateful.streamDeadLetterQueue) } });
  });
});

describe('stream dead-letter queue (changes whose events were not published)', () => {
  const dlq = resources[logicalId(stateful.streamDeadLetterQueue)]!;

  it('is a queue of its own in the stateful stack, retained on deletion and replacement', () => {
    // It holds the only record of changes whose events never reached the bus: it must outlive a
    // redeploy or deletion of the stateless stack, like the webhook queues.
    expect(dlq.Type).toBe('AWS::SQS::Queue');
    expect(logicalId(stateful.streamDeadLetterQueue)).not.toBe(logicalId(stateful.deadLetterQueue));
    template.resourceCountIs('AWS::SQS::Queue', 3);
    statelessTemplate.resourceCountIs('AWS::SQS::Queue', 0);
    expect(dlq.DeletionPolicy).toBe('Retain');
    expect(dlq.UpdateReplacePolicy).toBe('Retain');
  });

  it('is encrypted (SQS-managed), keeps messages 14 days and has no DLQ of its own', () => {
    expect(dlq.Properties.SqsManagedSseEnabled).toBe(true);
    expect(dlq.Properties.MessageRetentionPeriod).toBe(14 * 86_400);
    expect(dlq.Properties.RedrivePolicy).toBeUndefined();
  });

  it('denies every request without TLS', () => {
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: logicalId(stateful.streamDeadLetterQueue) }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 'sqs:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });
});

describe('work queue and dead-letter queue (accepted webhooks)', () => {
  const queue = resources[logicalId(stateful.queue)]!;
  const dlq = resources[logicalId(stateful.deadLetterQueue)]!;

  it('live in the stateful stack, retained on deletion and replacement', () => {
    // A 202 promises the webhook is kept: neither queue may go with the stateless stack.
    statelessTemplate.resourceCountIs('AWS::SQS::Queue', 0);
    for (const q of [queue, dlq]) {
      expect(q.DeletionPolicy).toBe('Retain');
      expect(q.UpdateReplacePolicy).toBe('Retain');
    }
  });

  it('encrypts both queues', () => {
    expect(queue.Properties.SqsManagedSseEnabled).toBe(true);
    expect(dlq.Properties.SqsManagedSseEnabled).toBe(true);
  });

  it('denies every request to either queue without TLS', () => {
    for (const q of [stateful.queue, stateful.deadLetterQueue]) {
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: logicalId(q) }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Action: 'sqs:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    }
  });

  it('sends a message to the DLQ after maxReceiveCount deliveries, the same count the processor is told', () => {
    expect(queue.Properties.RedrivePolicy).toEqual({
      deadLetterTargetArn: { 'Fn::GetAtt': [logicalId(stateful.deadLetterQueue), 'Arn'] },
      maxReceiveCount: 5,
    });
    const processor = statelessResources[logicalId(stateless.processing.processor.function)];
    expect(processor.Properties.Environment.Variables.MAX_RECEIVE_COUNT).toBe('5');
  });

  it('sets the visibility timeout to 6 times the processor timeout', () => {
    const processor = statelessResources[logicalId(stateless.processing.processor.function)];
    expect(queue.Properties.VisibilityTimeout).toBe(6 * processor.Properties.Timeout);
    // a 256 KiB webhook plus attributes (or its base64 fallback) must fit: SQS's 1 MiB maximum
    expect(queue.Properties.MaximumMessageSize).toBe(1_048_576);
  });

  it('keeps messages 14 days in both queues', () => {
    expect(queue.Properties.MessageRetentionPeriod).toBe(14 * 86_400);
    expect(dlq.Properties.MessageRetentionPeriod).toBe(14 * 86_400);
  });
});

describe('stateful stack (configured)', () => {
  const webhookSecretArn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:threetone/webhook-AbC123';
  const apiKeySecretArn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:threetone/api-key-XyZ789';
  const { statefulTemplate, statelessTemplate, stateless } = synthPipeline({
    context: { webhookSecretArn, apiKeySecretArn, eventArchiveRetentionDays: '0' },
  });

  it('imports secrets given by ARN instead of creating them (the caller lookup key is always its own)', () => {
    statefulTemplate.resourceCountIs('AWS::SecretsManager::Secret', 1);
    statefulTemplate.hasOutput('WebhookSecretArn', { Value: webhookSecretArn });
  });

  it('passes imported ARNs to the functions and grants exactly those secrets', () => {
    const ingest = statelessTemplate.toJSON().Resources[logicalId(stateless.ingest.handler.function)];
    expect(ingest.Properties.Environment.Variables.WEBHOOK_SECRET_ARN).toBe(webhookSecretArn);
    statelessTemplate.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          { Action: 'secretsmanager:GetSecretValue', Effect: 'Allow', Resource: apiKeySecretArn },
        ]),
      },
    });
  });

  it('keeps archived events forever when the retention is 0', () => {
    // CloudFormation: RetentionDays 0 (or absent) keeps events indefinitely.
    const [archive] = Object.values(statefulTemplate.findResources('AWS::Events::Archive'));
    expect(archive?.Properties.RetentionDays ?? 0).toBe(0);
  });
});
