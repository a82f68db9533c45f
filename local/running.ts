/**
 * Finds the `npm start` that owns DATA_DIR (its `runtime.json`, written once it is ready and removed
 * when it stops) and calls its admin routes: what `npm run redrive` and `npm run replay` use.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

type Env = Record<string, string | undefined>;

export const dataDirOf = (env: Env): string => resolve(env.DATA_DIR?.trim() || '.local');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The URL of the `npm start` running on `dataDir`, or null when none runs (a crashed one included). */
export async function runningServer(dataDir: string): Promise<string | null> {
  let info: { url?: unknown; pid?: unknown };
  try {
    info = JSON.parse(await readFile(join(dataDir, 'runtime.json'), 'utf8')) as typeof info;
  } catch {
    return null;
  }
  if (typeof info.url !== 'string' || typeof info.pid !== 'number' || !alive(info.pid)) return null;
  return info.url;
}

/** POSTs to an admin route; the answer's JSON, or an Error naming the status and error code. */
export async function postAdmin<T>(url: string, path: string, env: Env): Promise<T> {
  const key = env.QUERY_API_KEY?.trim();
  const res = await fetch(`${url}${path}`, { method: 'POST', headers: key ? { 'x-api-key': key } : {} });
  const text = await res.text();
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  if (!res.ok) {
    const err = (body as { error?: { code?: string; message?: string } } | null)?.error;
    const hint = res.status === 401 ? ' (set QUERY_API_KEY to the server\'s key)' : '';
    throw new Error(`${path} answered ${res.status}${err?.code ? ` ${err.code}: ${err.message ?? ''}` : ''}${hint}`);
  }
  return body as T;
}
