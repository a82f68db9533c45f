import { Duration, Expiration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import {
  AppSyncAuthorizationType,
  AppSyncFieldLogLevel,
  type CfnApi,
  type ChannelNamespace,
  EventApi,
} from 'aws-cdk-lib/aws-appsync';
import { type IEventBus, Rule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { EVENT_SOURCE } from '#core/bus-events.js';
import { LIVE_NAMESPACE } from '#core/live-channel.js';
import { type FunctionDefaults, NodeFunction } from './node-function.js';

/** Name of the API key subscribers use (the live page, dashboards). */
export const LIVE_API_KEY_NAME = 'LiveSubscribers';

export interface LiveStreamProps {
  readonly defaults: FunctionDefaults;
  /** `functions/live-publisher/handler.ts`. */
  readonly entry: string;
  /** The pipeline's bus: every event of `source` threetone.conversations is streamed. */
  readonly bus: IEventBus;
  /** @default 365 */
  readonly apiKeyExpiryDays?: number;
  readonly logRetention: RetentionDays;
}

/**
 * The live stream on AWS: an AppSync Events API (managed WebSockets: connections, subscriptions and
 * fan-out are AppSync's; no connection table of ours) fed by an EventBridge rule on the pipeline's
 * bus through a small publisher function that puts each envelope on its channel
 * (`/live/<detail-type>/<agent>/<conversation>`, see functions/core/live-channel.ts).
 *
 * Authorization: subscribers connect and subscribe with the API key (or SigV4); only IAM may
 * publish, and only the publisher's role is allowed to, on the `live` namespace alone. A live event
 * that cannot be delivered within 5 minutes is dropped: it is stale by then, and a client catches up
 * from the query API whenever it (re)connects.
 */
export class LiveStream extends Construct {
  public readonly api: EventApi;
  public readonly namespace: ChannelNamespace;
  public readonly publisher: NodeFunction;
  public readonly rule: Rule;
  public readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: LiveStreamProps) {
    super(scope, id);

    // AppSync writes to `/aws/appsync/apis/<api id>`. Our own group (bounded retention) and role
    // (that group only), instead of the L2's managed policy and log-retention custom resource.
    const logRole = new Role(this, 'LogRole', {
      assumedBy: new ServicePrincipal('appsync.amazonaws.com'),
      description: 'AppSync Events live API: writes its error logs',
    });

    this.api = new EventApi(this, 'EventApi', {
      apiName: `${Stack.of(this).stackName}-live`,
      authorizationConfig: {
        authProviders: [
          {
            authorizationType: AppSyncAuthorizationType.API_KEY,
            apiKeyConfig: {
              name: LIVE_API_KEY_NAME,
              description: 'Subscribe-only access to the live conversation stream',
              expires: Expiration.after(Duration.days(props.apiKeyExpiryDays ?? 365)),
            },
          },
          { authorizationType: AppSyncAuthorizationType.IAM },
        ],
        connectionAuthModeTypes: [AppSyncAuthorizationType.API_KEY, AppSyncAuthorizationType.IAM],
        defaultSubscribeAuthModeTypes: [AppSyncAuthorizationType.API_KEY, AppSyncAuthorizationType.IAM],
        defaultPublishAuthModeTypes: [AppSyncAuthorizationType.IAM],
      },
    });
    // Errors only (events hold conversation data). Set on the L1: the L2's `logConfig` also adds a
    // log-retention custom resource whose function has a managed policy and a `*` resource.
    (this.api.node.defaultChild as CfnApi).addPropertyOverride('EventConfig.LogConfig', {
      CloudWatchLogsRoleArn: logRole.roleArn,
      LogLevel: AppSyncFieldLogLevel.ERROR,
    });
    this.logGroup = new LogGroup(this, 'Logs', {
      logGroupName: `/aws/appsync/apis/${this.api.apiId}`,
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // A policy of its own (not inline in the role): the API needs the role, the policy needs the API's id.
    this.logGroup.grantWrite(logRole);
    this.namespace = this.api.addChannelNamespace(LIVE_NAMESPACE);

    this.publisher = new NodeFunction(this, 'Publisher', {
      defaults: props.defaults,
      entry: props.entry,
      description: 'Publishes each pipeline event to its AppSync Events live channel',
      memorySize: 256,
      timeout: Duration.seconds(10),
    }).setEnv('LIVE_EVENTS_HTTP_DOMAIN', this.api.httpDns);
    this.namespace.grantPublish(this.publisher.function);
    // A live event older than 5 minutes is stale: drop it rather than show old news as new.
    this.publisher.function.configureAsyncInvoke({ maxEventAge: Duration.minutes(5), retryAttempts: 2 });

    this.rule = new Rule(this, 'ToLiveStream', {
      eventBus: props.bus,
      description: 'Every pipeline event to the live stream',
      eventPattern: { source: [EVENT_SOURCE] },
      targets: [new LambdaFunction(this.publisher.function, { maxEventAge: Duration.minutes(5), retryAttempts: 3 })],
    });
  }

  /** What a WebSocket client connects to. */
  public get realtimeUrl(): string {
    return `wss://${this.api.realtimeDns}/event/realtime`;
  }
}
