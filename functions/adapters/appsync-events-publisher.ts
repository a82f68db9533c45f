/**
 * `LiveChannelPublisher` over AppSync Events' HTTP publish API: `POST https://<http domain>/event`
 * with `{channel, events}` (each event a JSON string, at most 5 per request), signed with SigV4
 * (service `appsync`) by the function's role, which may publish to the `live` namespace only.
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { LiveChannelPublisher } from '#functions/ports.js';

export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface AppSyncEventsPublisherOptions {
  readonly httpDomain: string;
  readonly region: string;
  /** Read per request: Lambda's role credentials are in its environment. */
  readonly credentials: () => AwsCredentials;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** @default 5000 */
  readonly timeoutMs?: number;
}

/** AppSync Events' limit of events per publish request. */
export const MAX_EVENTS_PER_PUBLISH = 5;

export class LivePublishError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LivePublishError';
  }
}

const bytes = (d: string | ArrayBuffer | ArrayBufferView): Buffer =>
  typeof d === 'string' ? Buffer.from(d) : ArrayBuffer.isView(d) ? Buffer.from(d.buffer, d.byteOffset, d.byteLength) : Buffer.from(new Uint8Array(d));

/** SHA-256 / HMAC-SHA-256 for the signer, from node:crypto (the SDK signer's hash interface). */
export class Sha256 {
  private readonly h: Hash | Hmac;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.h = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.h.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.h.digest());
  }
}

export function createAppSyncEventsPublisher(opts: AppSyncEventsPublisherOptions): LiveChannelPublisher {
  const doFetch = opts.fetch ?? globalThis.fetch;
  return {
    async publish(channel, messages) {
      for (let i = 0; i < messages.length; i += MAX_EVENTS_PER_PUBLISH) {
        const body = JSON.stringify({ channel, events: messages.slice(i, i + MAX_EVENTS_PER_PUBLISH) });
        const signer = new SignatureV4({ credentials: opts.credentials(), region: opts.region, service: 'appsync', sha256: Sha256 });
        const signed = await signer.sign({
          method: 'POST',
          protocol: 'https:',
          hostname: opts.httpDomain,
          path: '/event',
          headers: { host: opts.httpDomain, 'content-type': 'application/json' },
          body,
        });
        const res = await doFetch(`https://${opts.httpDomain}/event`, {
          method: 'POST',
          headers: signed.headers,
          body,
          signal: AbortSignal.timeout(opts.timeoutMs ?? 5000),
        });
        if (!res.ok) throw new LivePublishError(`AppSync Events answered ${res.status}`);
        const answer = (await res.json().catch(() => ({}))) as { failed?: unknown[] };
        if (Array.isArray(answer.failed) && answer.failed.length > 0) {
          throw new LivePublishError(`AppSync Events refused ${answer.failed.length} event(s)`);
        }
      }
    },
  };
}
