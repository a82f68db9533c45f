import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { beforeEach, describe, expect, it } from 'vitest';
import { createSqsQueue } from '#adapters/sqs-queue.js';

const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/webhooks';
const sqs = mockClient(SQSClient);

describe('createSqsQueue', () => {
  beforeEach(() => sqs.reset());

  it('sends the raw body with receivedAt as a String attribute', async () => {
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
    const body = '{\n  "event": "call_started", "note": "Grüße 🎧"\n}';
    const queue = createSqsQueue(new SQSClient({}), QUEUE_URL);

    await queue.send({ body, receivedAt: '2024-01-15T10:30:00.000Z' });

    expect(sqs).toHaveReceivedCommandOnce(SendMessageCommand);
    expect(sqs).toHaveReceivedCommandWith(SendMessageCommand, {
      QueueUrl: QUEUE_URL,
      MessageBody: body,
      MessageAttributes: { receivedAt: { DataType: 'String', StringValue: '2024-01-15T10:30:00.000Z' } },
    });
    const input = sqs.commandCalls(SendMessageCommand)[0]?.args[0].input;
    expect(Object.keys(input ?? {}).sort()).toEqual(['MessageAttributes', 'MessageBody', 'QueueUrl']);
  });

  it('rejects when SQS fails, so the caller never reports acceptance', async () => {
    sqs.on(SendMessageCommand).rejects(new Error('ServiceUnavailable'));
    const queue = createSqsQueue(new SQSClient({}), QUEUE_URL);

    await expect(queue.send({ body: '{}', receivedAt: '2024-01-15T10:30:00.000Z' })).rejects.toThrow('ServiceUnavailable');
  });
});
