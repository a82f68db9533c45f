/**
 * How a webhook travels in a work-queue message: its body as the message body, and the acceptance
 * time as a message attribute. The queue adapter writes this format and the processor's queue
 * handler reads it, so it lives here, apart from both.
 *
 * SQS accepts only #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF in a body, while
 * JSON strings may hold others (e.g. U+FFFE). Such a body is sent base64-encoded with the attribute
 * `bodyEncoding=base64`, so a valid webhook is never refused (ThreeTone would retry it forever).
 */

// eslint-disable-next-line no-control-regex
const OUTSIDE_SQS_CHARSET = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

export const BODY_ENCODING_ATTRIBUTE = 'bodyEncoding';

/** The message body for a webhook body, and whether it had to be encoded. */
export function encodeMessageBody(body: string): { messageBody: string; encoded: boolean } {
  const encoded = OUTSIDE_SQS_CHARSET.test(body);
  return { messageBody: encoded ? Buffer.from(body, 'utf8').toString('base64') : body, encoded };
}

/** The webhook body of a queue record, decoded if the sender had to encode it. */
export function messageBody(record: { body: string; messageAttributes?: Record<string, { stringValue?: string }> }): string {
  return record.messageAttributes?.[BODY_ENCODING_ATTRIBUTE]?.stringValue === 'base64' ? Buffer.from(record.body, 'base64').toString('utf8') : record.body;
}
