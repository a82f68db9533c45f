/**
 * `WebhookQueue` on SQS: the raw webhook body as the message body (the processor re-parses it),
 * the acceptance time as a message attribute. `send` resolves only after SQS acknowledged the
 * message, i.e. it is durably stored.
 */
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { WebhookQueue } from '#functions/ports.js';

export function createSqsQueue(client: SQSClient, queueUrl: string): WebhookQueue {
  return {
    async send({ body, receivedAt }) {
      await client.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: body,
          MessageAttributes: { receivedAt: { DataType: 'String', StringValue: receivedAt } },
        }),
      );
    },
  };
}
