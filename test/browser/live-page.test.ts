/**
 * The live page in a real browser (Debian's Chromium driven by playwright-core) against the whole
 * local runtime: signed webhooks in, the page shows the conversation as active, then as ended,
 * each within 1 s, with no reload. Also writes the screenshot the README shows (docs/live-page.png)
 * when LIVE_PAGE_SCREENSHOT is set.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalRuntime, type LocalRuntime } from '#local/runtime.js';
import { serializeEnvelope, signedRequest } from '#local/traffic.js';
import { conversationScript, envelope } from '#test/helpers/envelopes.js';

const SECRET = 'browser-test-secret';
const API_KEY = 'browser-test-key';
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** The bound for each visible state change. */
const UI_TIMEOUT_MS = 1000;

let dataDir: string;
let rt: LocalRuntime;
let browser: Browser;
let page: Page;

async function send(e: ReturnType<typeof envelope>): Promise<void> {
  const body = serializeEnvelope(e);
  const res = await fetch(`${rt.url}/webhooks/threetone`, { method: 'POST', headers: signedRequest(body, SECRET), body });
  expect(res.status).toBe(202);
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'threetone-live-page-'));
  rt = await startLocalRuntime({
    ...process.env,
    PORT: '0',
    DATA_DIR: dataDir,
    RECONCILE_INTERVAL_SECONDS: '0',
    THREETONE_WEBHOOK_SECRET: SECRET,
    QUERY_API_KEY: API_KEY,
    LOCAL_VISIBILITY_TIMEOUT_SECONDS: '1',
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await rt?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}, 60_000);

describe('live page', () => {
  it('refuses the stream without the key, then shows a conversation active, then ended, each within 1 s', async () => {
    // Arrange: a conversation that ended before the page opened (caught up from the query API)
    const earlier = conversationScript({ conversationId: 'conv_before_page', agentId: 'agent_maya', start: Date.now() - 5 * 60_000, durationSeconds: 200 });
    for (const e of earlier) await send(e);
    await expect.poll(async () => (await fetch(`${rt.url}/conversations/conv_before_page`, { headers: { 'x-api-key': API_KEY } })).status, { timeout: 30_000 }).toBe(200);

    // Without the key the stream refuses the page: it says so and keeps retrying
    await page.goto(`${rt.url}/`);
    await page.locator('#connection[data-state="reconnecting"]').waitFor({ timeout: 15_000 });

    // With the key (URL hash, as an operator would open it)
    await page.goto(`${rt.url}/#key=${API_KEY}`);
    await page.reload();
    await page.locator('#connection[data-state="live"]').waitFor({ timeout: 15_000 });
    await page.locator('#ended [data-conversation-id="conv_before_page"]').waitFor({ timeout: 15_000 });

    // Act 1: the call starts
    const id = 'conv_browser_1';
    const startMs = Date.now() - 2000;
    const script = conversationScript({ conversationId: id, agentId: 'agent_omar', start: startMs, durationSeconds: 95 });
    const [started, ended] = [script[0]!, script[script.length - 1]!];
    await send(started);
    // Assert: active within 1 s, with its agent and a running duration
    const activeRow = page.locator(`#active [data-conversation-id="${id}"][data-status="active"]`);
    await activeRow.waitFor({ timeout: UI_TIMEOUT_MS });
    await expect.poll(() => activeRow.textContent()).toContain('agent_omar');
    expect(await activeRow.locator('.timer').textContent()).toMatch(/\d+:\d{2}/);

    // Act 2: the call ends
    await send({ ...ended, timestamp: new Date().toISOString() });
    // Assert: ended within 1 s, and no longer active
    await page.locator(`#ended [data-conversation-id="${id}"][data-status="ended"]`).waitFor({ timeout: UI_TIMEOUT_MS });
    await activeRow.waitFor({ state: 'detached', timeout: UI_TIMEOUT_MS });

    // The agent card counts it once its details are in
    const card = page.locator('.card[data-agent-id="agent_omar"]');
    await card.waitFor({ timeout: 15_000 });
    await expect.poll(async () => card.locator('dd').first().textContent(), { timeout: 15_000 }).toBe('1');
  }, 120_000);

  it('shows alerts, keeps focusable rows, and renders the screenshot scene', async () => {
    // Arrange: a busy few minutes over several agents, one escalation, some calls still going
    const now = Date.now();
    const agents = ['agent_maya', 'agent_omar', 'agent_lena', 'agent_kofi'];
    for (let i = 0; i < 10; i++) {
      const agentId = agents[i % agents.length]!;
      const script = conversationScript({
        conversationId: `conv_scene_${i}`,
        agentId,
        start: now - (40 - i * 3) * 60_000,
        durationSeconds: 120 + i * 37,
        escalate: i === 3,
        ongoing: i >= 7,
      });
      for (const e of script) await send(e); // every timestamp is in the past, within the replay window
    }

    // Assert: the escalation reaches the alert feed with a text label, not only a colour
    const alert = page.locator('#alerts li[data-kind="escalation"]').first();
    await alert.waitFor({ timeout: 15_000 });
    expect(await alert.locator('.what').textContent()).toContain('Escalated');
    await expect.poll(() => page.locator('#active li').count(), { timeout: 15_000 }).toBe(3);
    // Keyboard: rows are reachable with Tab. (Details still arriving re-render the lists, which can
    // replace the focused row between the two steps: focus again until it holds.)
    await expect
      .poll(async () => {
        await page.locator('#active li').first().focus();
        return page.evaluate("document.activeElement?.closest('#active') !== null");
      })
      .toBe(true);

    if (process.env.LIVE_PAGE_SCREENSHOT) {
      await expect.poll(() => page.locator('#ended li').count(), { timeout: 15_000 }).toBeGreaterThanOrEqual(8);
      await page.evaluate('document.activeElement?.blur()');
      await page.emulateMedia({ reducedMotion: 'reduce' }); // no row caught mid-animation
      await page.screenshot({ path: process.env.LIVE_PAGE_SCREENSHOT, fullPage: true });
    }
  }, 120_000);
});
