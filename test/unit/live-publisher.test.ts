/** The AWS half of the live stream: channel naming, the AppSync Events publisher, the Lambda's use case. */
import { describe, expect, it } from 'vitest';
import { createAppSyncEventsPublisher, LivePublishError } from '#adapters/appsync-events-publisher.js';
import { channelSegment, liveChannel } from '#core/live-channel.js';
import type { LiveChannelPublisher } from '#functions/ports.js';
import { createLivePublisherHandler } from '#functions/live-publisher/live-publisher.js';

const envelope = (detailType: string, detail: Record<string, unknown>) => ({
  version: '0' as const,
  id: 'e0a1',
  'detail-type': detailType,
  source: 'threetone.conversations',
  account: '123456789012',
  time: '2026-11-25T10:00:00Z',
  region: 'eu-west-1',
  resources: [],
  detail: { event_id: 'ev-1', schema_version: '1', ...detail },
});

describe('live channels', () => {
  it('names /live/<detail-type>/<agent>/<conversation>', () => {
    expect(liveChannel(envelope('Conversation Started', { agent_id: 'agent-7', conversation_id: 'conv-123' }))).toBe(
      '/live/conversation-started/agent-7/conv-123',
    );
  });

  it('uses "none" for a missing agent or conversation (platform alerts)', () => {
    expect(liveChannel(envelope('Platform Alert', { alert_type: 'system_error' }))).toBe('/live/platform-alert/none/none');
  });

  it.each([
    ['agent_7', 'agent-7'],
    ['  conv.1/2  ', 'conv-1-2'],
    ['___', 'none'],
    ['a'.repeat(60), 'a'.repeat(50)],
    [`${'b'.repeat(49)}_x`, 'b'.repeat(49)],
    ['Ünïcode-ok', 'n-code-ok'],
    [42, 'none'],
  ])('sanitizes %j to %j (letters, digits, "-"; at most 50)', (value, expected) => {
    expect(channelSegment(value)).toBe(expected);
  });
});

describe('AppSync Events publisher', () => {
  const credentials = () => ({ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret', sessionToken: 'tok' });

  function fakeFetch(answer: (body: { channel: string; events: string[] }) => Response) {
    const requests: { url: string; headers: Record<string, string>; body: { channel: string; events: string[] } }[] = [];
    const f = (async (url: string, init: RequestInit) => {
      const body = JSON.parse(String(init.body));
      requests.push({ url, headers: init.headers as Record<string, string>, body });
      return answer(body);
    }) as unknown as typeof fetch;
    return { f, requests };
  }

  it('POSTs {channel, events} to /event, SigV4-signed for appsync, at most 5 events per request', async () => {
    const { f, requests } = fakeFetch((b) => Response.json({ successful: b.events.map((_, i) => ({ index: i })), failed: [] }));
    const publisher = createAppSyncEventsPublisher({ httpDomain: 'abc.appsync-api.eu-west-1.amazonaws.com', region: 'eu-west-1', credentials, fetch: f });
    const messages = Array.from({ length: 7 }, (_, i) => JSON.stringify({ n: i }));

    await publisher.publish('/live/x/y/z', messages);

    expect(requests.map((r) => r.url)).toEqual(['https://abc.appsync-api.eu-west-1.amazonaws.com/event', 'https://abc.appsync-api.eu-west-1.amazonaws.com/event']);
    expect(requests.map((r) => r.body)).toEqual([
      { channel: '/live/x/y/z', events: messages.slice(0, 5) },
      { channel: '/live/x/y/z', events: messages.slice(5) },
    ]);
    const auth = requests[0]!.headers.authorization!;
    expect(auth).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/appsync\/aws4_request, SignedHeaders=[^,]*host[^,]*, Signature=[0-9a-f]{64}$/);
    expect(requests[0]!.headers['x-amz-security-token']).toBe('tok');
  });

  it('rejects when AppSync answers an error status or refuses an event', async () => {
    const status = fakeFetch(() => new Response('{}', { status: 401 }));
    const refused = fakeFetch(() => Response.json({ successful: [], failed: [{ index: 0, code: 400 }] }));
    const opts = { httpDomain: 'h', region: 'eu-west-1', credentials };

    await expect(createAppSyncEventsPublisher({ ...opts, fetch: status.f }).publish('/live/a', ['{}'])).rejects.toThrow(LivePublishError);
    await expect(createAppSyncEventsPublisher({ ...opts, fetch: refused.f }).publish('/live/a', ['{}'])).rejects.toThrow('refused 1');
  });
});

describe('live publisher handler', () => {
  function recording(fail = false) {
    const published: { channel: string; messages: readonly string[] }[] = [];
    const channels: LiveChannelPublisher = {
      async publish(channel, messages) {
        if (fail) throw new LivePublishError('down');
        published.push({ channel, messages });
      },
    };
    return { channels, published };
  }

  it('publishes the envelope exactly as delivered to its channel', async () => {
    const { channels, published } = recording();
    const event = envelope('Conversation Alert', { agent_id: 'a1', conversation_id: 'c1', alert_type: 'escalation' });

    await createLivePublisherHandler({ channels })(event);

    expect(published).toEqual([{ channel: '/live/conversation-alert/a1/c1', messages: [JSON.stringify(event)] }]);
    expect(JSON.parse(published[0]!.messages[0]!)).toEqual(event);
  });

  it('throws when publishing fails, so that Lambda retries the invocation', async () => {
    const { channels } = recording(true);
    await expect(createLivePublisherHandler({ channels })(envelope('Conversation Started', {}))).rejects.toThrow('down');
  });
});
