import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { TABLE } from '#adapters/table-schema.js';
import { erasureEnv, ingestEnv, loadThreeToneClientConfig, processorEnv, reconcilerEnv, requestBudgetEnv, threeToneClientEnv } from '#functions/config.js';
import { measuredWorstCaseMs } from '#test/helpers/threetone-budget.js';
import { QUERY_PATHS, WEBHOOK_PATH } from '#lib/constructs/pipeline-api.js';
import { actionsOf, logicalId, resourcesFor, statementsOfRole, synthPipeline } from './support.js';

const { statelessTemplate: template, statefulTemplate: synthStateful, stateless, stateful, config } = synthPipeline();
const resources = template.toJSON().Resources as Record<string, { Type: string; Properties: any; DependsOn?: string[] }>;

const functions = {
  ingest: stateless.ingest.handler,
  processor: stateless.processing.processor,
  query: stateless.query.handler,
  erasure: stateless.erasure.handler,
  reconciler: stateless.reconciler.handler,
  enricher: stateless.enrichment.handler,
  livePublisher: stateless.live.publisher,
  outboxPublisher: stateless.outboxPublisher.handler,
};
type Name = keyof typeof functions;
const fnProps = (name: Name) => resources[logicalId(functions[name].function)]!.Properties;
const envOf = (name: Name) => fnProps(name).Environment.Variables as Record<string, unknown>;
const statementsOf = (name: Name) => statementsOfRole(template, logicalId(functions[name].role));

/** The stateful resource a cross-stack value comes from appears in its reference. */
const refersTo = (json: string, construct: Parameters<typeof logicalId>[0]) => json.includes(logicalId(construct));

/** What a cross-stack reference of this stack resolves to: the value of the stateful stack's output it reads. */
const statefulValueOf = (reference: unknown): unknown => {
  const ref = reference as { 'Fn::GetStackOutput'?: { OutputName: string }; 'Fn::ImportValue'?: string };
  const outputs = synthStateful.toJSON().Outputs as Record<string, { Value: unknown; Export?: { Name: string } }>;
  if (ref['Fn::GetStackOutput']) return outputs[ref['Fn::GetStackOutput'].OutputName]?.Value;
  if (ref['Fn::ImportValue']) return Object.values(outputs).find((o) => o.Export?.Name === ref['Fn::ImportValue'])?.Value;
  throw new Error(`not a cross-stack reference: ${JSON.stringify(reference)}`);
};
const tableStreamArn = () => ({ 'Fn::GetAtt': [logicalId(stateful.table), 'StreamArn'] });
const queueArn = (queue: Parameters<typeof logicalId>[0]) => ({ 'Fn::GetAtt': [logicalId(queue), 'Arn'] });

