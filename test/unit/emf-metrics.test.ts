import { afterEach, describe, expect, it, vi } from 'vitest';
import { emfEnricherMetrics, emitCount, ENRICHMENT_METRICS } from '#adapters/emf-metrics.js';

describe('EMF metrics', () => {
  afterEach(() => vi.restoreAllMocks());

  /** stdout as CloudWatch receives it, with `console` wrapped the way Lambda's JSON log format wraps it. */
  function capture(): string[] {
    const lines: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      return true;
    });
    vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
      lines.push(JSON.stringify({ timestamp: new Date().toISOString(), level: 'INFO', message: args.join(' ') }));
    });
    return lines;
  }

  it('writes a counter as one EMF line CloudWatch can read under the JSON log format (not wrapped by console)', () => {
    const lines = capture();
    emitCount('DeadLettered', 'ThreeTonePipeline', 'svc');
    expect(lines).toHaveLength(1);
    const doc = JSON.parse(lines[0]!);
    expect(doc._aws.CloudWatchMetrics).toEqual([{ Namespace: 'ThreeTonePipeline', Dimensions: [['service']], Metrics: [{ Name: 'DeadLettered', Unit: 'Count' }] }]);
    expect(doc).toMatchObject({ service: 'svc', DeadLettered: 1 });
    expect(doc.message).toBeUndefined();
  });

  it('writes the enrichment backlog as one document with both metrics', () => {
    const lines = capture();
    emfEnricherMetrics('NS', 'svc').backlog(7, 42);
    expect(lines).toHaveLength(1);
    const doc = JSON.parse(lines[0]!);
    expect(doc._aws.CloudWatchMetrics[0].Metrics).toEqual([
      { Name: ENRICHMENT_METRICS.pending, Unit: 'Count' },
      { Name: ENRICHMENT_METRICS.oldestAge, Unit: 'Seconds' },
    ]);
    expect(doc).toMatchObject({ [ENRICHMENT_METRICS.pending]: 7, [ENRICHMENT_METRICS.oldestAge]: 42 });
  });
});
