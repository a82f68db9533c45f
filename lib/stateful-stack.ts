import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { PipelineConfig } from './config.js';
import { AlarmTopic } from './constructs/alarm-topic.js';
import { AudioBucket } from './constructs/audio-bucket.js';
import { ConversationEventBus } from './constructs/conversation-event-bus.js';
import { ConversationTable, type StreamingTable } from './constructs/conversation-table.js';
import { PipelineSecrets } from './constructs/pipeline-secrets.js';
import { StreamDeadLetterQueue } from './constructs/stream-dead-letter-queue.js';
import { WorkQueue } from './constructs/work-queue.js';

export interface StatefulStackProps extends StackProps {
  readonly config: PipelineConfig;
}

/**
 * What holds data or identity and must outlive any redeploy: the table (with its change stream), the
 * work queue and its DLQ (accepted webhooks), the change stream's DLQ (changes whose events could not
 * be published), the event bus with its archive, and the secrets, each retained on deletion;
 * the audio bucket (archived recordings); and the alarm topic, whose confirmed subscriptions must outlive a redeploy of the alarms.
 * Deployed first; the stateless stack only references it.
 */
export class StatefulStack extends Stack {
  /** With its change stream, which the stateless stack's outbox publisher reads. */
  public readonly table: StreamingTable;
  public readonly bus: IEventBus;
  public readonly webhookSecret: ISecret;
  public readonly apiKeySecret: ISecret;
  public readonly callerKeySecret: ISecret;
  public readonly queue: IQueue;
  public readonly deadLetterQueue: IQueue;
  /** Descriptions of batches of table changes the outbox publisher could not publish. */
  public readonly streamDeadLetterQueue: IQueue;
  public readonly alarmTopic: ITopic;
  public readonly audioBucket: IBucket;

  constructor(scope: Construct, id: string, props: StatefulStackProps) {
    super(scope, id, props);
    const { config } = props;

    this.table = new ConversationTable(this, 'Conversations').table;
    const work = new WorkQueue(this, 'Work', {
      visibilityTimeout: Duration.seconds(config.processor.schedule.visibilityTimeoutSeconds),
      maxReceiveCount: config.processor.settings.maxReceiveCount,
    });
    this.queue = work.queue;
    this.deadLetterQueue = work.deadLetterQueue;
    this.streamDeadLetterQueue = new StreamDeadLetterQueue(this, 'StreamFailures').queue;
    this.alarmTopic = new AlarmTopic(this, 'Alarms', { email: config.alarms.email }).topic;
    const events = new ConversationEventBus(this, 'Events', { archiveRetentionDays: config.events.archiveRetentionDays });
    this.bus = events.bus;
    const secrets = new PipelineSecrets(this, 'Secrets', config.secrets);
    this.webhookSecret = secrets.webhookSecret;
    this.apiKeySecret = secrets.apiKeySecret;
    this.callerKeySecret = secrets.callerKeySecret;
    this.audioBucket = new AudioBucket(this, 'Audio', { retentionDays: config.audio.retentionDays }).bucket;

    new CfnOutput(this, 'TableName', { value: this.table.tableName });
    new CfnOutput(this, 'AudioBucketName', { description: 'Archived conversation recordings', value: this.audioBucket.bucketName });
    new CfnOutput(this, 'EventBusName', { description: 'Subscribe your rules to this bus', value: this.bus.eventBusName });
    new CfnOutput(this, 'EventBusArn', { value: this.bus.eventBusArn });
    new CfnOutput(this, 'EventArchiveArn', { description: 'Replay source (aws events start-replay)', value: events.archive.archiveArn });
    new CfnOutput(this, 'DeadLetterQueueArn', { description: 'Redrive source (aws sqs start-message-move-task)', value: this.deadLetterQueue.queueArn });
    new CfnOutput(this, 'StreamDeadLetterQueueUrl', {
      description: 'Batches of table changes whose events could not be published (aws sqs receive-message)',
      value: this.streamDeadLetterQueue.queueUrl,
    });
    new CfnOutput(this, 'WorkQueueUrl', { description: 'Replay destination (npm run replay -- --queue-url)', value: this.queue.queueUrl });
    new CfnOutput(this, 'AlarmTopicArn', { description: 'Every alarm notifies this topic; subscribe here', value: this.alarmTopic.topicArn });
    new CfnOutput(this, 'WebhookSecretArn', { description: 'Register its value with ThreeTone', value: this.webhookSecret.secretArn });
    new CfnOutput(this, 'ApiKeySecretArn', { description: 'Put your ThreeTone API key here', value: this.apiKeySecret.secretArn });
  }
}
