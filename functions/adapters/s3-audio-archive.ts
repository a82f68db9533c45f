/**
 * AudioArchive on S3 (README "Audio", D27): each recording streamed into the bucket with the SDK's
 * managed upload (`@aws-sdk/lib-storage`): a body up to one part goes in one PutObject, a larger one
 * as a multipart upload of 5 MiB parts, at most `queueSize` parts in memory at once, so a recording
 * of any size never sits whole in the Lambda's memory. A failed upload is aborted (no parts left
 * behind; the bucket's lifecycle rule also aborts any a crash leaves). Object keys are
 * `audio/<sha256 of the conversation id>` (`audioObjectKey`), never the id itself.
 */
import { DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { type Readable, Transform } from 'node:stream';
import { audioObjectKey } from '#core/audio.js';
import type { AudioArchive } from '#functions/ports.js';

export interface S3AudioArchiveOptions {
  /** Bytes per part (S3's minimum, 5 MiB, by default). */
  readonly partSize?: number;
  /** Parts uploaded (and held in memory) at once. @default 2 */
  readonly queueSize?: number;
}

export const MIN_PART_BYTES = 5 * 1024 * 1024;

export function createS3AudioArchive(s3: S3Client, bucket: string, opts: S3AudioArchiveOptions = {}): AudioArchive {
  return {
    async store(conversationId, body, contentType) {
      let sizeBytes = 0;
      const counted = new Transform({
        transform(chunk: Buffer, _enc, done) {
          sizeBytes += chunk.length;
          done(null, chunk);
        },
      });
      // A failing source fails the upload (which then aborts), instead of ending the object early.
      body.on('error', (err) => counted.destroy(err));
      body.pipe(counted);
      const upload = new Upload({
        client: s3,
        params: { Bucket: bucket, Key: audioObjectKey(conversationId), Body: counted as Readable, ContentType: contentType },
        partSize: opts.partSize ?? MIN_PART_BYTES,
        queueSize: opts.queueSize ?? 2,
        leavePartsOnError: false,
      });
      await upload.done();
      return { contentType, sizeBytes };
    },

    async delete(conversationId) {
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: audioObjectKey(conversationId) }));
    },
  };
}
