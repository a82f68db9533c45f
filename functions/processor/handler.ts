/**
 * Processor Lambda: wiring only. It records webhook facts and never calls ThreeTone: the scheduled
 * enricher fetches details (functions/enricher/handler.ts), so no batch waits for ThreeTone.
 */
import { deployedProcessor } from '#functions/shared/conversation-pipeline.js';
import { createProcessorHandler } from './processor.js';

// It stores webhooks, so it keys their phone fields for erasure by caller (CALLER_KEY_SECRET_ARN).
const { deps, processor } = deployedProcessor(process.env, { storesWebhooks: true });

export const handler = createProcessorHandler(deps, processor);
