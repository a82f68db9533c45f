/** The live page's files as `npm start` serves them: the listed files only, with their content types. */
import { describe, expect, it } from 'vitest';
import { startHttpServer } from '#local/http-server.js';
import { livePageFile } from '#local/live-page.js';

describe('live page files', () => {
  it.each([
    ['/', 'text/html', '<title>ThreeTone live</title>'],
    ['/index.html', 'text/html', 'live.js'],
    ['/live.js', 'text/javascript', "from './sigv4.js'"],
    ['/sigv4.js', 'text/javascript', 'export async function signRequest'],
    ['/live.css', 'text/css', ':root'],
  ])('serves %s as %s', async (path, type, marker) => {
    const file = await livePageFile(path);
    expect(file?.contentType).toContain(type);
    expect(file?.body.toString('utf8')).toContain(marker);
  });

  it.each(['/../package.json', '/live-page/live.js', '/%2e%2e/package.json', '/README.md', '/live.js/'])('serves nothing else (%s)', async (path) => {
    expect(await livePageFile(path)).toBeNull();
  });

  it('is served by the HTTP server for GET and HEAD, after the API routes; other paths stay 404', async () => {
    const api = async () => ({ statusCode: 200, body: '{"api":true}' });
    const server = await startHttpServer({ host: '127.0.0.1', port: 0, ingest: api, query: api, erasure: api, isReady: () => true, staticFile: livePageFile });
    try {
      const page = await fetch(`${server.url}/`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toContain('text/html');
      expect(await page.text()).toContain('ThreeTone live');
      const head = await fetch(`${server.url}/live.css`, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(await (await fetch(`${server.url}/conversations`)).json()).toEqual({ api: true });
      expect((await fetch(`${server.url}/nothing-here`)).status).toBe(404);
      expect((await fetch(`${server.url}/`, { method: 'POST' })).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});
