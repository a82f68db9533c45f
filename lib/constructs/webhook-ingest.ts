import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { type IngestConfig, ingestEnv } from '#functions/config.js';
import { type FunctionDefaults, NodeFunction } from './node-function.js';

export interface WebhookIngestProps {
  readonly defaults: FunctionDefaults;
  readonly entry: string;
  /** Where accepted webhooks are handed off. */
  readonly queue: IQueue;
  /** SecretString: one or more comma-separated signing secrets. */
  readonly webhookSecret: ISecret;
  readonly settings: IngestConfig;
}

/**
 * `POST /webhooks/threetone`: verifies the signature and replay window, then hands the raw event to
 * the queue and answers 202. It can only send to that queue and read that secret.
 */
export class WebhookIngest extends Construct {
  public readonly handler: NodeFunction;

  constructor(scope: Construct, id: string, props: WebhookIngestProps) {
    super(scope, id);
    this.handler = new NodeFunction(this, 'Ingest', {
      defaults: props.defaults,
      entry: props.entry,
      description: 'Verifies ThreeTone webhooks and queues them (POST /webhooks/threetone)',
    })
      .bindQueue(props.queue, ['sqs:SendMessage'])
      .bindSecret('WEBHOOK_SECRET_ARN', props.webhookSecret)
      .setSettings(ingestEnv(props.settings));
  }
}
