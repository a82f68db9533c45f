import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import { Grant, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { ApplicationLogLevel, Architecture, LoggingFormat, Runtime, SystemLogLevel } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, SourceMapMode } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { TABLE } from '#adapters/table-schema.js';
import { AUDIO_KEY_PREFIX } from '#core/audio.js';
import { AUDIO_BUCKET_ENV } from '#functions/config.js';

/** Namespace of the custom metrics the functions write as EMF (see functions/adapters/emf-metrics.ts). */
export const METRICS_NAMESPACE = 'ThreeTonePipeline';

/**
 * The Lambda runtime of every function. cdk-nag's AwsSolutions-L1 flags anything older than the
 * newest runtime aws-cdk-lib knows, so a CDK upgrade that adds one shows up as a finding to act on.
 */
export const NODE_RUNTIME = Runtime.NODEJS_24_X;

/**
 * Lambda's own lines (START, END, REPORT: about 330 bytes an invocation) are not written: WARN keeps
 * only its warnings. Duration, errors and throttles stay in Lambda's metrics; peak memory and init
 * duration were only in the REPORT lines (Lambda Insights gives them). Issue 10: log bytes are
 * billed, and these lines were a third of the log cost.
 */
export const SYSTEM_LOG_LEVEL: SystemLogLevel = SystemLogLevel.WARN;

/**
 * Lambda's application log level for a Powertools level, so the two never disagree (Powertools adopts
 * Lambda's anyway). Only these two: the EMF metric lines carry no level, Lambda files them as INFO,
 * and a higher level would drop every custom metric (lib/config.ts `logLevel`).
 */
const APPLICATION_LOG_LEVEL: Record<string, ApplicationLogLevel> = {
  DEBUG: ApplicationLogLevel.DEBUG,
  INFO: ApplicationLogLevel.INFO,
};

const unsupportedLogLevel = (level: string): never => {
  throw new Error(`log level ${JSON.stringify(level)}: DEBUG or INFO only (above INFO, Lambda drops the custom metrics' lines)`);
};

/** Settings shared by every function of the app. */
export interface FunctionDefaults {
  /** Directory holding package.json and package-lock.json (esbuild resolves `#core/*` imports from it). */
  readonly projectRoot: string;
  /** `POWERTOOLS_SERVICE_NAME` and the `service` dimension of the custom metrics. */
  readonly serviceName: string;
  /** `POWERTOOLS_LOG_LEVEL`. */
  readonly logLevel: string;
  readonly logRetention: RetentionDays;
}

export interface NodeFunctionProps {
  readonly defaults: FunctionDefaults;
  /** Absolute path of the entry file (`functions/<name>/handler.ts`, wiring only). */
  readonly entry: string;
  readonly description: string;
  /** @default Duration.seconds(10) */
  readonly timeout?: Duration;
  /** @default 512 */
  readonly memorySize?: number;
  /**
   * Retries of an asynchronous invocation (schedules). Unused for synchronous (API) and SQS invocations.
   * @default 2 (the Lambda default)
   */
  readonly retryAttempts?: number;
}

/** DynamoDB actions a function may be granted on the table. `Query` is also granted on the indexes. */
export type TableAction =
  | 'dynamodb:GetItem'
  | 'dynamodb:PutItem'
  | 'dynamodb:UpdateItem'
  | 'dynamodb:DeleteItem'
  | 'dynamodb:ConditionCheckItem'
  | 'dynamodb:Query';

export type QueueAction = 'sqs:SendMessage';

/** S3 actions a function may be granted on the archived recordings (objects under `audio/`). */
export type AudioObjectAction = 's3:PutObject' | 's3:AbortMultipartUpload' | 's3:GetObject' | 's3:DeleteObject';

/**
 * A Node.js function with our defaults: latest runtime, arm64, ESM bundle built by the local esbuild
 * with the AWS SDK inside it (versions pinned by package-lock.json, not by whatever the runtime ships),
 * source maps, a log group with bounded retention, Powertools settings, and its own role that can only
 * write to that log group until a `bind*` method adds exactly what the code uses.
 *
 * Each `bind*` method sets the environment variable the code reads and grants the matching
 * permission in one call, so neither can be added without the other.
 */