/** The event source mapping of one function. */
const mappingOf = (name: Name) => {
  const mappings = Object.values(resources).filter(
    (r) => r.Type === 'AWS::Lambda::EventSourceMapping' && JSON.stringify(r.Properties.FunctionName) === JSON.stringify({ Ref: logicalId(functions[name].function) }),
  );
  expect(mappings).toHaveLength(1);
  return mappings[0]!.Properties;
};

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

  it.each(Object.keys(functions) as Name[])("%s: JSON logs at the Powertools level, without Lambda's START/END/REPORT lines", (name) => {
    const { LoggingConfig: logging } = fnProps(name);
    expect(logging).toMatchObject({ LogFormat: 'JSON', ApplicationLogLevel: envOf(name).POWERTOOLS_LOG_LEVEL, SystemLogLevel: 'WARN' });
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
    expect(groups).toHaveLength(10); // eight functions + API access logs + the live Event API's logs
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
    expect(Object.keys(env).sort()).toEqual([...COMMON_ENV, 'QUEUE_URL', 'WEBHOOK_SECRET_ARN', ...Object.keys(ingestEnv(config.ingest))].sort());
    expect(Object.keys(ingestEnv(config.ingest)).sort()).toEqual(['REPLAY_WINDOW_SECONDS', 'WEBHOOK_SIGNATURE_HEADER', 'WEBHOOK_SIGNATURE_PREFIX']);
    expect(refersTo(JSON.stringify(env.QUEUE_URL), stateful.queue)).toBe(true);
    expect(env).toMatchObject({
      ...ingestEnv(config.ingest),
      WEBHOOK_SIGNATURE_HEADER: 'x-threetone-signature',
      WEBHOOK_SIGNATURE_PREFIX: 'sha256=',
      REPLAY_WINDOW_SECONDS: '86400',
    });
    expect(refersTo(JSON.stringify(env.WEBHOOK_SECRET_ARN), stateful.webhookSecret)).toBe(true);
  });

  it('processor', () => {
    const env = envOf('processor');
    // The bindings (each set with its grant), then exactly the settings rendered from the typed config:
    // a new setting reaches the function without being listed here (README's Settings test lists it).
    // No ThreeTone client, key or budget: the processor never calls ThreeTone (facts first). It keys
    // phone fields for erasure by caller with the caller key.
    const settings = processorEnv(config.processor.settings);
    expect(Object.keys(env).sort()).toEqual([...COMMON_ENV, 'TABLE_NAME', 'EVENT_BUS_NAME', 'CALLER_KEY_SECRET_ARN', ...Object.keys(settings)].sort());
    expect(refersTo(JSON.stringify(env.CALLER_KEY_SECRET_ARN), stateful.callerKeySecret)).toBe(true);
    // Rendered by the same functions the handlers' loaders invert (round trip: test/unit/config.test.ts).
    expect(env).toMatchObject(settings);
    expect(env).toMatchObject({
      ALERT_LONG_DURATION_SECONDS: '600',
      ALERT_LOW_SATISFACTION: '2.5',
      MAX_RECEIVE_COUNT: '5',
      RAW_EVENT_RETENTION_DAYS: '30',
      TRANSCRIPT_RETENTION_DAYS: '0',
      RECORD_RETENTION_DAYS: '0',
      REDACT_PERSONAL_DATA: 'true',
      ENRICHMENT_GIVE_UP_HOURS: '6',
      ENRICHMENT_MAX_AGE_DAYS: '7',
    });
    expect(refersTo(JSON.stringify(env.TABLE_NAME), stateful.table)).toBe(true);
    expect(refersTo(JSON.stringify(env.EVENT_BUS_NAME), stateful.bus)).toBe(true);
  });

  it('enricher: the processor\'s settings, the client and the budget, and its run length', () => {
    const env = envOf('enricher');
    const settings = { ...threeToneClientEnv(config.threeTone), ...requestBudgetEnv(config.processor.settings.enrichment.budget), ...processorEnv(config.processor.settings) };
    expect(Object.keys(env).sort()).toEqual(
      [...COMMON_ENV, 'TABLE_NAME', 'EVENT_BUS_NAME', 'THREETONE_API_KEY_SECRET_ARN', 'AUDIO_BUCKET_NAME', 'ENRICHER_RUN_SECONDS', ...Object.keys(settings)].sort(),
    );
    expect(env).toMatchObject({ AUDIO_ARCHIVE: 'true' });
    expect(refersTo(JSON.stringify(env.AUDIO_BUCKET_NAME), stateful.audioBucket)).toBe(true);
    expect(env).toMatchObject({ ...settings, ENRICHER_RUN_SECONDS: '50', THREETONE_REQUESTS_PER_MINUTE: '100', THREETONE_REQUESTS_PER_HOUR: '1000' });
    expect(refersTo(JSON.stringify(env.THREETONE_API_KEY_SECRET_ARN), stateful.apiKeySecret)).toBe(true);
    // A run (50 s) plus a request in flight and a commit fit in the function's timeout.
    expect(fnProps('enricher').Timeout).toBeGreaterThan(50 + 5);
  });

  it('query', () => {
    const env = envOf('query');
    expect(Object.keys(env).sort()).toEqual([...COMMON_ENV, 'TABLE_NAME', 'AUDIO_BUCKET_NAME'].sort());
    expect(refersTo(JSON.stringify(env.TABLE_NAME), stateful.table)).toBe(true);
    expect(refersTo(JSON.stringify(env.AUDIO_BUCKET_NAME), stateful.audioBucket)).toBe(true);
  });

  it('erasure: the table, the caller lookup key and the tombstone retention (no bus: the change stream publishes Conversation Erased)', () => {
    const env = envOf('erasure');
    expect(Object.keys(env).sort()).toEqual(
      [...COMMON_ENV, 'TABLE_NAME', 'CALLER_KEY_SECRET_ARN', 'AUDIO_BUCKET_NAME', ...Object.keys(erasureEnv(config.erasure.settings))].sort(),
    );
    expect(refersTo(JSON.stringify(env.AUDIO_BUCKET_NAME), stateful.audioBucket)).toBe(true);
    expect(env).toMatchObject({ ERASURE_TOMBSTONE_DAYS: '45' });
    expect(refersTo(JSON.stringify(env.CALLER_KEY_SECRET_ARN), stateful.callerKeySecret)).toBe(true);
  });

  it('reconciler', () => {
    const env = envOf('reconciler');
    const settings = { ...threeToneClientEnv(config.threeTone), ...requestBudgetEnv(config.reconciler.settings.budget), ...reconcilerEnv(config.reconciler.settings) };
    expect(Object.keys(env).sort()).toEqual(
      [...COMMON_ENV, 'TABLE_NAME', 'QUEUE_URL', 'THREETONE_API_KEY_SECRET_ARN', ...Object.keys(settings)].sort(),
    );
    // No EVENT_BUS_NAME: it publishes nothing (the change stream does). The grace setting is the renamed one.
    expect(env).toMatchObject({ RECONCILE_LOOKBACK_HOURS: '6', RECONCILE_GRACE_SECONDS: '300' });
    expect(env).not.toHaveProperty('OUTBOX_GRACE_SECONDS');
    expect(env).toMatchObject({ ...threeToneClientEnv(config.threeTone), ...reconcilerEnv(config.reconciler.settings) });
  });

  it('outbox publisher: the bus alone (the stream brings the changes: no table name)', () => {
    const env = envOf('outboxPublisher');
    expect(Object.keys(env).sort()).toEqual([...COMMON_ENV, 'EVENT_BUS_NAME'].sort());
    expect(refersTo(JSON.stringify(env.EVENT_BUS_NAME), stateful.bus)).toBe(true);
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
    const sends = resourcesFor(statements, 'sqs:SendMessage');
    expect(sends).toHaveLength(1);
    expect(refersTo(sends[0]!, stateful.queue)).toBe(true);
    const [secret] = resourcesFor(statements, 'secretsmanager:GetSecretValue');
    expect(refersTo(secret!, stateful.webhookSecret)).toBe(true);
  });

  it('processor: read/write items (tombstone checks included), query the indexes, publish, read the caller key, consume the queue; no ThreeTone key', () => {
    const statements = statementsOf('processor');
    expect(actionsOf(statements)).toEqual(
      [
        ...LOGS,
        'dynamodb:ConditionCheckItem',
        'dynamodb:DeleteItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:Query',
        'dynamodb:UpdateItem',
        'events:PutEvents',
        'secretsmanager:GetSecretValue',
        // From the SQS event source: exactly what polling needs (facts never wait: nothing is re-queued).
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
    for (const action of ['sqs:ReceiveMessage']) {
      const queues = resourcesFor(statements, action);
      expect(queues).toHaveLength(1);
      expect(refersTo(queues[0]!, stateful.queue)).toBe(true);
    }
    const secrets = resourcesFor(statements, 'secretsmanager:GetSecretValue');
    expect(secrets).toHaveLength(1);
    expect(secrets.filter((r) => refersTo(r, stateful.callerKeySecret))).toHaveLength(1);
    expect(refersTo(resourcesFor(statements, 'events:PutEvents')[0]!, stateful.bus)).toBe(true);
  });

  /** The function's S3 actions, each granted once, on the audio bucket's recordings only. */
  const expectAudioObjects = (statements: ReturnType<typeof statementsOf>, actions: string[]) => {
    expect(actionsOf(statements).filter((a) => a.startsWith('s3:'))).toEqual([...actions].sort());
    for (const action of actions) {
      const arns = resourcesFor(statements, action);
      expect(arns).toHaveLength(1);
      expect(refersTo(arns[0]!, stateful.audioBucket)).toBe(true);
      expect(arns[0]).toMatch(/\/audio\/\*"\]\]\}$/);
    }
  };

  it('query: read-only (GetItem, Query) on the table and its indexes; reads recordings (to presign links)', () => {
    const statements = statementsOf('query');
    expect(actionsOf(statements)).toEqual([...LOGS, 'dynamodb:GetItem', 'dynamodb:Query', 's3:GetObject'].sort());
    expect(resourcesFor(statements, 'dynamodb:Query')).toHaveLength(3);
    expectAudioObjects(statements, ['s3:GetObject']);
  });

  it('erasure: items of the table (no index write), read the caller lookup key, never publish (the stream does); the query function stays read-only', () => {
    const statements = statementsOf('erasure');
    expect(actionsOf(statements)).toEqual(
      [
        ...LOGS,
        'dynamodb:ConditionCheckItem',
        'dynamodb:DeleteItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:Query',
        'dynamodb:UpdateItem',
        's3:DeleteObject',
        'secretsmanager:GetSecretValue',
      ].sort(),
    );
    expectAudioObjects(statements, ['s3:DeleteObject']);
    for (const action of ['dynamodb:DeleteItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem']) {
      const arns = resourcesFor(statements, action);
      expect(arns).toHaveLength(1);
      expect(arns[0]).not.toContain('/index/');
      expect(refersTo(arns[0]!, stateful.table)).toBe(true);
    }
    const secrets = resourcesFor(statements, 'secretsmanager:GetSecretValue');
    expect(secrets).toHaveLength(1);
    expect(refersTo(secrets[0]!, stateful.callerKeySecret)).toBe(true);
  });

  it('enricher: the processor\'s table actions, publish, read the API key, upload recordings; no queue', () => {
    const statements = statementsOf('enricher');
    expect(actionsOf(statements)).toEqual(
      [
        ...LOGS,
        'dynamodb:ConditionCheckItem',
        'dynamodb:DeleteItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:Query',
        'dynamodb:UpdateItem',
        'events:PutEvents',
        // Upload (PutObject covers every multipart step), abort a failed one, delete one an erasure beat.
        's3:AbortMultipartUpload',
        's3:DeleteObject',
        's3:PutObject',
        'secretsmanager:GetSecretValue',
      ].sort(),
    );
    expectAudioObjects(statements, ['s3:AbortMultipartUpload', 's3:DeleteObject', 's3:PutObject']);
    for (const r of resourcesFor(statements, 'dynamodb:PutItem')) expect(r).not.toContain('/index/');
  });

  it('runs the enricher every minute, with no retry of a failed run', () => {
    const rules = Object.values(resources).filter(
      (r) => r.Type === 'AWS::Events::Rule' && JSON.stringify(r.Properties.Targets).includes(logicalId(stateless.enrichment.handler.function)),
    );
    expect(rules).toHaveLength(1);
    expect(rules[0]!.Properties.ScheduleExpression).toBe('rate(1 minute)');
    expect(rules[0]!.Properties.Targets[0].RetryPolicy).toEqual({ MaximumRetryAttempts: 0 });
  });

  it('reconciler: get records, draw on the budget, queue repairs, read the API key; never publishes, deletes or queries', () => {
    const statements = statementsOf('reconciler');
    expect(actionsOf(statements)).toEqual(
      [
        ...LOGS,
        // GetItem: records and the budget's block; the rest: the budget (TransactWriteItems of
        // UpdateItem + ConditionCheckItem, PutItem of a block).
        'dynamodb:ConditionCheckItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'secretsmanager:GetSecretValue',
        'sqs:SendMessage',
      ].sort(),
    );
    // The outbox sweep is gone: the change stream publishes every committed change.
    for (const action of ['events:PutEvents', 'dynamodb:DeleteItem', 'dynamodb:Query']) expect(actionsOf(statements)).not.toContain(action);
    for (const action of ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem']) {
      const arns = resourcesFor(statements, action);
      expect(arns).toHaveLength(1);
      expect(refersTo(arns[0]!, stateful.table)).toBe(true);
    }
    const sends = resourcesFor(statements, 'sqs:SendMessage');
    expect(sends).toHaveLength(1);
    expect(refersTo(sends[0]!, stateful.queue)).toBe(true);
  });

  it("outbox publisher: read the table's stream, publish to the bus, report failed batches to the stream DLQ; no item of the table", () => {
    const statements = statementsOf('outboxPublisher');
    expect(actionsOf(statements)).toEqual(
      [
        ...LOGS,
        // The stream event source's grant (CDK's grantStreamRead).
        'dynamodb:DescribeStream',
        'dynamodb:GetRecords',
        'dynamodb:GetShardIterator',
        'dynamodb:ListStreams',
        'events:PutEvents',
        // The on-failure destination's grant (CDK's SqsDlq): Lambda sends with the function's role.
        'sqs:GetQueueAttributes',
        'sqs:GetQueueUrl',
        'sqs:SendMessage',
      ].sort(),
    );
    // The events come in the stream records: it never reads or writes an item.
    expect(actionsOf(statements).filter((a) => /^dynamodb:.*(Item|Query|Scan)/.test(a))).toEqual([]);
    for (const action of ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator']) {
      const arns = statements.filter((s) => [s.Action].flat().includes(action)).flatMap((s) => [s.Resource].flat());
      expect(arns).toHaveLength(1);
      expect(statefulValueOf(arns[0])).toEqual(tableStreamArn());
    }
    // ListStreams cannot name a resource: alone in its statement, on `*` (acknowledged in cdk-nag).
    expect(statements.filter((s) => [s.Action].flat().includes('dynamodb:ListStreams'))).toEqual([
      { Effect: 'Allow', Action: 'dynamodb:ListStreams', Resource: '*' },
    ]);
    const puts = statements.filter((s) => [s.Action].flat().includes('events:PutEvents')).flatMap((s) => [s.Resource].flat());
    expect(puts).toHaveLength(1);
    expect(statefulValueOf(puts[0])).toEqual({ 'Fn::GetAtt': [logicalId(stateful.bus), 'Arn'] });
    for (const action of ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl']) {
      const arns = statements.filter((s) => [s.Action].flat().includes(action)).flatMap((s) => [s.Resource].flat());
      expect(arns).toHaveLength(1);
      expect(statefulValueOf(arns[0])).toEqual(queueArn(stateful.streamDeadLetterQueue));
    }
  });

  it('grants no wildcard action or resource anywhere (but the recordings prefix, which object actions need, and ListStreams, which names no resource)', () => {
    for (const name of Object.keys(functions) as Name[]) {
      for (const s of statementsOf(name)) {
        expect(s.Effect).toBe('Allow');
        for (const action of [s.Action].flat()) expect(action).not.toContain('*');
        const resource = JSON.stringify(s.Resource);
        const s3 = [s.Action].flat().every((a) => a.startsWith('s3:'));
        const listStreams = name === 'outboxPublisher' && s.Action === 'dynamodb:ListStreams';
        if (!listStreams) expect(s3 ? resource.replace(/\/audio\/\*"\]\]\}$/, '') : resource).not.toContain('*');
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

describe('processor timeout (derived from the ThreeTone retry budget)', () => {
  it('outlasts, with the settings the function receives, details plus transcript at their worst, plus headroom', async () => {
    // The client config as the deployed processor will read it from its environment, and what the
    // real client then spends at most: raising retries or the per-attempt timeout anywhere without
    // the timeout following fails here.
    const client = loadThreeToneClientConfig(threeToneClientEnv(config.threeTone));
    const worstSeconds = (2 * (await measuredWorstCaseMs(client))) / 1000;
    expect(fnProps('processor').Timeout).toBeGreaterThanOrEqual(worstSeconds + 30);
    const [queue] = Object.values(synthStateful.findResources('AWS::SQS::Queue')).filter((q) => q.Properties.RedrivePolicy);
    expect(queue!.Properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * fnProps('processor').Timeout);
  });

  it('is 130 s by default', () => {
    // Defaults: each call 4 attempts x 5 s + 3 waits of at most 10 s = 50 s; two calls; 30 s headroom.
    expect(fnProps('processor').Timeout).toBe(130);
  });

  it.each([
    [{ threeToneMaxRetries: '5' }, (6 * 5 + 5 * 10) * 2 + 30],
    [{ threeToneTimeoutMs: '8000' }, (4 * 8 + 3 * 10) * 2 + 30],
    [{ threeToneRetryMaxMs: '20000' }, (4 * 5 + 3 * 20) * 2 + 30],
  ])('follows %j', (context, seconds) => {
    const { statelessTemplate: t, stateless: s } = synthPipeline({ context });
    expect(t.toJSON().Resources[logicalId(s.processing.processor.function)].Properties.Timeout).toBe(seconds);
  });
});

describe('processor event source', () => {
  it('reports partial batch failures, with batch size 10 and concurrency bounded to 2', () => {
    // The processor's and the outbox publisher's, nothing else.
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 2);
    const mapping = mappingOf('processor');
    expect(mapping).toMatchObject({
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: 10,
      ScalingConfig: { MaximumConcurrency: 2 },
    });
    expect(statefulValueOf(mapping.EventSourceArn)).toEqual(queueArn(stateful.queue));
  });
});

describe("outbox publisher event source (the table's change stream)", () => {
  const mapping = mappingOf('outboxPublisher');

  it("reads the stateful table's stream (a cross-stack reference to its StreamArn), from the oldest record", () => {
    expect(statefulValueOf(mapping.EventSourceArn)).toEqual(tableStreamArn());
    // Every change the stream still holds when the mapping is created, not only those after it.
    expect(mapping.StartingPosition).toBe('TRIM_HORIZON');
  });

  it('takes batches of 100 changes, one batch per shard at a time (a conversation is published in commit order)', () => {
    expect(mapping.BatchSize).toBe(100);
    expect(mapping.ParallelizationFactor).toBe(1);
  });

  it('retries from the first change not published, splitting a failing batch, until the record expires from the stream', () => {
    expect(mapping.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
    expect(mapping.BisectBatchOnFunctionError).toBe(true);
    // No retry limit (Lambda's default, -1): a limit would drop a change's events after a few
    // failures. An age limit below the stream's 24-hour retention, so a batch given up on is
    // described in the dead-letter queue rather than trimmed unseen.
    expect(mapping.MaximumRetryAttempts).toBeUndefined();
    expect(mapping.MaximumRecordAgeInSeconds).toBe(23 * 3600);
    expect(mapping.MaximumRecordAgeInSeconds).toBeLessThan(24 * 3600);
  });

  it("sends the description of an expired batch to the stateful stack's stream dead-letter queue", () => {
    expect(statefulValueOf(mapping.DestinationConfig.OnFailure.Destination)).toEqual(queueArn(stateful.streamDeadLetterQueue));
    // Not the webhook DLQ: redriving a batch description into the work queue would mean nothing.
    expect(refersTo(JSON.stringify(mapping.DestinationConfig), stateful.deadLetterQueue)).toBe(false);
  });

  it(`invokes the function only for an INSERT or MODIFY whose new image carries ${TABLE.outboxAttribute}`, () => {
    expect(mapping.FilterCriteria.Filters).toHaveLength(1);
    expect(JSON.parse(mapping.FilterCriteria.Filters[0].Pattern)).toEqual({
      eventName: ['INSERT', 'MODIFY'],
      dynamodb: { NewImage: { [TABLE.outboxAttribute]: { B: [{ exists: true }] } } },
    });
    expect(TABLE.outboxAttribute).toBe('outbox_gz');
  });

  it('gives the function time for a batch of 100 changes and their PutEvents calls', () => {
    expect(fnProps('outboxPublisher').Timeout).toBe(30);
  });
});

describe('HTTP API', () => {
  const routes = Object.values(resources).filter((r) => r.Type === 'AWS::ApiGatewayV2::Route');
  const stage = Object.values(resources).find((r) => r.Type === 'AWS::ApiGatewayV2::Stage')!;

  it('has the webhook route, the query routes and the two erasure routes, nothing else', () => {
    expect(routes.map((r) => r.Properties.RouteKey).sort()).toEqual(
      [`POST ${WEBHOOK_PATH}`, ...QUERY_PATHS.map((p) => `GET ${p}`), 'DELETE /conversations/{conversation_id}', 'POST /erasures'].sort(),
    );
  });

  it('authorizes every query and erasure route with IAM', () => {
    const authorized = routes.filter((r) => r.Properties.RouteKey !== `POST ${WEBHOOK_PATH}`);
    expect(authorized).toHaveLength(QUERY_PATHS.length + 2);
    for (const r of authorized) expect(r.Properties.AuthorizationType).toBe('AWS_IAM');
  });

  it('sends the erasure routes to the erasure function only', () => {
    for (const key of ['DELETE /conversations/{conversation_id}', 'POST /erasures']) {
      const route = routes.find((r) => r.Properties.RouteKey === key)!;
      const integrationId = route.Properties.Target['Fn::Join'][1][1].Ref as string;
      expect(resources[integrationId]!.Properties.IntegrationUri).toEqual({ 'Fn::GetAtt': [logicalId(functions.erasure.function), 'Arn'] });
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
  const { statelessTemplate: t, statefulTemplate: st, stateless: s, stateful: sf } = synthPipeline({
    context: {
      maxReceiveCount: '8',
      threeToneMaxRetries: '1',
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
  const queue = st.toJSON().Resources[logicalId(sf.queue)].Properties;
  const processor = res[logicalId(s.processing.processor.function)].Properties;

  it('derives the DLQ maxReceiveCount and MAX_RECEIVE_COUNT from the one value', () => {
    expect(queue.RedrivePolicy.maxReceiveCount).toBe(8);
    expect(processor.Environment.Variables.MAX_RECEIVE_COUNT).toBe('8');
  });

  it('keeps the visibility timeout at 6 times the processor timeout', () => {
    expect(processor.Timeout).toBe((2 * 5 + 10) * 2 + 30);
    expect(queue.VisibilityTimeout).toBe(6 * processor.Timeout);
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
      WEBHOOK_SIGNATURE_PREFIX: 'none',
      POWERTOOLS_SERVICE_NAME: 'tt-prod',
    });
  });
});
