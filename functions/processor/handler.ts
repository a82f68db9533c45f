/**
 * Processor Lambda: wiring only. It records webhook facts and never calls ThreeTone: the scheduled
 * enricher fetches details (functions/enricher/handler.ts), so no batch waits for ThreeTone.
 */
import { deployedProcessor } from '#functions/shared/conversation-pipeline.js';
import { createProcessorHandler } from './processor.js';

const { deps, processor } = deployedProcessor();

export const handler = createProcessorHandler(deps, processor);
