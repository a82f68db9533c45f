/**
 * `WebhookQueue` on SQS: the raw webhook body as the message body (the processor re-parses it),
 * the acceptance time as a message attribute. `send` resolves only after SQS acknowledged the
 * message, i.e. it is durably stored.
 *
 * SQS accepts only #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF in a body, while
 * JSON strings may hold others (e.g. U+FFFE). Such a body is sent base64-encoded with the attribute
 * `bodyEncoding=base64`, so a valid webhook is never refused (ThreeTone would retry it forever).
 */
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { WebhookQueue } from '#functions/ports.js';

// eslint-disable-next-line no-control-regex
const OUTSIDE_SQS_CHARSET = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

export const BODY_ENCODING_ATTRIBUTE = 'bodyEncoding';

export function createSqsQueue(client: SQSClient, queueUrl: string): WebhookQueue {
  return {
    async send({ body, receivedAt, delaySeconds }) {
      const encode = OUTSIDE_SQS_CHARSET.test(body);
      await client.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: encode ? Buffer.from(body, 'utf8').toString('base64') : body,
          ...(delaySeconds !== undefined && { DelaySeconds: delaySeconds }),
          MessageAttributes: {
            receivedAt: { DataType: 'String', StringValue: receivedAt },
            ...(encode ? { [BODY_ENCODING_ATTRIBUTE]: { DataType: 'String', StringValue: 'base64' } } : {}),
          },
        }),
      );
    },
  };
}

/** The webhook body of a queue record, decoded if the sender had to encode it. */
export function messageBody(record: { body: string; messageAttributes?: Record<string, { stringValue?: string }> }): string {
  return record.messageAttributes?.[BODY_ENCODING_ATTRIBUTE]?.stringValue === 'base64' ? Buffer.from(record.body, 'base64').toString('utf8') : record.body;
}
