/**
 * AudioLinks on S3: a presigned `GetObject` URL, valid for a short while, that serves the recording
 * with its stored media type. Signed with the query function's own credentials, so it works only
 * while that role may read the object (and at most `expiresInSeconds`).
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { audioObjectKey } from '#core/audio.js';
import type { AudioLinks } from '#functions/ports.js';

/** How long a link to a recording works. */
export const AUDIO_LINK_SECONDS = 300;

export function createS3AudioLinks(s3: S3Client, bucket: string, opts: { expiresInSeconds?: number } = {}): AudioLinks {
  return {
    presign(conversationId, contentType) {
      const command = new GetObjectCommand({
        Bucket: bucket,
        Key: audioObjectKey(conversationId),
        ResponseContentType: contentType,
        ResponseCacheControl: 'no-store',
      });
      return getSignedUrl(s3, command, { expiresIn: opts.expiresInSeconds ?? AUDIO_LINK_SECONDS });
    },
  };
}
