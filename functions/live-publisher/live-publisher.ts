/**
 * Live publisher (AWS): the target of an EventBridge rule on the pipeline's bus. Per event:
 * 1. serialize the envelope exactly as EventBridge delivered it (the same shape the local stream
 *    sends) 2. publish it to its channel (`functions/core/live-channel.ts`) 3. on failure, throw:
 * Lambda retries the asynchronous invocation, then sends it to the on-failure queue.
 */
import type { EventBridgeEvent } from 'aws-lambda';
import { liveChannel } from '#core/live-channel.js';
import type { LiveChannelPublisher } from '#functions/ports.js';
import { errorFields, logger } from '#functions/shared/logger.js';

export interface LivePublisherDeps {
  readonly channels: LiveChannelPublisher;
}

export type LivePublisherHandler = (event: EventBridgeEvent<string, Record<string, unknown>>) => Promise<void>;

export function createLivePublisherHandler(deps: LivePublisherDeps): LivePublisherHandler {
  return async (event) => {
    const channel = liveChannel(event);
    const ids = { detailType: event['detail-type'], eventId: event.detail?.event_id };
    try {
      await deps.channels.publish(channel, [JSON.stringify(event)]);
    } catch (err) {
      logger.error('live publish failed', { ...ids, ...errorFields(err) });
      throw err;
    }
    logger.debug('live event published', ids);
  };
}
