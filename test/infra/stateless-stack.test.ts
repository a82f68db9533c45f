import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { QUERY_PATHS, WEBHOOK_PATH } from '#lib/constructs/pipeline-api.js';
import { actionsOf, logicalId, resourcesFor, statementsOfRole, synthPipeline } from './support.js';

const { statelessTemplate: template, stateless, stateful, config } = synthPipeline();
const resources = template.toJSON().Resources as Record<string, { Type: string; Properties: any; DependsOn?: string[] }>;

const functions = {
  ingest: stateless.ingest.handler,
  processor: stateless.processing.processor,
  query: stateless.query.handler,
  reconciler: stateless.reconciler.handler,
  livePublisher: stateless.live.publisher,
};
type Name = keyof typeof functions;
const fnProps = (name: Name) => resources[logicalId(functions[name].function)]!.Properties;
const envOf = (name: Name) => fnProps(name).Environment.Variables as Record<string, unknown>;
const statementsOf = (name: Name) => statementsOfRole(template, logicalId(functions[name].role));

/** The stateful resource a cross-stack value comes from appears in its reference. */
const refersTo = (json: string, construct: Parameters<typeof logicalId>[0]) => json.includes(logicalId(construct));

const COMMON_ENV = [
  'NODE_OPTIONS',
  'POWERTOOLS_LOGGER_LOG_EVENT',
  'POWERTOOLS_LOG_LEVEL',
  'POWERTOOLS_METRICS_NAMESPACE',
  'POWERTOOLS_SERVICE_NAME',
];

describe('function defaults (one construct for all)', () => {
  it.each(Object.keys(functions) as Name[])('%s: latest Node runtime, arm64, ESM handler, own log group', (name) => {
    const props = fnProps(name);
    expect(props.Runtime).toBe('nodejs24.x');
    expect(props.Architectures).toEqual(['arm64']);
    expect(props.Handler).toBe('index.handler');
    expect(props.LoggingConfig.LogGroup).toEqual({ Ref: logicalId(functions[name].logGroup) });
    expect(props.FunctionName).toBeUndefined();
  });

  it.each(Object.keys(functions) as Name[])('%s: Powertools settings, source maps, no event logging', (name) => {
    expect(envOf(name)).toMatchObject({
      POWERTOOLS_SERVICE_NAME: 'threetone-pipeline',
      POWERTOOLS_LOG_LEVEL: 'INFO',
      POWERTOOLS_METRICS_NAMESPACE: 'ThreeTonePipeline',
      POWERTOOLS_LOGGER_LOG_EVENT: 'false',
      NODE_OPTIONS: '--enable-source-maps',
    });
  });

  it('gives every log group a bounded retention', () => {
    const groups = Object.values(resources).filter((r) => r.Type === 'AWS::Logs::LogGroup');
    expect(groups).toHaveLength(7); // five functions + API access logs + the live Event API's logs
    for (const g of groups) expect(g.Properties.RetentionInDays).toBe(30);
  });

  it('uses no AWS-managed policy on any role', () => {
    for (const role of Object.values(resources).filter((r) => r.Type === 'AWS::IAM::Role')) {
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    }
  });
});

