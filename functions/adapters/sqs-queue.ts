/**
 * `WebhookQueue` on SQS, in the message format of `functions/shared/queue-message.ts` (the raw
 * webhook body, re-parsed by the processor; the acceptance time as a message attribute). `send`
 * resolves only after SQS acknowledged the message, i.e. it is durably stored.
 */
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { WebhookQueue } from '#functions/ports.js';
import { BODY_ENCODING_ATTRIBUTE, encodeMessageBody } from '#functions/shared/queue-message.js';

export function createSqsQueue(client: SQSClient, queueUrl: string): WebhookQueue {
  return {
    async send({ body, receivedAt, delaySeconds }) {
      const { messageBody, encoded } = encodeMessageBody(body);
      await client.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: messageBody,
          ...(delaySeconds !== undefined && { DelaySeconds: delaySeconds }),
          MessageAttributes: {
            receivedAt: { DataType: 'String', StringValue: receivedAt },
            ...(encoded ? { [BODY_ENCODING_ATTRIBUTE]: { DataType: 'String', StringValue: 'base64' } } : {}),
          },
        }),
      );
    },
  };
}
