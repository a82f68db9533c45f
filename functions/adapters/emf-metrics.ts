/**
 * Counters as CloudWatch Embedded Metric Format lines on stdout: CloudWatch Logs turns each line
 * into a metric, with no API call and no Powertools Metrics dependency in the bundle.
 */
import type { EnricherMetrics } from '#functions/enricher/enricher.js';
import type { IngestMetrics } from '#functions/ingest/ingest.js';

export function emitCount(name: string, namespace: string, service: string): void {
  console.log(
    JSON.stringify({
      _aws: {
        Timestamp: Date.now(),
        CloudWatchMetrics: [{ Namespace: namespace, Dimensions: [['service']], Metrics: [{ Name: name, Unit: 'Count' }] }],
      },
      service,
      [name]: 1,
    }),
  );
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
      console.log(
        JSON.stringify({
          _aws: {
            Timestamp: Date.now(),
            CloudWatchMetrics: [
              {
                Namespace: namespace,
                Dimensions: [['service']],
                Metrics: [
                  { Name: ENRICHMENT_METRICS.pending, Unit: 'Count' },
                  { Name: ENRICHMENT_METRICS.oldestAge, Unit: 'Seconds' },
                ],
              },
            ],
          },
          service,
          [ENRICHMENT_METRICS.pending]: pending,
          [ENRICHMENT_METRICS.oldestAge]: oldestAgeSeconds,
        }),
      );
    },
    throttled: () => emitCount('ThreeToneThrottled', namespace, service),
  };
}