describe('environment variables: exactly what each function reads', () => {
  it('ingest', () => {
    const env = envOf('ingest');
    expect(Object.keys(env).sort()).toEqual(
      [...COMMON_ENV, 'QUEUE_URL', 'REPLAY_WINDOW_SECONDS', 'WEBHOOK_SECRET_ARN', 'WEBHOOK_SIGNATURE_HEADER', 'WEBHOOK_SIGNATURE_PREFIX'].sort(),
    );
    expect(env).toMatchObject({
      QUEUE_URL: { Ref: logicalId(stateless.processing.queue) },
      WEBHOOK_SIGNATURE_HEADER: 'x-threetone-signature',
      WEBHOOK_SIGNATURE_PREFIX: 'sha256=',
      REPLAY_WINDOW_SECONDS: '86400',
    });
    expect(refersTo(JSON.stringify(env.WEBHOOK_SECRET_ARN), stateful.webhookSecret)).toBe(true);
  });

  it('processor', () => {
    const env = envOf('processor');
    expect(Object.keys(env).sort()).toEqual(
      [
        ...COMMON_ENV,
        'TABLE_NAME',
        'EVENT_BUS_NAME',
        'THREETONE_API_URL',
        'THREETONE_API_KEY_SECRET_ARN',
        'THREETONE_TIMEOUT_MS',
        'THREETONE_MAX_RETRIES',
        'ALERT_LONG_DURATION_SECONDS',
        'ALERT_LOW_SATISFACTION',
        'MAX_RECEIVE_COUNT',
        'RAW_EVENT_RETENTION_DAYS',
        'TRANSCRIPT_RETENTION_DAYS',
        'RECORD_RETENTION_DAYS',
        'REDACT_PERSONAL_DATA',
      ].sort(),
    );
    expect(env).toMatchObject({
      THREETONE_API_URL: 'https://api.threetone.in',
      THREETONE_TIMEOUT_MS: '5000',
      THREETONE_MAX_RETRIES: '3',
      ALERT_LONG_DURATION_SECONDS: '600',
      ALERT_LOW_SATISFACTION: '2.5',
      MAX_RECEIVE_COUNT: '5',
      RAW_EVENT_RETENTION_DAYS: '30',
      TRANSCRIPT_RETENTION_DAYS: '0',
      RECORD_RETENTION_DAYS: '0',
      REDACT_PERSONAL_DATA: 'true',
    });
    expect(refersTo(JSON.stringify(env.TABLE_NAME), stateful.table)).toBe(true);
    expect(refersTo(JSON.stringify(env.EVENT_BUS_NAME), stateful.bus)).toBe(true);
    expect(refersTo(JSON.stringify(env.THREETONE_API_KEY_SECRET_ARN), stateful.apiKeySecret)).toBe(true);
  });

  it('query', () => {
    const env = envOf('query');
    expect(Object.keys(env).sort()).toEqual([...COMMON_ENV, 'TABLE_NAME'].sort());
    expect(refersTo(JSON.stringify(env.TABLE_NAME), stateful.table)).toBe(true);
  });

  it('reconciler', () => {
    const env = envOf('reconciler');
    expect(Object.keys(env).sort()).toEqual(
      [
        ...COMMON_ENV,
        'TABLE_NAME',
        'EVENT_BUS_NAME',
        'QUEUE_URL',
        'THREETONE_API_URL',
        'THREETONE_API_KEY_SECRET_ARN',
        'THREETONE_TIMEOUT_MS',
        'THREETONE_MAX_RETRIES',
        'RECONCILE_LOOKBACK_HOURS',
        'OUTBOX_GRACE_SECONDS',
      ].sort(),
    );
    expect(env).toMatchObject({ RECONCILE_LOOKBACK_HOURS: '6', OUTBOX_GRACE_SECONDS: '300' });
  });

  it('never puts a secret value in the environment', () => {
    for (const name of Object.keys(functions) as Name[]) {
      const env = envOf(name);
      expect(Object.keys(env).filter((k) => /SECRET|API_KEY/.test(k) && !k.endsWith('_ARN'))).toEqual([]);
    }
  });
});

describe('IAM: each function may do exactly what its code does', () => {
  const LOGS = ['logs:CreateLogStream', 'logs:PutLogEvents'];

  it('ingest: send to the queue, read the webhook secret', () => {
    const statements = statementsOf('ingest');
    expect(actionsOf(statements)).toEqual([...LOGS, 'secretsmanager:GetSecretValue', 'sqs:SendMessage'].sort());
    expect(resourcesFor(statements, 'sqs:SendMessage')).toEqual([
      JSON.stringify({ 'Fn::GetAtt': [logicalId(stateless.processing.queue), 'Arn'] }),
    ]);
    const [secret] = resourcesFor(statements, 'secretsmanager:GetSecretValue');
    expect(refersTo(secret!, stateful.webhookSecret)).toBe(true);
  });

  it('processor: read/write items, query the indexes, publish, read the API key, consume the queue', () => {
    const statements = statementsOf('processor');
    expect(actionsOf(statements)).toEqual(
      [
        ...LOGS,
        'dynamodb:DeleteItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:Query',
        'dynamodb:UpdateItem',
        'events:PutEvents',
        'secretsmanager:GetSecretValue',
        // From the SQS event source: exactly what polling needs.
        'sqs:ChangeMessageVisibility',
        'sqs:DeleteMessage',
        'sqs:GetQueueAttributes',
        'sqs:GetQueueUrl',
        'sqs:ReceiveMessage',
      ].sort(),
    );
    const queries = resourcesFor(statements, 'dynamodb:Query');
    expect(queries).toHaveLength(3);
    expect(queries.filter((r) => r.includes('/index/by-agent'))).toHaveLength(1);
    expect(queries.filter((r) => r.includes('/index/by-time'))).toHaveLength(1);
    for (const r of resourcesFor(statements, 'dynamodb:PutItem')) expect(r).not.toContain('/index/');
    expect(resourcesFor(statements, 'sqs:ReceiveMessage')).toEqual([
      JSON.stringify({ 'Fn::GetAtt': [logicalId(stateless.processing.queue), 'Arn'] }),
    ]);
    expect(refersTo(resourcesFor(statements, 'secretsmanager:GetSecretValue')[0]!, stateful.apiKeySecret)).toBe(true);
    expect(refersTo(resourcesFor(statements, 'events:PutEvents')[0]!, stateful.bus)).toBe(true);
  });

  it('query: read-only (GetItem, Query) on the table and its indexes', () => {
    const statements = statementsOf('query');
    expect(actionsOf(statements)).toEqual([...LOGS, 'dynamodb:GetItem', 'dynamodb:Query'].sort());
    expect(resourcesFor(statements, 'dynamodb:Query')).toHaveLength(3);
  });

  it('reconciler: query, get and delete items, publish, queue repairs, read the API key', () => {
    const statements = statementsOf('reconciler');
    expect(actionsOf(statements)).toEqual(
      [
        ...LOGS,
        'dynamodb:DeleteItem',
        'dynamodb:GetItem',
        'dynamodb:Query',
        'events:PutEvents',
        'secretsmanager:GetSecretValue',
        'sqs:SendMessage',
      ].sort(),
    );
  });

  it('grants no wildcard action or resource anywhere', () => {
    for (const name of Object.keys(functions) as Name[]) {
      for (const s of statementsOf(name)) {
        expect(s.Effect).toBe('Allow');
        for (const action of [s.Action].flat()) expect(action).not.toContain('*');
        expect(JSON.stringify(s.Resource)).not.toContain('*');
      }
    }
  });

  it('lets each function write only to its own log group', () => {
    for (const name of Object.keys(functions) as Name[]) {
      expect(resourcesFor(statementsOf(name), 'logs:PutLogEvents')).toEqual([
        JSON.stringify({ 'Fn::GetAtt': [logicalId(functions[name].logGroup), 'Arn'] }),
      ]);
    }
  });
});

