/**
 * The page as a newcomer first sees it after `npm start`, in chromium (as progress-page.test.ts):
 * connected at once with the dev token, the object store's state shown, the "Rows from" select
 * inside its card, and totals only for the columns the user ticks.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpServer, type HttpServer } from '../../src/api/http-server.js';
import { reportStreamId } from '../../src/reports/report-state.js';
import { RenderPool } from '../../src/render/render-pool.js';
import { requestReport } from '../../src/reports/request-report.js';
import { createWorkers, type Workers } from '../../src/workers/start-workers.js';
import { freePort } from '../support/instances.js';
import { startTestRuntime, type TestRuntime } from '../support/runtime.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  if (process.env.CI || process.env.QUIRE_REQUIRE_CHROMIUM) throw new Error(`no chromium at ${CHROMIUM}; .ci/run installs it with apt-get install chromium`);
  console.warn(`test/ui/first-hour.test.ts skipped: no chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`);
}
const WAIT = { timeout: 30_000 };

describe.skipIf(!haveChromium)('the page, first hour', () => {
  let runtime: TestRuntime;
  let http: HttpServer;
  let browser: Browser;
  let pool: RenderPool;
  let workers: Workers;
  let workersStarted = false;

  beforeAll(async () => {
    const port = await freePort();
    runtime = await startTestRuntime('pglite', { PUBLIC_URL: `http://127.0.0.1:${port}` });
    const devToken = await runtime.userTokens.sign({ id: 'dev', role: 'user' }, 600);
    http = await startHttpServer(runtime, port, '127.0.0.1', { devToken });
    pool = new RenderPool({ size: 1 });
    workers = createWorkers(runtime, { pool });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
  });
  afterAll(async () => {
    await browser?.close();
    if (workersStarted) await workers?.stop();
    await http?.close();
    await pool?.close();
    await runtime?.close();
  });

  it('connects with the dev token without a click, shows the object store, keeps the select inside, totals what is ticked', async () => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 1400 } });
    const page = await context.newPage();
    try {
      await page.goto(`${http.url}/`);
      await page.getByText('Signed in as dev').waitFor(WAIT);
      expect(await page.locator('#connection').textContent()).not.toBe('Not connected');
      await page.locator('#object-store[data-state="live"]').waitFor(WAIT);
      expect(await page.locator('#object-store').textContent()).toBe('Object store: disk store, answering');

      // "Rows from": the whole select inside the form's card.
      const select = await page.getByLabel('Rows from').boundingBox();
      const card = await page.locator('#request-form').boundingBox();
      expect(select!.x + select!.width).toBeLessThanOrEqual(card!.x + card!.width + 0.5);

      // Totals: one box per number or currency column; the sample ticks the quantity, not the unit price.
      const quantity = page.getByLabel('Quantity', { exact: true });
      const price = page.getByLabel('Unit price', { exact: true });
      expect(await quantity.isChecked()).toBe(true);
      expect(await price.isChecked()).toBe(false);
      mkdirSync('test-output/ui', { recursive: true });
      await page.screenshot({ path: 'test-output/ui/first-hour.png', fullPage: true });

      await page.getByLabel('Title', { exact: true }).fill('Totals picked');
      await page.getByLabel('Number of rows').fill('5');
      await page.getByRole('button', { name: 'Request report' }).click();
      await page.waitForFunction(() => /^[0-9a-f-]{36}$/.test(document.querySelector('#report-id')?.textContent?.trim() ?? ''), undefined, WAIT);
      const id = (await page.locator('#report-id').textContent())!.trim();
      // Params are encrypted in the log (personal data): read them as the service does, decrypted.
      const [requested] = await runtime.store.reveal(await runtime.store.readStream(reportStreamId(id)));
      expect(requested?.type).toBe('ReportRequested');
      expect((requested!.data as { params: { totals?: unknown } }).params.totals).toEqual(['quantity']);
    } finally {
      await context.close();
    }
  });

  it('"Your reports" is live: a report requested by another client appears and advances without a click; others’ reports do not', async () => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 1400 } });
    const page = await context.newPage();
    try {
      await page.goto(`${http.url}/`);
      await page.getByText('Signed in as dev').waitFor(WAIT);
      await page.locator('#connection[data-state="live"]').waitFor(WAIT);
      const mine = await requestReport(runtime.store, { template: 'table', title: 'From the API', params: { columns: [{ label: 'A', key: 'a' }], rows: [{ a: 'x' }] } }, { id: 'dev', role: 'user' });
      const theirs = await requestReport(runtime.store, { template: 'table', title: 'Not yours', params: { columns: [{ label: 'A', key: 'a' }], rows: [] } }, { id: 'eve', role: 'user' });
      const row = page.locator(`#reports-body tr[data-report-id="${mine.reportId}"]`);
      await row.locator('.badge', { hasText: 'REQUESTED' }).waitFor(WAIT);
      expect(await row.textContent()).toContain('From the API');
      // The workers pick it up; the row follows to STORED with nobody touching the page.
      workers.start();
      workersStarted = true;
      // Stored, and then (mirror mode) replicated to the disk object store: either shows it arrived.
      await row.locator('.badge', { hasText: /^(STORED|REPLICATED)$/ }).waitFor(WAIT);
      await page.waitForTimeout(200);
      expect(await page.locator(`#reports-body tr[data-report-id="${theirs.reportId}"]`).count()).toBe(0);
      expect(await page.locator('#reports-body tr').count()).toBe(2);
      await page.screenshot({ path: 'test-output/ui/first-hour-live-list.png' });
    } finally {
      await context.close();
    }
  });
});
