import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createEventBridgePublisher } from '#adapters/eventbridge-publisher.js';
import { busEvent, DetailType, EVENT_SOURCE } from '#core/bus-events.js';

const eb = mockClient(EventBridgeClient);
const events = (n: number, size = 10) =>
  Array.from({ length: n }, (_, i) => busEvent(DetailType.ThreeToneEvent, `e${i}`, '2026-11-20T10:00:00.000Z', { i, pad: 'x'.repeat(size) }));
const publisher = () => createEventBridgePublisher(new EventBridgeClient({ region: 'us-east-1' }), 'bus-1', { sleep: async () => undefined });
const sentDetails = (call: number) =>
  (eb.commandCalls(PutEventsCommand)[call]!.args[0].input.Entries ?? []).map((e) => JSON.parse(e.Detail!).i as number);

describe('EventBridge publisher', () => {
  beforeEach(() => eb.reset());

  it('sends at most 10 entries per PutEvents, with our source, detail-type, bus and time', async () => {
    eb.on(PutEventsCommand).callsFake((input) => ({ FailedEntryCount: 0, Entries: input.Entries.map(() => ({ EventId: 'id' })) }));

    const { failed } = await publisher().publish(events(23));

    expect(failed).toEqual([]);
    expect(eb.commandCalls(PutEventsCommand).map((c) => c.args[0].input.Entries?.length)).toEqual([10, 10, 3]);
    const first = eb.commandCalls(PutEventsCommand)[0]!.args[0].input.Entries![0]!;
    expect(first).toMatchObject({ EventBusName: 'bus-1', Source: EVENT_SOURCE, DetailType: 'ThreeTone Event', Time: new Date('2026-11-20T10:00:00.000Z') });
    expect(JSON.parse(first.Detail!)).toMatchObject({ schema_version: '1', event_id: expect.any(String) });
  });

  it('splits calls at 256 KB', async () => {
    eb.on(PutEventsCommand).callsFake((input) => ({ FailedEntryCount: 0, Entries: input.Entries.map(() => ({ EventId: 'id' })) }));
    await publisher().publish(events(3, 100_000));
    expect(eb.commandCalls(PutEventsCommand).map((c) => c.args[0].input.Entries?.length)).toEqual([2, 1]);
  });

  it('on a partial failure resends only the failed entries', async () => {
    eb.on(PutEventsCommand)
      .resolvesOnce({ FailedEntryCount: 2, Entries: [{ EventId: 'a' }, { ErrorCode: 'InternalFailure' }, { EventId: 'c' }, { ErrorCode: 'ThrottlingException' }] })
      .resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'b' }, { EventId: 'd' }] });

    const { failed } = await publisher().publish(events(4));

    expect(failed).toEqual([]);
    expect(sentDetails(0)).toEqual([0, 1, 2, 3]);
    expect(sentDetails(1)).toEqual([1, 3]);
  });

  it('returns what still fails after the retries, and treats a failed call as all pending', async () => {
    // event 1 is refused every time; event 0 goes through once the network is back
    eb.on(PutEventsCommand)
      .rejectsOnce(new Error('network down'))
      .callsFake((input) => {
        const entries = input.Entries.map((e: { Detail: string }) => (JSON.parse(e.Detail).i === 1 ? { ErrorCode: 'InternalFailure' } : { EventId: 'ok' }));
        return { FailedEntryCount: entries.filter((e: { ErrorCode?: string }) => e.ErrorCode).length, Entries: entries };
      });

    const evts = events(2);
    const { failed } = await publisher().publish(evts);

    expect(failed.map((f) => f.detail.event_id)).toEqual([evts[1]!.detail.event_id]);
    expect(eb.commandCalls(PutEventsCommand)).toHaveLength(3);
  });

  it('fails an entry too large for EventBridge without sending it', async () => {
    eb.on(PutEventsCommand).callsFake((input) => ({ FailedEntryCount: 0, Entries: input.Entries.map(() => ({ EventId: 'id' })) }));
    const [big] = events(1, 300 * 1024);
    const { failed } = await publisher().publish([big!]);
    expect(failed).toHaveLength(1);
    expect(eb.commandCalls(PutEventsCommand)).toHaveLength(0);
  });
});
