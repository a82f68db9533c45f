// AWS Signature Version 4 for fetch() in a browser (WebCrypto), so that the live page can call the
// IAM-authorized query API of the deployed stack with an operator's temporary credentials.
// No dependencies; also runs in Node 20 (globalThis.crypto), where a test checks it against the SDK's signer.

const enc = new TextEncoder();
const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');
const sha256 = async (data) => hex(await crypto.subtle.digest('SHA-256', typeof data === 'string' ? enc.encode(data) : data));
async function hmac(key, data) {
  const k = await crypto.subtle.importKey('raw', typeof key === 'string' ? enc.encode(key) : key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return crypto.subtle.sign('HMAC', k, enc.encode(data));
}
// RFC 3986 encoding, as SigV4 wants it.
const uriEncode = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * Headers to add to a GET/POST request: `authorization`, `x-amz-date`, `x-amz-content-sha256` and,
 * with temporary credentials, `x-amz-security-token`.
 * @param {{ method: string, url: string, body?: string, region: string, service?: string,
 *   credentials: { accessKeyId: string, secretAccessKey: string, sessionToken?: string }, now?: Date }} req
 */
export async function signRequest(req) {
  const url = new URL(req.url);
  const service = req.service ?? 'execute-api';
  const amzDate = (req.now ?? new Date()).toISOString().replace(/[:-]|\.\d{3}/g, '');
  const day = amzDate.slice(0, 8);
  const payloadHash = await sha256(req.body ?? '');
  const headers = { host: url.host, 'x-amz-content-sha256': payloadHash, 'x-amz-date': amzDate };
  if (req.credentials.sessionToken) headers['x-amz-security-token'] = req.credentials.sessionToken;
  const names = Object.keys(headers).sort();
  const canonicalQuery = [...url.searchParams.entries()]
    .map(([k, v]) => [uriEncode(k), uriEncode(v)])
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  // Every service but S3 encodes the path as sent once more (a `%20` in the URL signs as `%2520`).
  const canonicalPath = url.pathname.split('/').map((seg) => uriEncode(seg)).join('/');
  const canonical = [
    req.method.toUpperCase(),
    canonicalPath,
    canonicalQuery,
    names.map((n) => `${n}:${String(headers[n]).trim()}\n`).join(''),
    names.join(';'),
    payloadHash,
  ].join('\n');
  const scope = `${day}/${req.region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, await sha256(canonical)].join('\n');
  let key = await hmac(`AWS4${req.credentials.secretAccessKey}`, day);
  for (const part of [req.region, service, 'aws4_request']) key = await hmac(key, part);
  const signature = hex(await hmac(key, toSign));
  const { host: _host, ...out } = headers;
  out.authorization = `AWS4-HMAC-SHA256 Credential=${req.credentials.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`;
  return out;
}
