/**
 * AudioArchive on the local disk (`npm start`: DATA_DIR/audio/). Each recording is streamed to a
 * temporary file, flushed, then renamed onto its name (the SHA-256 of the conversation id,
 * `audioObjectName`), so a crash or a failed download never leaves a half file under that name, and
 * storing again replaces it whole. `open` hands the local server a file to serve (with ranges).
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { type FileHandle, mkdir, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { audioObjectName } from '#core/audio.js';
import type { AudioArchive } from '#functions/ports.js';

export interface FileAudioArchive extends AudioArchive {
  readonly dir: string;
  /** The stored recording, opened (a deletion meanwhile does not cut a read short); null when none. */
  open(conversationId: string): Promise<{ handle: FileHandle; size: number } | null>;
  /** Where a conversation's recording is (whether or not it exists). */
  pathOf(conversationId: string): string;
}

const TEMP_PREFIX = '.partial-';

export async function createFileAudioArchive(dir: string): Promise<FileAudioArchive> {
  await mkdir(dir, { recursive: true });
  const pathOf = (conversationId: string) => join(dir, audioObjectName(conversationId));
  return {
    dir,
    pathOf,
    async store(conversationId, body: Readable, contentType) {
      const temp = join(dir, `${TEMP_PREFIX}${randomUUID()}`);
      let sizeBytes = 0;
      const count = async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          sizeBytes += chunk.length;
          yield chunk;
        }
      };
      const out = createWriteStream(temp, { flush: true });
      try {
        await pipeline(body, count, out);
        await rename(temp, pathOf(conversationId));
      } catch (err) {
        await rm(temp, { force: true });
        throw err;
      }
      return { contentType, sizeBytes };
    },
    async delete(conversationId) {
      await rm(pathOf(conversationId), { force: true });
    },
    async open(conversationId) {
      let handle: FileHandle;
      try {
        handle = await open(pathOf(conversationId), 'r');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw err;
      }
      const { size } = await handle.stat();
      return { handle, size };
    },
  };
}