describe('work queue and dead-letter queue', () => {
  const queue = resources[logicalId(stateless.processing.queue)]!.Properties;
  const dlq = resources[logicalId(stateless.processing.deadLetterQueue)]!.Properties;

  it('encrypts both queues', () => {
    expect(queue.SqsManagedSseEnabled).toBe(true);
    expect(dlq.SqsManagedSseEnabled).toBe(true);
  });

  it('denies every request to either queue without TLS', () => {
    for (const q of [stateless.processing.queue, stateless.processing.deadLetterQueue]) {
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: logicalId(q) }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Action: 'sqs:*',
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        },
      });
    }
  });

  it('sends a message to the DLQ after maxReceiveCount deliveries, the same count the processor is told', () => {
    expect(queue.RedrivePolicy).toEqual({
      deadLetterTargetArn: { 'Fn::GetAtt': [logicalId(stateless.processing.deadLetterQueue), 'Arn'] },
      maxReceiveCount: 5,
    });
    expect(envOf('processor').MAX_RECEIVE_COUNT).toBe(String(queue.RedrivePolicy.maxReceiveCount));
  });

  it('sets the visibility timeout to at least 6 times the processor timeout', () => {
    expect(fnProps('processor').Timeout).toBe(120);
    expect(queue.VisibilityTimeout).toBeGreaterThanOrEqual(6 * fnProps('processor').Timeout);
    // a 256 KiB webhook plus attributes (or its base64 fallback) must fit: SQS's 1 MiB maximum
    expect(queue.MaximumMessageSize).toBe(1_048_576);
  });

  it('keeps messages 14 days in both queues', () => {
    expect(queue.MessageRetentionPeriod).toBe(14 * 86_400);
    expect(dlq.MessageRetentionPeriod).toBe(14 * 86_400);
  });
});

describe('processor event source', () => {
  it('reports partial batch failures, with batch size 10 and concurrency bounded to 2', () => {
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [logicalId(stateless.processing.queue), 'Arn'] },
      FunctionName: { Ref: logicalId(functions.processor.function) },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: 10,
      ScalingConfig: { MaximumConcurrency: 2 },
    });
  });
});

