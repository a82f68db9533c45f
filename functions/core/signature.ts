/**
 * Webhook signature (README.md "The webhook contract"; assumed scheme): `<prefix><hex>` where `<hex>` is
 * HMAC-SHA256(key = secret as UTF-8, message = the exact raw request body). Header name and prefix
 * are configuration; several secrets are accepted at once so a rotation needs no downtime.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** SHA-256 digest length; a presented signature of any other length cannot match. */
const DIGEST_HEX = /^[0-9a-f]{64}$/i;

export type SignatureCheck = 'ok' | 'missing' | 'invalid';

function hmac(rawBody: Buffer | string, secret: string): Buffer {
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(rawBody).digest();
}

/** The header value ThreeTone sends for `rawBody` (used by the local sender and tests). */
export function signBody(rawBody: Buffer | string, secret: string, prefix = 'sha256='): string {
  return prefix + hmac(rawBody, secret).toString('hex');
}

/**
 * Checks `header` against every secret in constant time per comparison. Never throws on bad input:
 * a header that is not `<prefix><64 hex digits>` is simply `invalid`. The prefix is matched
 * case-insensitively (`SHA256=` is the same scheme); the hex may be upper-case.
 */
export function verifySignature(
  rawBody: Buffer,
  header: string | undefined,
  secrets: readonly string[],
  prefix: string,
): SignatureCheck {
  const value = header?.trim();
  if (!value) return 'missing';
  if (value.slice(0, prefix.length).toLowerCase() !== prefix.toLowerCase()) return 'invalid';
  const hex = value.slice(prefix.length);
  if (!DIGEST_HEX.test(hex)) return 'invalid';
  const presented = Buffer.from(hex, 'hex');
  // Every secret is checked (no early return) so timing does not tell which one matched.
  let matched = false;
  for (const secret of secrets) {
    if (timingSafeEqual(hmac(rawBody, secret), presented)) matched = true;
  }
  return matched ? 'ok' : 'invalid';
}
