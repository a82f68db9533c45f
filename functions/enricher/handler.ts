/**
 * Enricher Lambda (every minute): wiring only. For up to ENRICHER_RUN_SECONDS it drains the
 * enrichment queue within ThreeTone's quota, looking again every few seconds while it is empty, so
 * details follow within seconds and the backlog moves whether or not webhooks arrive.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { createS3AudioArchive } from '#adapters/s3-audio-archive.js';
import { AUDIO_BUCKET_ENV, numEnv, requireEnv } from '#functions/config.js';
import { deployedEnricher } from '#functions/shared/conversation-pipeline.js';

const runMs = numEnv(process.env, 'ENRICHER_RUN_SECONDS', 50, { min: 1 }) * 1000;
// Built here, not in the shared wiring, so that only this function bundles the S3 upload code.
const enricher = deployedEnricher(process.env, {
  audioArchive: () => createS3AudioArchive(new S3Client({}), requireEnv(process.env, AUDIO_BUCKET_ENV)),
});

export const handler = () => enricher.drain({ deadlineMs: runMs, pollMs: 2_000 });
