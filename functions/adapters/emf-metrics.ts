/**
 * Counters as CloudWatch Embedded Metric Format lines on stdout: CloudWatch Logs turns each line
 * into a metric, with no API call and no Powertools Metrics dependency in the bundle.
 *
 * Written to `process.stdout` directly, never through `console`: under Lambda's JSON log format
 * (lib/constructs/node-function.ts) the runtime wraps every `console` line in its own JSON object
 * (`{"timestamp", "level", "message": ...}`), and CloudWatch would no longer find the metric in it.
 */
import type { EnricherMetrics, IngestMetrics } from '#functions/ports.js';

type Metric = { readonly name: string; readonly unit: 'Count' | 'Seconds'; readonly value: number };

/** One EMF document with these metrics under the `service` dimension, as one line. */
function writeMetrics(namespace: string, service: string, metrics: readonly Metric[]): void {
  const doc: Record<string, unknown> = {
    _aws: {
      Timestamp: Date.now(),
      CloudWatchMetrics: [{ Namespace: namespace, Dimensions: [['service']], Metrics: metrics.map((m) => ({ Name: m.name, Unit: m.unit })) }],
    },
    service,
  };
  for (const m of metrics) doc[m.name] = m.value;
  process.stdout.write(`${JSON.stringify(doc)}\n`);
}

export function emitCount(name: string, namespace: string, service: string): void {
  writeMetrics(namespace, service, [{ name, unit: 'Count', value: 1 }]);
}

export function emfIngestMetrics(
  namespace = process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'ThreeTonePipeline',
  service = process.env.POWERTOOLS_SERVICE_NAME ?? 'threetone-pipeline',
): IngestMetrics {
  return {
    signatureFailure: () => emitCount('SignatureFailures', namespace, service),
    accepted: () => emitCount('WebhooksAccepted', namespace, service),
  };
}

/** Names of the enrichment backlog metrics (the stack's alarm and dashboard read them). */
export const ENRICHMENT_METRICS = { pending: 'EnrichmentsPending', oldestAge: 'OldestEnrichmentAgeSeconds' } as const;

export function emfEnricherMetrics(
  namespace = process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'ThreeTonePipeline',
  service = process.env.POWERTOOLS_SERVICE_NAME ?? 'threetone-pipeline',
): EnricherMetrics {
  return {
    backlog(pending, oldestAgeSeconds) {
      writeMetrics(namespace, service, [
        { name: ENRICHMENT_METRICS.pending, unit: 'Count', value: pending },
        { name: ENRICHMENT_METRICS.oldestAge, unit: 'Seconds', value: oldestAgeSeconds },
      ]);
    },
    throttled: () => emitCount('ThreeToneThrottled', namespace, service),
  };
}
