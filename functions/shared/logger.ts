/**
 * The one Powertools logger of every function (and of the local server, which runs the same code).
 * Structured JSON lines; `appendKeys({ conversation_id })` per record. Never log payloads: webhook
 * data, transcripts and phone numbers are personal data.
 */
import { Logger } from '@aws-lambda-powertools/logger';

export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'threetone-pipeline' });
export type { Logger };
