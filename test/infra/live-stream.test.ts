/** The live stream on AWS: AppSync Events fed by an EventBridge rule on the pipeline's bus. */
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { actionsOf, logicalId, resourcesFor, statementsOfRole, synthPipeline } from './support.js';

const { statelessTemplate: template, stateless, stateful } = synthPipeline();
const resources = template.toJSON().Resources as Record<string, { Type: string; Properties: any }>;
const live = stateless.live;
const apiId = logicalId(live.api);
const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);

describe('AppSync Events API', () => {
  it('lets subscribers connect and subscribe with the API key or SigV4, and only IAM publish', () => {
    const config = resources[apiId]!.Properties.EventConfig;
    expect(config.ConnectionAuthModes).toEqual([{ AuthType: 'API_KEY' }, { AuthType: 'AWS_IAM' }]);
    expect(config.DefaultSubscribeAuthModes).toEqual([{ AuthType: 'API_KEY' }, { AuthType: 'AWS_IAM' }]);
    expect(config.DefaultPublishAuthModes).toEqual([{ AuthType: 'AWS_IAM' }]);
  });

  it('has the one channel namespace `live`, with no handler code', () => {
    const namespaces = ofType('AWS::AppSync::ChannelNamespace');
    expect(namespaces).toHaveLength(1);
    expect(namespaces[0]![1].Properties).toMatchObject({ Name: 'live', ApiId: { 'Fn::GetAtt': [apiId, 'ApiId'] } });
    expect(namespaces[0]![1].Properties.CodeHandlers).toBeUndefined();
  });

  it('has one API key, expiring within 365 days of the deploy', () => {
    const keys = ofType('AWS::AppSync::ApiKey');
    expect(keys).toHaveLength(1);
    const expires = keys[0]![1].Properties.Expires as number;
    const now = Date.now() / 1000;
    expect(expires).toBeGreaterThan(now + 364 * 86_400);
    expect(expires).toBeLessThanOrEqual(now + 365 * 86_400);
  });

  it('logs errors only, through its own role, to its own log group with bounded retention', () => {
    const logConfig = resources[apiId]!.Properties.EventConfig.LogConfig;
    expect(logConfig.LogLevel).toBe('ERROR');
    const roleId = (logConfig.CloudWatchLogsRoleArn['Fn::GetAtt'] as string[])[0]!;
    const statements = statementsOfRole(template, roleId);
    expect(actionsOf(statements)).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents']);
    expect(resourcesFor(statements, 'logs:PutLogEvents')).toEqual([JSON.stringify({ 'Fn::GetAtt': [logicalId(live.logGroup), 'Arn'] })]);
    expect(resources[logicalId(live.logGroup)]!.Properties).toEqual({
      LogGroupName: { 'Fn::Join': ['', ['/aws/appsync/apis/', { 'Fn::GetAtt': [apiId, 'ApiId'] }]] },
      RetentionInDays: 30,
    });
    expect(ofType('Custom::LogRetention')).toEqual([]);
  });
});

describe('publisher function', () => {
  const statements = statementsOfRole(template, logicalId(live.publisher.role));

  it('may publish to the `live` namespace of this API and nothing else (no wildcard)', () => {
    expect(actionsOf(statements)).toEqual(['appsync:EventPublish', 'logs:CreateLogStream', 'logs:PutLogEvents']);
    const [resource, ...others] = resourcesFor(statements, 'appsync:EventPublish');
    expect(others).toEqual([]);
    expect(resource).toContain(':appsync:');
    expect(resource).toContain(JSON.stringify({ 'Fn::GetAtt': [apiId, 'ApiId'] }));
    expect(resource).toMatch(/\/channelNamespace\/live"\]\]\}$/);
    for (const s of statements) expect(JSON.stringify(s.Resource)).not.toContain('*');
  });

  it('is told the HTTP domain it publishes to', () => {
    const env = resources[logicalId(live.publisher.function)]!.Properties.Environment.Variables;
    expect(env.LIVE_EVENTS_HTTP_DOMAIN).toEqual({ 'Fn::GetAtt': [apiId, 'Dns.Http'] });
  });

  it('drops an event it could not publish within 5 minutes (stale), after 2 retries', () => {
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: logicalId(live.publisher.function) },
      MaximumEventAgeInSeconds: 300,
      MaximumRetryAttempts: 2,
    });
  });
});

describe('EventBridge rule', () => {
  it('sends every pipeline event on the pipeline bus to the publisher', () => {
    const rule = resources[logicalId(live.rule)]!.Properties;
    expect(rule.EventPattern).toEqual({ source: ['threetone.conversations'] });
    expect(JSON.stringify(rule.EventBusName)).toContain(logicalId(stateful.bus));
    expect(rule.Targets).toEqual([
      expect.objectContaining({
        Arn: { 'Fn::GetAtt': [logicalId(live.publisher.function), 'Arn'] },
        RetryPolicy: { MaximumEventAgeInSeconds: 300, MaximumRetryAttempts: 3 },
      }),
    ]);
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Principal: 'events.amazonaws.com',
      SourceArn: { 'Fn::GetAtt': [logicalId(live.rule), 'Arn'] },
    });
  });
});

describe('outputs and CORS', () => {
  it('outputs the WebSocket URL and the API id', () => {
    expect(template.toJSON().Outputs.LiveRealtimeUrl.Value).toEqual({
      'Fn::Join': ['', ['wss://', { 'Fn::GetAtt': [apiId, 'Dns.Realtime'] }, '/event/realtime']],
    });
    expect(template.toJSON().Outputs.LiveApiId.Value).toEqual({ 'Fn::GetAtt': [apiId, 'ApiId'] });
  });

  it('has no CORS on the query API unless origins are configured', () => {
    const api = ofType('AWS::ApiGatewayV2::Api')[0]![1].Properties;
    expect(api.CorsConfiguration).toBeUndefined();
  });

  it('allows the configured origins to GET the query routes with SigV4 headers', () => {
    const { statelessTemplate } = synthPipeline({ context: { liveAllowedOrigins: 'https://ops.example.com,https://wall.example.com' } });
    statelessTemplate.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      CorsConfiguration: {
        AllowOrigins: ['https://ops.example.com', 'https://wall.example.com'],
        AllowMethods: ['GET'],
        AllowHeaders: Match.arrayWith(['authorization', 'x-amz-date', 'x-amz-security-token', 'x-amz-content-sha256']),
        MaxAge: 3600,
      },
    });
  });
});
