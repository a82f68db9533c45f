/**
 * Enricher Lambda (every minute): wiring only. For up to ENRICHER_RUN_SECONDS it drains the
 * enrichment queue within ThreeTone's quota, looking again every few seconds while it is empty, so
 * details follow within seconds and the backlog moves whether or not webhooks arrive.
 */
import { numEnv } from '#functions/config.js';
import { deployedEnricher } from '#functions/shared/conversation-pipeline.js';

const runMs = numEnv(process.env, 'ENRICHER_RUN_SECONDS', 50, { min: 1 }) * 1000;
const enricher = deployedEnricher();

export const handler = () => enricher.drain({ deadlineMs: runMs, pollMs: 2_000 });
