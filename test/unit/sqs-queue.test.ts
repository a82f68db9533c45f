import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { beforeEach, describe, expect, it } from 'vitest';
import { createSqsQueue } from '#adapters/sqs-queue.js';
import { messageBody } from '#functions/shared/queue-message.js';

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

describe('bodies outside the SQS character set', () => {
  beforeEach(() => sqs.reset());
  it('are sent base64-encoded with bodyEncoding=base64 and decoded back to the exact text', async () => {
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm' });
    const body = '{"event":"x","timestamp":1,"data":{"note":"\uFFFE odd \uFFFF"}}';

    await createSqsQueue(new SQSClient({ region: 'us-east-1' }), 'https://sqs.local/q').send({ body, receivedAt: '2026-01-01T00:00:00.000Z' });

    const input = sqs.commandCalls(SendMessageCommand)[0]!.args[0].input;
    expect(input.MessageBody).not.toContain('\uFFFE');
    expect(input.MessageAttributes?.bodyEncoding).toEqual({ DataType: 'String', StringValue: 'base64' });
    expect(messageBody({ body: input.MessageBody!, messageAttributes: { bodyEncoding: { stringValue: 'base64' } } })).toBe(body);
  });

  it('ordinary unicode bodies are sent as they are', async () => {
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm' });
    const body = '{"event":"x","timestamp":1,"data":{"note":"Grüße 你好 🎧"}}';
    await createSqsQueue(new SQSClient({ region: 'us-east-1' }), 'https://sqs.local/q').send({ body, receivedAt: 'now' });
    const input = sqs.commandCalls(SendMessageCommand)[0]!.args[0].input;
    expect(input.MessageBody).toBe(body);
    expect(input.MessageAttributes?.bodyEncoding).toBeUndefined();
    expect(messageBody({ body })).toBe(body);
  });
});