describe('HTTP API', () => {
  const routes = Object.values(resources).filter((r) => r.Type === 'AWS::ApiGatewayV2::Route');
  const stage = Object.values(resources).find((r) => r.Type === 'AWS::ApiGatewayV2::Stage')!;

  it('has the webhook route and the four query routes, nothing else', () => {
    expect(routes.map((r) => r.Properties.RouteKey).sort()).toEqual(
      [`POST ${WEBHOOK_PATH}`, ...QUERY_PATHS.map((p) => `GET ${p}`)].sort(),
    );
  });

  it('authorizes every query route with IAM', () => {
    for (const r of routes.filter((r) => r.Properties.RouteKey.startsWith('GET '))) {
      expect(r.Properties.AuthorizationType).toBe('AWS_IAM');
    }
  });

  it('leaves the webhook route to the HMAC check in the ingest function', () => {
    const webhook = routes.find((r) => r.Properties.RouteKey === `POST ${WEBHOOK_PATH}`)!;
    expect(webhook.Properties.AuthorizationType).toBe('NONE');
    const integrationId = webhook.Properties.Target['Fn::Join'][1][1].Ref as string;
    expect(resources[integrationId]!.Properties.IntegrationUri).toEqual({
      'Fn::GetAtt': [logicalId(functions.ingest.function), 'Arn'],
    });
  });

  it('throttles the webhook route and, by default, every other route', () => {
    expect(stage.Properties.StageName).toBe('$default');
    expect(stage.Properties.DefaultRouteSettings).toEqual({ ThrottlingRateLimit: 10, ThrottlingBurstLimit: 20 });
    expect(stage.Properties.RouteSettings).toEqual({
      [`POST ${WEBHOOK_PATH}`]: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 },
    });
  });

  it('deploys the stage after the route its settings name', () => {
    const stageId = Object.keys(resources).find((k) => resources[k]!.Type === 'AWS::ApiGatewayV2::Stage')!;
    expect(resources[stageId]!.DependsOn).toContain(logicalId(stateless.api.webhookRoute));
  });

  it('writes JSON access logs with the request id and the IAM caller', () => {
    const format = JSON.parse(stage.Properties.AccessLogSettings.Format);
    expect(format).toMatchObject({ requestId: '$context.requestId', caller: '$context.identity.userArn' });
    expect(stage.Properties.AccessLogSettings.DestinationArn).toEqual({
      'Fn::GetAtt': [logicalId(stateless.api.accessLogs), 'Arn'],
    });
  });

  it('outputs the webhook URL to register with ThreeTone', () => {
    template.hasOutput('WebhookUrl', {
      Value: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [logicalId(stateless.api.api), 'ApiEndpoint'] }, WEBHOOK_PATH]] },
    });
  });
});

describe('reconciler schedule', () => {
  it('runs every 15 minutes, without retries (the next run repeats the work)', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(15 minutes)',
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [logicalId(functions.reconciler.function), 'Arn'] },
          RetryPolicy: { MaximumRetryAttempts: 0 },
        }),
      ],
    });
  });

  it('finishes before the next run starts', () => {
    expect(fnProps('reconciler').Timeout).toBeLessThanOrEqual(config.reconciler.scheduleMinutes * 60);
  });
});

describe('configured through context', () => {
  const { statelessTemplate: t, stateless: s } = synthPipeline({
    context: {
      maxReceiveCount: '8',
      processorTimeoutSeconds: '60',
      processorMaxConcurrency: 3,
      webhookThrottleRate: '25',
      webhookThrottleBurst: '40',
      reconcileScheduleMinutes: '5',
      webhookSignatureHeader: 'X-Signature',
      webhookSignaturePrefix: 'none',
      serviceName: 'tt-prod',
    },
  });
  const res = t.toJSON().Resources;
  const queue = res[logicalId(s.processing.queue)].Properties;
  const processor = res[logicalId(s.processing.processor.function)].Properties;

  it('derives the DLQ maxReceiveCount and MAX_RECEIVE_COUNT from the one value', () => {
    expect(queue.RedrivePolicy.maxReceiveCount).toBe(8);
    expect(processor.Environment.Variables.MAX_RECEIVE_COUNT).toBe('8');
  });

  it('keeps the visibility timeout at 6 times the processor timeout', () => {
    expect(processor.Timeout).toBe(60);
    expect(queue.VisibilityTimeout).toBe(360);
  });

  it('applies concurrency, throttling, schedule, signature and service settings', () => {
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', { ScalingConfig: { MaximumConcurrency: 3 } });
    t.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      RouteSettings: { [`POST ${WEBHOOK_PATH}`]: { ThrottlingRateLimit: 25, ThrottlingBurstLimit: 40 } },
    });
    t.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(5 minutes)' });
    const ingestEnv = res[logicalId(s.ingest.handler.function)].Properties.Environment.Variables;
    expect(ingestEnv).toMatchObject({
      WEBHOOK_SIGNATURE_HEADER: 'x-signature',
      WEBHOOK_SIGNATURE_PREFIX: '',
      POWERTOOLS_SERVICE_NAME: 'tt-prod',
    });
  });
});
