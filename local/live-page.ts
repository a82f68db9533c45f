/**
 * The live page's static files (`local/live-page/`), served by `npm start` at `GET /`. The page is
 * plain HTML/JS/CSS with no build step, so the same files work against the deployed stack (README
 * "Live monitoring"). Only the listed files are served: no path ever reaches the file system.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export const LIVE_PAGE_DIR = join(import.meta.dirname, 'live-page');

const FILES: Record<string, { file: string; contentType: string }> = {
  '/': { file: 'index.html', contentType: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', contentType: 'text/html; charset=utf-8' },
  '/live.js': { file: 'live.js', contentType: 'text/javascript; charset=utf-8' },
  '/sigv4.js': { file: 'sigv4.js', contentType: 'text/javascript; charset=utf-8' },
  '/live.css': { file: 'live.css', contentType: 'text/css; charset=utf-8' },
};

export async function livePageFile(path: string): Promise<{ contentType: string; body: Buffer } | null> {
  const entry = FILES[path];
  if (!entry) return null;
  return { contentType: entry.contentType, body: await readFile(join(LIVE_PAGE_DIR, entry.file)) };
}
