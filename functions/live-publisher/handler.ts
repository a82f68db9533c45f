/**
 * Live publisher Lambda: wiring only (see live-publisher.ts). Lambda puts the role's credentials in
 * the environment; they are read per request, so a refresh is picked up.
 */
import { createAppSyncEventsPublisher } from '#adapters/appsync-events-publisher.js';
import { loadLivePublisherConfig, requireEnv } from '#functions/config.js';
import { createLivePublisherHandler } from './live-publisher.js';

const config = loadLivePublisherConfig();

export const handler = createLivePublisherHandler({
  channels: createAppSyncEventsPublisher({
    httpDomain: config.httpDomain,
    region: config.region,
    credentials: () => ({
      accessKeyId: requireEnv(process.env, 'AWS_ACCESS_KEY_ID'),
      secretAccessKey: requireEnv(process.env, 'AWS_SECRET_ACCESS_KEY'),
      sessionToken: process.env.AWS_SESSION_TOKEN,
    }),
  }),
});
