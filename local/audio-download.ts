/**
 * `GET /conversations/{conversation_id}/audio` in `npm start` (README "Audio"): where AWS redirects to
 * a presigned S3 URL, the local server streams the archived file itself, with single byte ranges
 * (`Range: bytes=a-b`, `a-`, `-n` → 206 and `Content-Range`; past the end → 416; anything else → the
 * whole file, 200). The record decides whether there is a recording (404 otherwise), like on AWS.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { parseByteRange } from '#core/audio.js';
import { errorResponse, notFound } from '#core/http.js';
import type { ConversationQueries } from '#functions/ports.js';
import { storedAudio } from '#functions/query/query.js';
import type { FileAudioArchive } from './file-audio-archive.js';

export type DownloadHandler = (req: IncomingMessage, res: ServerResponse, params: Record<string, string>) => Promise<void>;

export function createLocalAudioDownload(deps: { queries: Pick<ConversationQueries, 'getRecord'>; archive: FileAudioArchive }): DownloadHandler {
  return async (req, res, params) => {
    let file: Awaited<ReturnType<FileAudioArchive['open']>> = null;
    try {
      const stored = await storedAudio(deps.queries, params.conversation_id);
      file = await deps.archive.open(stored.conversationId);
      if (!file) throw notFound('Audio not stored.');
      const { size } = file;
      const range = parseByteRange(typeof req.headers.range === 'string' ? req.headers.range : undefined, size);
      const common = { 'content-type': stored.contentType, 'accept-ranges': 'bytes', 'cache-control': 'no-store' };
      if (range.kind === 'unsatisfiable') {
        res.writeHead(416, { ...common, 'content-type': 'application/json; charset=utf-8', 'content-range': `bytes */${size}` });
        res.end(JSON.stringify({ error: { code: 'range_not_satisfiable', message: `The recording has ${size} bytes.` } }));
        return;
      }
      const [start, end] = range.kind === 'partial' ? [range.start, range.end] : [0, size - 1];
      const length = size === 0 ? 0 : end - start + 1;
      res.writeHead(range.kind === 'partial' ? 206 : 200, {
        ...common,
        'content-length': length,
        ...(range.kind === 'partial' && { 'content-range': `bytes ${start}-${end}/${size}` }),
      });
      if (req.method === 'HEAD' || length === 0) {
        res.end();
        return;
      }
      await pipeline(file.handle.createReadStream({ start, end, autoClose: false }), res);
    } catch (err) {
      if (res.headersSent) throw err; // the connection is cut: the client sees a short body
      const out = errorResponse(err);
      res.writeHead(out.statusCode ?? 500, out.headers as Record<string, string>);
      res.end(out.body);
    } finally {
      await file?.handle.close().catch(() => undefined);
    }
  };
}
