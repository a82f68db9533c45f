/**
 * The one Powertools logger of every function (and of the local server, which runs the same code).
 * Structured JSON lines; `appendKeys({ conversation_id })` per record. Never log payloads: webhook
 * data, transcripts and phone numbers are personal data.
 */
import { Logger } from '@aws-lambda-powertools/logger';

export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'threetone-pipeline' });
export type { Logger };

/**
 * What may be logged of an unexpected error: its name and message, never its stack (which can
 * carry payload fragments from SDK errors and is noise in structured logs).
 */
export function errorFields(err: unknown): { error: string; reason: string } {
  if (err instanceof Error) return { error: err.name, reason: err.message.slice(0, 300) };
  return { error: 'Error', reason: String(err).slice(0, 300) };
}
