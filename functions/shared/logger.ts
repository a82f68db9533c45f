/**
 * The one Powertools logger of every function (and of the local server, which runs the same code).
 * Structured JSON lines; `appendKeys({ conversation_id })` per record. Never log payloads: webhook
 * data, transcripts and phone numbers are personal data.
 */
import { Logger } from '@aws-lambda-powertools/logger';

export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'threetone-pipeline' });
export type { Logger };

/** Errors this service throws: their messages are written here and carry codes and ids, never payload values. */
const OWN_ERRORS = new Set(['UnprocessableMessageError', 'DetailsNotFoundError', 'ConfigError', 'HttpError', 'ConcurrentUpdateError', 'ConversationErasedError', 'ThreeToneError']);

/**
 * What may be logged (or put in an alert) of an error: its name, and its message only when this
 * service wrote it. Other messages are withheld, because they can quote payload values (the
 * DynamoDB marshaller quotes the number it refuses, a parser the text it choked on); never a stack.
 */
export function errorFields(err: unknown): { error: string; reason: string } {
  if (!(err instanceof Error)) return { error: 'Error', reason: 'non-error thrown' };
  return { error: err.name, reason: OWN_ERRORS.has(err.name) ? err.message.slice(0, 300) : 'message withheld' };
}
