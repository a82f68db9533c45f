/** The live page's browser SigV4 signer gives the same signature as the AWS SDK's signer. */
import { Sha256 as NodeSha256 } from '#adapters/appsync-events-publisher.js';
import { SignatureV4 } from '@smithy/signature-v4';
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain browser JavaScript, no type declarations
import { signRequest } from '#local/live-page/sigv4.js';

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', sessionToken: 'token/with+chars=' };
const now = new Date('2026-11-25T10:11:12.000Z');

describe('live page SigV4', () => {
  it.each([
    'https://abc123.execute-api.eu-west-1.amazonaws.com/conversations?status=active&from=2026-11-25T00%3A00%3A00.000Z&limit=100',
    'https://abc123.execute-api.eu-west-1.amazonaws.com/conversations/conv%201/transcript',
    'https://abc123.execute-api.eu-west-1.amazonaws.com/agents/a_1/metrics?to=2026-11-25&from=2026-11-19',
  ])('signs GET %s like the SDK', async (raw) => {
    const url = new URL(raw);
    const sdk = new SignatureV4({ credentials, region: 'eu-west-1', service: 'execute-api', sha256: NodeSha256 });
    const ours = await signRequest({ method: 'GET', url: raw, region: 'eu-west-1', credentials, now });

    const sig = (h: string) => h.match(/Signature=([0-9a-f]+)/)![1];
    expect(ours['x-amz-date']).toBe('20261125T101112Z');
    expect(ours['x-amz-security-token']).toBe(credentials.sessionToken);
    const expected = await sdk.sign(
      {
        method: 'GET',
        protocol: url.protocol,
        hostname: url.hostname,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: { host: url.host, 'x-amz-content-sha256': ours['x-amz-content-sha256'] },
      },
      { signingDate: now },
    );
    expect(sig(ours.authorization)).toBe(sig(expected.headers.authorization as string));
    expect(ours.authorization).toContain('SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token');
  });
});
