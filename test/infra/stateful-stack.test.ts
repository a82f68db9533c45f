import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { TABLE } from '#adapters/table-schema.js';
import { EVENT_SOURCE } from '#core/bus-events.js';
import { logicalId, synthPipeline } from './support.js';

describe('stateful stack (defaults)', () => {
  const { statefulTemplate: template } = synthPipeline();

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

  it('has both query indexes, projecting all attributes', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      GlobalSecondaryIndexes: Match.arrayWith(
        [TABLE.byAgentIndex, TABLE.byTimeIndex].map((index) => ({
          IndexName: index.name,
          KeySchema: [
            { AttributeName: index.partitionKey, KeyType: 'HASH' },
            { AttributeName: index.sortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        })),
      ),
    });
  });

  it('enables point-in-time recovery, encryption and TTL on expires_at', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
      TimeToLiveSpecification: { AttributeName: TABLE.ttlAttribute, Enabled: true },
    });
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

  it('archives every event of our source from the bus, for 90 days by default', () => {
    const busId = Object.keys(template.findResources('AWS::Events::EventBus'))[0]!;
    template.hasResourceProperties('AWS::Events::Archive', {
      SourceArn: { 'Fn::GetAtt': [busId, 'Arn'] },
      EventPattern: { source: [EVENT_SOURCE] },
      RetentionDays: 90,
    });
  });

  it('creates the webhook and API key secrets with random values, retained on deletion', () => {
    template.resourceCountIs('AWS::SecretsManager::Secret', 2);
    const secrets = template.findResources('AWS::SecretsManager::Secret');
    for (const secret of Object.values(secrets)) {
      expect(secret.DeletionPolicy).toBe('Retain');
      expect(secret.Properties.GenerateSecretString).toBeDefined();
      expect(secret.Properties.SecretString).toBeUndefined();
      expect(secret.Properties.Name).toBeUndefined();
    }
  });

  it('outputs what the deploy guide needs', () => {
    for (const name of ['TableName', 'EventBusName', 'EventBusArn', 'EventArchiveArn', 'WebhookSecretArn', 'ApiKeySecretArn']) {
      template.hasOutput(name, {});
    }
  });
});

describe('stateful stack (configured)', () => {
  const webhookSecretArn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:threetone/webhook-AbC123';
  const apiKeySecretArn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:threetone/api-key-XyZ789';
  const { statefulTemplate, statelessTemplate, stateless } = synthPipeline({
    context: { webhookSecretArn, apiKeySecretArn, eventArchiveRetentionDays: '0' },
  });

  it('imports secrets given by ARN instead of creating them', () => {
    statefulTemplate.resourceCountIs('AWS::SecretsManager::Secret', 0);
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
