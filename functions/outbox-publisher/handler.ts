/**
 * Outbox publisher Lambda: wiring only. Triggered by the table's change stream (filtered to items
 * that carry events); publishes them to the bus (functions/outbox-publisher/outbox-publisher.ts).
 */
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { createEventBridgePublisher } from '#adapters/eventbridge-publisher.js';
import { requireEnv } from '#functions/config.js';
import { createOutboxPublisher } from './outbox-publisher.js';

export const handler = createOutboxPublisher({ publisher: createEventBridgePublisher(new EventBridgeClient({}), requireEnv(process.env, 'EVENT_BUS_NAME')) });
