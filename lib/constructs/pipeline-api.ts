import { Duration, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import {
  type CfnStage,
  CorsHttpMethod,
  HttpApi,
  HttpMethod,
  type HttpRoute,
  type HttpStage,
  LogGroupLogDestination,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { AWS_ROUTES, ERASURE_ROUTES, QUERY_ROUTES, routeKey, WEBHOOK_ROUTE } from '#functions/routes.js';
import type { Throttle } from '../config.js';

/** The webhook route ThreeTone posts to (functions/routes.ts). */
export const WEBHOOK_PATH = WEBHOOK_ROUTE.path;

/** The read routes, IAM-authorized (SigV4-signed requests from principals allowed execute-api:Invoke). */
export const QUERY_PATHS = QUERY_ROUTES.map((r) => r.path);

/** One JSON line per request in the access log group (the cost bench prices a webhook's line from it). */
export const ACCESS_LOG_FIELDS = {
  requestId: '$context.requestId',
  time: '$context.requestTime',
  route: '$context.routeKey',
  status: '$context.status',
  latencyMs: '$context.responseLatency',
  integrationLatencyMs: '$context.integrationLatency',
  responseLength: '$context.responseLength',
  sourceIp: '$context.identity.sourceIp',
  // Who called a query route (IAM principal); empty on the webhook route.
  caller: '$context.identity.userArn',
  error: '$context.error.message',
  integrationError: '$context.integrationErrorMessage',
} as const;

export interface PipelineApiProps {
  readonly ingest: IFunction;
  readonly query: IFunction;
  /** The erasure routes' function (IAM-authorized like the query routes). */
  readonly erasure: IFunction;
  /** Throttling of `POST /webhooks/threetone`. */
  readonly webhookThrottle: Throttle;
  /** Throttling of every other route (the stage default). */
  readonly queryThrottle: Throttle;
  readonly logRetention: RetentionDays;
  /** Browser origins allowed to call the query routes (CORS), e.g. the live page's. @default none */
  readonly corsOrigins?: readonly string[];
}

/**
 * One HTTP API with every route of functions/routes.ts that is not local-only: the public webhook route (authenticated by its HMAC signature in the ingest function,
 * since ThreeTone cannot sign with SigV4) and the IAM-authorized query routes, each throttled, with
 * JSON access logs.
 */
export class PipelineApi extends Construct {
  public readonly api: HttpApi;
  public readonly stage: HttpStage;
  public readonly webhookRoute: HttpRoute;
  public readonly queryRoutes: HttpRoute[];
  public readonly erasureRoutes: HttpRoute[];
  public readonly accessLogs: LogGroup;

  constructor(scope: Construct, id: string, props: PipelineApiProps) {
    super(scope, id);

    this.api = new HttpApi(this, 'HttpApi', {
      description: 'ThreeTone webhook receiver and conversation query API',
      createDefaultStage: false,
      // Preflights are answered by API Gateway itself (no OPTIONS route), before any authorizer.
      ...(props.corsOrigins?.length && {
        corsPreflight: {
          allowOrigins: [...props.corsOrigins],
          allowMethods: [CorsHttpMethod.GET],
          allowHeaders: ['authorization', 'x-amz-date', 'x-amz-security-token', 'x-amz-content-sha256'],
          maxAge: Duration.hours(1),
        },
      }),
    });

    this.accessLogs = new LogGroup(this, 'AccessLogs', { retention: props.logRetention });
    this.stage = this.api.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: props.queryThrottle,
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.accessLogs),
        format: AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
      },
    });

    const integrations = {
      ingest: new HttpLambdaIntegration('Ingest', props.ingest),
      query: new HttpLambdaIntegration('Query', props.query),
      erasure: new HttpLambdaIntegration('Erasure', props.erasure),
    };
    const authorizer = new HttpIamAuthorizer();
    const routes = new Map<string, HttpRoute>();
    for (const r of AWS_ROUTES) {
      const integration = r.target === 'ingest' || r.target === 'query' || r.target === 'erasure' ? integrations[r.target] : undefined;
      if (!integration) throw new Error(`${routeKey(r)}: target "${r.target}" exists only locally; mark the route localOnly`);
      const [route] = this.api.addRoutes({
        path: r.path,
        methods: [HttpMethod[r.method]],
        integration,
        // `hmac` routes are public here: the function checks the signature (acknowledged below).
        ...(r.access === 'iam' && { authorizer }),
      });
      routes.set(routeKey(r), route!);
    }
    this.webhookRoute = routes.get(routeKey(WEBHOOK_ROUTE))!;
    this.queryRoutes = QUERY_ROUTES.map((r) => routes.get(routeKey(r))!);
    this.erasureRoutes = ERASURE_ROUTES.map((r) => routes.get(routeKey(r))!);
    Validations.of(this.webhookRoute).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason:
        'ThreeTone cannot sign requests with SigV4 or send a token an authorizer could check; every request is ' +
        'authenticated by its HMAC-SHA256 signature over the raw body (constant-time compare, replay window) in ' +
        'the ingest function, and unauthenticated requests get 401 with nothing stored. The route is throttled.',
    });


    // Route-level throttling for the webhook route (the L2 stage only sets the default). The property
    // is untyped JSON, passed through as written: CloudFormation's PascalCase names.
    const cfnStage = this.stage.node.defaultChild as CfnStage;
    cfnStage.routeSettings = {
      [routeKey(WEBHOOK_ROUTE)]: {
        ThrottlingRateLimit: props.webhookThrottle.rateLimit,
        ThrottlingBurstLimit: props.webhookThrottle.burstLimit,
      },
    };
    // Route settings name a route key, which must exist before the stage is updated.
    cfnStage.node.addDependency(this.webhookRoute);
  }

  /** The URL to register with ThreeTone. */
  public get webhookUrl(): string {
    return `${this.api.apiEndpoint}${WEBHOOK_PATH}`;
  }
}
