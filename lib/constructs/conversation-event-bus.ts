import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Archive, EventBus } from 'aws-cdk-lib/aws-events';
import { Construct } from 'constructs';
import { EVENT_SOURCE } from '#core/bus-events.js';

export interface ConversationEventBusProps {
  /** Days the archive keeps events for replay; 0 keeps them forever. */
  readonly archiveRetentionDays: number;
}

/**
 * The bus consumers subscribe to, with an archive of everything this service publishes so that a
 * consumer that was down (or newly added) can be replayed the events it missed. Both are retained
 * when the stack is deleted: consumers' rules live on the bus, and the archive is their replay source.
 */
export class ConversationEventBus extends Construct {
  public readonly bus: EventBus;
  public readonly archive: Archive;

  constructor(scope: Construct, id: string, props: ConversationEventBusProps) {
    super(scope, id);
    this.bus = new EventBus(this, 'Bus', {
      description: `ThreeTone conversation events (source "${EVENT_SOURCE}")`,
    });
    this.archive = this.bus.archive('Archive', {
      description: `Every "${EVENT_SOURCE}" event, for replay to consumers`,
      eventPattern: { source: [EVENT_SOURCE] },
      retention: props.archiveRetentionDays > 0 ? Duration.days(props.archiveRetentionDays) : undefined,
    });
    this.bus.applyRemovalPolicy(RemovalPolicy.RETAIN);
    this.archive.applyRemovalPolicy(RemovalPolicy.RETAIN);
  }
}