export class NodeFunction extends Construct {
  public readonly function: NodejsFunction;
  public readonly role: Role;
  public readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: NodeFunctionProps) {
    super(scope, id);
    const { defaults } = props;

    this.logGroup = new LogGroup(this, 'Logs', {
      retention: defaults.logRetention,
      // Kept after a stack deletion for incident analysis; the retention still expires the events.
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // Our own role instead of the default one: the default attaches AWSLambdaBasicExecutionRole,
    // which allows writing to any log group (`Resource: *`).
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `${props.description} (execution role)`,
    });
    this.logGroup.grantWrite(this.role);

    this.function = new NodejsFunction(this, 'Function', {
      entry: props.entry,
      handler: 'handler',
      projectRoot: defaults.projectRoot,
      depsLockFilePath: `${defaults.projectRoot}/package-lock.json`,
      description: props.description,
      runtime: NODE_RUNTIME,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(10),
      role: this.role,
      logGroup: this.logGroup,
      // JSON lines (Powertools writes JSON already), filtered by Lambda at the Powertools level.
      loggingFormat: LoggingFormat.JSON,
      applicationLogLevelV2: APPLICATION_LOG_LEVEL[defaults.logLevel] ?? unsupportedLogLevel(defaults.logLevel),
      systemLogLevelV2: SYSTEM_LOG_LEVEL,
      retryAttempts: props.retryAttempts,
      awsSdkConnectionReuse: false,
      environment: {
        POWERTOOLS_SERVICE_NAME: defaults.serviceName,
        POWERTOOLS_LOG_LEVEL: defaults.logLevel,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        // Never log whole events: webhook payloads and records hold personal data.
        POWERTOOLS_LOGGER_LOG_EVENT: 'false',
        NODE_OPTIONS: '--enable-source-maps',
      },
      bundling: {
        format: OutputFormat.ESM,
        mainFields: ['module', 'main'],
        target: 'node20',
        minify: true,
        sourceMap: true,
        sourceMapMode: SourceMapMode.EXTERNAL,
        sourcesContent: false,
        // Some dependencies still call `require` (CommonJS); give the ESM bundle one.
        banner: "import { createRequire as __createRequire } from 'node:module';const require = __createRequire(import.meta.url);",
        // Bundle the SDK rather than use the runtime's copy: the versions tested are the versions run.
        bundleAwsSDK: true,
        externalModules: [],
        forceDockerBundling: false,
      },
    });
  }

  /** Sets a plain configuration value (never a secret: use `bindSecret`). */
  public setEnv(name: string, value: string): this {
    this.function.addEnvironment(name, value);
    return this;
  }

  /** Sets the environment a function's settings render to (`processorEnv(settings)` and the like). */
  public setSettings(env: Readonly<Record<string, string>>): this {
    for (const [name, value] of Object.entries(env)) this.setEnv(name, value);
    return this;
  }

  /**
   * `TABLE_NAME` plus exactly `actions` on the table; `dynamodb:Query` also on each index, named one
   * by one (no `index/*`). `TransactWriteItems` needs no action of its own: each item in it is
   * authorized as its Put/Update/Delete/ConditionCheck action.
   */
  public bindTable(table: ITable, actions: readonly TableAction[]): this {
    this.setEnv('TABLE_NAME', table.tableName);
    Grant.addToPrincipal({ grantee: this.function, actions: [...actions], resourceArns: [table.tableArn] });
    if (actions.includes('dynamodb:Query')) {
      Grant.addToPrincipal({
        grantee: this.function,
        actions: ['dynamodb:Query'],
        resourceArns: [TABLE.byAgentIndex.name, TABLE.byTimeIndex.name].map((index) => `${table.tableArn}/index/${index}`),
      });
    }
    return this;
  }

  /** `EVENT_BUS_NAME` plus `events:PutEvents` on that bus. */
  public bindEventBus(bus: IEventBus): this {
    this.setEnv('EVENT_BUS_NAME', bus.eventBusName);
    bus.grantPutEventsTo(this.function);
    return this;
  }

  /**
   * `AUDIO_BUCKET_NAME` plus exactly `actions` on the recordings, `<bucket>/audio/*`: object actions
   * can only name objects by a key pattern, and the keys are SHA-256 digests under that prefix.
   */
  public bindAudioBucket(bucket: IBucket, actions: readonly AudioObjectAction[]): this {
    this.setEnv(AUDIO_BUCKET_ENV, bucket.bucketName);
    const objects = bucket.arnForObjects(`${AUDIO_KEY_PREFIX}*`);
    Grant.addToPrincipal({ grantee: this.function, actions: [...actions], resourceArns: [objects] });
    // The finding names the ARN as the template will hold it, cross-stack reference included, which is
    // known only once references are resolved: acknowledged then (validation runs after that, before cdk-nag).
    this.node.addValidation({
      validate: () => {
        Validations.of(this).acknowledge({
          id: `AwsSolutions-IAM5[Resource::${nagResource(Stack.of(this).resolve(objects))}]`,
          reason:
            'S3 object actions can only be granted on a key pattern: this is the recordings prefix of the audio bucket alone ' +
            '(keys are SHA-256 digests of conversation ids), with the exact actions this function uses.',
        });
        return [];
      },
    });
    return this;
  }

  /** `QUEUE_URL` plus exactly `actions` on that queue. */
  public bindQueue(queue: IQueue, actions: readonly QueueAction[]): this {
    this.setEnv('QUEUE_URL', queue.queueUrl);
    queue.grant(this.function, ...actions);
    return this;
  }

  /**
   * An environment variable holding the secret's ARN (never its value: the code reads the value at
   * run time and caches it) plus `secretsmanager:GetSecretValue` on that secret only.
   */
  public bindSecret(envName: string, secret: ISecret): this {
    this.setEnv(envName, secret.secretArn);
    Grant.addToPrincipal({
      grantee: this.function,
      actions: ['secretsmanager:GetSecretValue'],
      resourceArns: [secret.secretArn],
    });
    // A secret encrypted with a customer-managed key also needs kms:Decrypt on that key.
    secret.encryptionKey?.grantDecrypt(this.function);
    return this;
  }
}

/**
 * A resource ARN as cdk-nag names it in a granular finding (`AwsSolutions-IAM5[Resource::…]`): its
 * flattening of CloudFormation intrinsics (cdk-nag's utils/flatten-cfn-reference, not exported).
 */
function nagResource(resolved: unknown): string {
  const visit = (node: unknown): string => {
    if (node === undefined) return '';
    if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/}/g, '>');
    const o = node as Record<string, unknown>;
    if (o['Fn::Join']) {
      const [delimiter, items] = o['Fn::Join'] as [string, unknown[]];
      return items.map(visit).join(delimiter);
    }
    if (o['Fn::Sub']) return visit(o['Fn::Sub']);
    if (o['Fn::GetAtt']) {
      const [resource, attribute] = o['Fn::GetAtt'] as [unknown, unknown];
      return `<${visit(resource)}.${visit(attribute)}>`;
    }
    if (o['Fn::ImportValue']) return visit(o['Fn::ImportValue']);
    if (o.Ref) return `<${visit(o.Ref)}>`;
    return JSON.stringify(node);
  };
  return visit(resolved);
}
