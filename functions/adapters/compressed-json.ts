/**
 * JSON kept gzip-compressed in a binary attribute: transcripts are text that compresses about 4×,
 * and DynamoDB bills writes per KB (issue 10). Only for values this service reads back whole.
 */
import { gunzipSync, gzipSync } from 'node:zlib';

export const compressJson = (value: unknown): Uint8Array => gzipSync(Buffer.from(JSON.stringify(value), 'utf8'));

export const decompressJson = (bytes: Uint8Array): unknown => JSON.parse(gunzipSync(bytes).toString('utf8'));
