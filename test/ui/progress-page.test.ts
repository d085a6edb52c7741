/**
 * The progress page in a real browser: Debian's chromium (/usr/bin/chromium) driven by
 * playwright-core, against quire running in this process with its workers. Never downloads a
 * browser. Without chromium the suite is skipped with a message, except where CI or
 * QUIRE_REQUIRE_CHROMIUM is set (.ci/run sets it after installing chromium with apt): there it fails.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpServer, type HttpServer } from '../../src/api/http-server.js';
import { RenderPool } from '../../src/render/render-pool.js';
import { requestReport } from '../../src/reports/request-report.js';
import { createWorkers, type Workers } from '../../src/workers/start-workers.js';
import { gqlHttp } from '../graphql/client.js';
import { startSealer } from '../../src/audit/sealer.js';
import { LogDigestDocument, ReportDocument, RetryReportDocument } from '../graphql/gql/graphql.js';
import { UiMeDocument } from '../../src/ui/gql/graphql.js';
import { freePort } from '../support/instances.js';
import { startTestRuntime, type TestRuntime } from '../support/runtime.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  if (process.env.CI || process.env.QUIRE_REQUIRE_CHROMIUM) throw new Error(`no chromium at ${CHROMIUM}; .ci/run installs it with apt-get install chromium`);
  console.warn(`test/ui/progress-page.test.ts skipped: no chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`);
}

/** The screenshot lands in the test output (gitignored), or where QUIRE_UI_SCREENSHOT says. */
const SCREENSHOT = process.env.QUIRE_UI_SCREENSHOT ?? 'test-output/ui/progress-page.png';
const WAIT = { timeout: 30_000 };

describe.skipIf(!haveChromium)('progress page in chromium', () => {
  let runtime: TestRuntime;
  let http: HttpServer;
  let workers: Workers;
  let pool: RenderPool;
  let browser: Browser;
  let alice: string;
  /** The test's own full-text queries (the page gets `alice`, which may send hashes only). */
  let aliceDirect: string;
  let workersStarted = false;
  /** Every URL a page asked for that is not quire's own: there must be none (no CDN, no network). */
  const foreignRequests: string[] = [];
  /** Console errors and CSP violations, from every page. */
  const consoleErrors: string[] = [];
  /** Operations the page sent as full text instead of a persisted document's hash: there must be none. */
  const fullDocuments: string[] = [];
  let hashOnly = 0;
  const checkSent = (body: string | null | undefined) => {
    const msg = body ? (JSON.parse(body) as { type?: string; query?: string; payload?: { query?: string } }) : {};
    const query = msg.type === 'subscribe' ? msg.payload?.query : msg.type === undefined ? msg.query : undefined;
    if (query) fullDocuments.push(query.slice(0, 60));
    else if (msg.type === 'subscribe' || msg.type === undefined) hashOnly++;
  };

  async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1100, height: 1400 } });
    const page = await context.newPage();
    page.on('request', (r) => {
      if (!r.url().startsWith(http.url) && !r.url().startsWith('data:')) foreignRequests.push(r.url());
      if (r.method() === 'POST' && new URL(r.url()).pathname === '/graphql') checkSent(r.postData());
    });
    page.on('websocket', (ws) => ws.on('framesent', (f) => checkSent(typeof f.payload === 'string' ? f.payload : f.payload.toString())));
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
    await page.goto(`${http.url}/`);
    await page.locator('body[data-ready="true"]').waitFor(WAIT);
    return { context, page };
  }

  /** Waits for `selector`; on a timeout, says what the page showed and what the server holds. */
  async function waitShown(page: Page, selector: string, reportId: string): Promise<void> {
    try {
      await page.locator(selector).first().waitFor(WAIT);
    } catch (err) {
      const server = (await gqlHttp(http.url, ReportDocument, { id: reportId }, aliceDirect)).data?.report;
      const shown = await page.evaluate(() => ['#status', '#timeline', '#connection'].map((s) => document.querySelector(s)?.textContent).join(' | '));
      throw new Error(`${selector} never appeared. Page: ${shown}. Server: ${server?.status} v${server?.version} ${server?.lastError ?? ''}`, { cause: err });
    }
  }

  async function signIn(page: Page, token: string): Promise<void> {
    await page.getByLabel('Bearer token').fill(token);
    await page.getByRole('button', { name: 'Use token' }).click();
  }

  beforeAll(async () => {
    const port = await freePort();
    // Trusted documents only: the page must work on hashes alone (src/api/graphql/persisted-documents.ts).
    runtime = await startTestRuntime('pglite', {
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      WORKER_POLL_MS: '100',
      REQUESTS_PER_MINUTE: '100',
      PERSISTED_DOCUMENTS: 'require',
    });
    http = await startHttpServer(runtime, port, '127.0.0.1');
    pool = new RenderPool({ size: 1 });
    workers = createWorkers(runtime, { pool });
    alice = await runtime.userTokens.sign({ id: 'alice', role: 'user' }, 600);
    aliceDirect = await runtime.userTokens.sign({ id: 'alice', role: 'user' }, 600, { arbitraryDocuments: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    if (workersStarted) await workers?.stop();
    await http?.close();
    await runtime?.close();
    await pool?.close();
  });

  it('serves the built page and its assets with strict security headers', async () => {
    const html = await (await fetch(`${http.url}/`)).text();
    const assets = [...html.matchAll(/(?:src|href)="(\/ui\/[^"]+)"/g)].map((m) => m[1]!);
    const script = assets.find((a) => a.endsWith('.js'))!;
    expect(script).toMatch(/^\/ui\/assets\//);
    for (const path of ['/', '/ui', ...assets]) {
      const res = await fetch(`${http.url}${path}`);
      expect(res.status, path).toBe(200);
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain('unsafe-inline');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    }
    expect((await fetch(`${http.url}${script}`)).headers.get('content-type')).toMatch(/^text\/javascript/);
    // No inline script or style in the built page: the CSP needs no 'unsafe-inline'.
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
    expect(html).not.toMatch(/<style|\sstyle=/);
    // Nothing outside the build's manifest is served, however the name is spelled.
    for (const path of ['/ui/index.html', '/ui/../package.json', '/ui/vendor/graphql-ws/client.js', '/ui/.vite/manifest.json', '/ui/assets/..%2f..%2fpackage.json']) {
      expect((await fetch(`${http.url}${path}`)).status, path).toBe(404);
    }
    const etag = (await fetch(`${http.url}${script}`)).headers.get('etag')!;
    expect((await fetch(`${http.url}${script}`, { headers: { 'if-none-match': etag } })).status).toBe(304);
  });

  it('requests a report, follows it live from REQUESTED to STORED, and downloads the same bytes', async () => {
    const { context, page } = await newPage();
    try {
      await signIn(page, alice);
      await page.getByText('Signed in as alice').waitFor(WAIT);
      // The token is kept for this tab only, and never put in the address bar.
      expect(await page.evaluate(() => sessionStorage.getItem('quire.token'))).toBe(alice);
      expect(page.url()).not.toContain(alice.slice(0, 20));

      await page.getByLabel('Title', { exact: true }).fill('Browser flow');
      await page.getByLabel('Number of rows').fill('60');
      await page.getByRole('button', { name: 'Request report' }).click();

      // No worker runs yet: the report waits, REQUESTED.
      const status = page.locator('#status');
      await status.filter({ hasText: 'REQUESTED' }).waitFor(WAIT);
      await page.locator('#timeline li[data-status="REQUESTED"]').waitFor(WAIT);
      expect(await page.locator('#download').isDisabled()).toBe(true);
      const reportId = (await page.locator('#report-id').textContent())!.trim();
      expect(reportId).toMatch(/^[0-9a-f-]{36}$/);
      expect(page.url()).toContain(`#${reportId}`);
      await page.evaluate(() => Object.assign(window, { samePage: true }));

      // Workers start: the page sees STORED arrive over the subscription, without reloading.
      workers.start();
      workersStarted = true;
      await waitShown(page, '#timeline li[data-status="STORED"]', reportId);
      await page.locator('#download:not([disabled])').waitFor(WAIT);
      expect(await page.evaluate(() => (window as unknown as { samePage?: boolean }).samePage)).toBe(true);
      const order = await page.locator('#timeline li').evaluateAll((lis) => lis.map((li) => (li as HTMLElement).dataset.status));
      expect(order.indexOf('REQUESTED')).toBe(0);
      expect(order.indexOf('STORED')).toBeGreaterThan(order.indexOf('REQUESTED'));
      expect(await status.textContent()).toMatch(/STORED|REPLICATED/);
      expect(await page.locator('#timeline li[data-status="STORED"]').textContent()).toContain('iad');
      // Mirror mode: replication to the object store follows, live too.
      await waitShown(page, '#timeline li[data-status="REPLICATED"]', reportId);
      await status.filter({ hasText: 'REPLICATED' }).waitFor(WAIT);
      // Render progress belongs to REQUESTED only.
      expect(await page.locator('#progress').isHidden()).toBe(true);
      // The list of the viewer's reports shows it with its current status.
      await page.locator(`#reports-body tr[data-report-id="${reportId}"] .badge`, { hasText: 'REPLICATED' }).waitFor(WAIT);

      mkdirSync(dirname(SCREENSHOT), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });

      const [download] = await Promise.all([page.waitForEvent('download', WAIT), page.getByRole('button', { name: 'Download PDF' }).click()]);
      const file = await download.path();
      const bytes = readFileSync(file);
      expect(bytes.subarray(0, 5).toString('latin1')).toBe('%PDF-');
      expect(download.suggestedFilename()).toMatch(/\.pdf$/);
      const report = (await gqlHttp(http.url, ReportDocument, { id: reportId }, aliceDirect)).data!.report!;
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(report.sha256);
      await page.locator('#download-message', { hasText: 'Downloading from' }).waitFor(WAIT);
    } finally {
      await context.close();
    }
  });

  it('checks fields before sending, and shows the typed InvalidParamsError the server returns', async () => {
    const { context, page } = await newPage();
    try {
      await signIn(page, alice);
      await page.getByText('Signed in as alice').waitFor(WAIT);

      // Caught in the page: no request is made.
      await page.getByLabel('Number of rows').fill('-3');
      await page.getByRole('button', { name: 'Request report' }).click();
      await page.locator('#param-rows-error', { hasText: 'whole number' }).waitFor(WAIT);
      expect(await page.getByLabel('Number of rows').getAttribute('aria-invalid')).toBe('true');

      // Only the server knows which locales it supports: its typed error lands next to the field.
      await page.getByLabel('Number of rows').fill('3');
      await page.getByLabel('Locale').fill('not a locale!');
      await page.getByRole('button', { name: 'Request report' }).click();
      const message = page.locator('#request-message');
      await message.filter({ hasText: 'INVALID_PARAMS' }).waitFor(WAIT);
      expect(await message.textContent()).toContain('params.locale');
      await page.locator('#param-locale-error', { hasText: 'BCP 47' }).waitFor(WAIT);
      expect(await page.getByLabel('Locale').getAttribute('aria-invalid')).toBe('true');
      expect(await page.getByLabel('Number of rows').getAttribute('aria-invalid')).toBeNull();
      expect(await message.getAttribute('role')).toBe('alert');
      // A constraint from the schema (currency: ^[A-Z]{3}$) is checked in the page, next to its field.
      await page.getByLabel('Locale').fill('de-DE');
      await page.locator('#param-columns-2-currency').fill('eur');
      await page.getByRole('button', { name: 'Request report' }).click();
      await page.locator('#param-columns-2-currency-error', { hasText: 'expected form' }).waitFor(WAIT);
      expect(await page.locator('#param-columns-2-currency').getAttribute('aria-invalid')).toBe('true');
      await page.locator('#param-columns-2-currency').fill('EUR');

      // The summary template's own form, generated from its schema: KPIs are repeatable fieldsets.
      await page.getByLabel('Template').selectOption('summary');
      expect(await page.getByLabel('Number of rows').count()).toBe(0);
      const kpis = page.locator('#param-kpis fieldset.item');
      expect(await kpis.count()).toBe(3);
      await page.getByRole('button', { name: 'Add KPI' }).click();
      expect(await kpis.count()).toBe(4);
      await page.getByRole('button', { name: 'Remove KPI 4' }).click();
      expect(await kpis.count()).toBe(3);
      await page.locator('#param-kpis-0-label').fill('');
      await page.getByRole('button', { name: 'Request report' }).click();
      await page.locator('#param-kpis-0-label-error', { hasText: 'required' }).waitFor(WAIT);
      await page.locator('#param-kpis-0-label').fill('Total');

      // Table rows as CSV: parsed in the page, sent as objects, rendered by the server.
      await page.getByLabel('Template').selectOption('table');
      await page.getByLabel('Rows from').selectOption('csv');
      await page.locator('#param-rows-text').fill('item,quantity,price,date\nWidget,2,9.5,2024-03-01\n"Bolt, M6",10,0.25,2024-03-02');
      await page.getByLabel('Title', { exact: true }).fill('From CSV');
      await page.getByRole('button', { name: 'Request report' }).click();
      await page.locator('#request-message', { hasText: 'Requested “From CSV”' }).waitFor(WAIT);
    } finally {
      await context.close();
    }
  });

  it('says clearly when the token has expired or is not a token', async () => {
    const { context, page } = await newPage();
    try {
      const expired = await runtime.userTokens.sign({ id: 'alice', role: 'user' }, -5);
      await signIn(page, expired);
      const message = page.locator('#auth-message');
      await message.filter({ hasText: 'Your token has expired' }).waitFor(WAIT);
      expect(await page.getByRole('button', { name: 'Request report' }).isDisabled()).toBe(true);
      expect(await page.evaluate(() => sessionStorage.getItem('quire.token'))).toBeNull();

      await signIn(page, 'not-a-token');
      await message.filter({ hasText: 'not accepted' }).waitFor(WAIT);
    } finally {
      await context.close();
    }
  });

  it('a report that is not yours is "not found"; a failed one shows its reason in red and retries', async () => {
    const { context, page } = await newPage();
    try {
      await signIn(page, alice);
      await page.getByText('Signed in as alice').waitFor(WAIT);
      await page.evaluate(() => (location.hash = '00000000-0000-4000-8000-000000000000'));
      await page.locator('#status', { hasText: 'Not found' }).waitFor(WAIT);

      // A report whose render failed for good: requested and failed in one append, so no worker takes it first.
      const reportId = randomUUID();
      await runtime.store.append(`report-${reportId}`, 'no_stream', [
        {
          type: 'ReportRequested',
          data: { reportId, template: 'table', title: 'Doomed', params: { columns: [{ label: 'A', key: 'a' }], rows: [{ a: 'x' }] }, owner: 'alice' },
        },
        { type: 'ReportFailed', data: { stage: 'render', error: 'the renderer ran out of paper', attempt: 1, retryAt: null } },
      ]);
      await page.evaluate((id) => (location.hash = id), reportId);
      await page.locator('#failure', { hasText: 'the renderer ran out of paper' }).waitFor(WAIT);
      await page.locator('#timeline li[data-status="FAILED"]', { hasText: 'ran out of paper' }).waitFor(WAIT);
      expect(await page.locator('#status').textContent()).toContain('FAILED');

      if (!workersStarted) {
        workers.start();
        workersStarted = true;
      }
      await page.getByRole('button', { name: 'Retry' }).click();
      await page.locator('#timeline li[data-status="RETRY"]').waitFor(WAIT);
      await page.locator('#timeline li[data-status="STORED"]').waitFor(WAIT);
      expect(await page.locator('#failure').isHidden()).toBe(true);
    } finally {
      await context.close();
    }
  });

  it('shows when a report expires, offers its owner to delete it, and then shows it deleted', async () => {
    const { context, page } = await newPage();
    page.on('dialog', (d) => void d.accept());
    try {
      // Failed for good in one append, so no worker moves it on meanwhile; it expires in a day.
      const reportId = randomUUID();
      const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
      await runtime.store.append(`report-${reportId}`, 'no_stream', [
        { type: 'ReportRequested', data: { reportId, template: 'table', title: 'Short-lived', params: { columns: [{ label: 'A', key: 'a' }], rows: [] }, owner: 'alice', expiresAt } },
        { type: 'ReportFailed', data: { stage: 'render', error: 'no paper', attempt: 1, retryAt: null } },
      ]);
      await signIn(page, alice);
      await page.getByText('Signed in as alice').waitFor(WAIT);
      await page.evaluate((id) => (location.hash = id), reportId);
      await page.locator('#facts', { hasText: 'Expires' }).waitFor(WAIT);
      expect(await page.locator(`#facts time[datetime="${expiresAt}"]`).count()).toBe(1);
      await page.getByRole('button', { name: 'Delete report' }).click();
      await page.locator('#status[data-status="DELETED"]').waitFor(WAIT);
      await page.locator('#timeline li[data-status="DELETED"]', { hasText: 'by alice' }).waitFor(WAIT);
      await page.locator('#download-message', { hasText: 'can no longer be downloaded' }).waitFor(WAIT);
      expect(await page.locator('#delete').isHidden()).toBe(true);
      expect(await page.locator('#download').isDisabled()).toBe(true);
    } finally {
      await context.close();
    }
  });

  it('lets an admin erase a report’s personal data: ERASED, its title [erased] in the heading and the list, who erased it in the timeline', async () => {
    const { context, page } = await newPage();
    const prompts: string[] = [];
    page.on('dialog', (d) => {
      prompts.push(d.type());
      void d.accept('erasure request 42');
    });
    try {
      // Through requestReport, so its title and params are encrypted with a data key (erasable).
      const { reportId } = await requestReport(runtime.store, { template: 'table', title: 'Jane Roe’s statement', params: { columns: [{ label: 'A', key: 'a' }], rows: [] } }, { id: 'bob', role: 'user' });
      const root = await runtime.userTokens.sign({ id: 'root', role: 'admin' }, 600);
      await signIn(page, root);
      await page.getByText('Signed in as root').waitFor(WAIT);
      await page.getByRole('button', { name: 'Jane Roe’s statement' }).click();
      await page.getByRole('heading', { name: 'Jane Roe’s statement' }).waitFor(WAIT);
      await page.getByRole('button', { name: 'Erase personal data' }).click();
      await waitShown(page, '#status[data-status="ERASED"]', reportId);
      expect(prompts).toEqual(['prompt']);
      await page.getByRole('heading', { name: '[erased]' }).waitFor(WAIT);
      await page.locator('#timeline li[data-status="ERASED"]', { hasText: 'erased by root' }).waitFor(WAIT);
      await page.locator('#facts', { hasText: 'Erased' }).waitFor(WAIT);
      await page.locator('#download-message', { hasText: 'can no longer be downloaded' }).waitFor(WAIT);
      // The list's row follows: its badge and its title.
      const row = page.locator(`#reports-body tr[data-report-id="${reportId}"]`);
      await row.locator('.badge', { hasText: 'ERASED' }).waitFor(WAIT);
      expect(await row.locator('button.link').textContent()).toBe('[erased]');
      expect(await page.locator('#erase').isHidden()).toBe(true);
      expect(await page.locator('#delete').isHidden()).toBe(true);
      expect(await page.evaluate(() => document.body.innerText)).not.toContain('Jane Roe');
      const events = await runtime.store.readStream(`report-${reportId}`);
      expect(events.filter((e) => e.type === 'ReportErased').map((e) => e.data)).toEqual([{ by: 'root', reason: 'erasure request 42' }]);
    } finally {
      await context.close();
    }
  });

  it('offers no erase button to a report’s owner', async () => {
    const { context, page } = await newPage();
    try {
      const { reportId } = await requestReport(runtime.store, { template: 'table', title: 'Mine to keep', params: { columns: [{ label: 'A', key: 'a' }], rows: [] } }, { id: 'alice', role: 'user' });
      await signIn(page, alice);
      await page.getByText('Signed in as alice').waitFor(WAIT);
      await page.evaluate((id) => (location.hash = id), reportId);
      await page.getByRole('heading', { name: 'Mine to keep' }).waitFor(WAIT);
      await page.getByRole('button', { name: 'Delete report' }).waitFor(WAIT);
      expect(await page.locator('#erase').isHidden()).toBe(true);
    } finally {
      await context.close();
    }
  });

  it('when the socket drops it says so, reconnects, and shows the state reached meanwhile', async () => {
    const { context, page } = await newPage();
    // Every socket goes through this route: the test can cut it, and refuse new ones for a while.
    const sockets: Array<{ close(o: { code: number; reason: string }): Promise<void> }> = [];
    let refuse = false;
    await context.routeWebSocket(/\/graphql$/, (ws) => {
      if (refuse) return void ws.close({ code: 1012, reason: 'service restart' });
      ws.connectToServer();
      sockets.push(ws);
    });
    try {
      const reportId = randomUUID();
      await runtime.store.append(`report-${reportId}`, 'no_stream', [
        { type: 'ReportRequested', data: { reportId, template: 'table', title: 'Offline', params: { columns: [{ label: 'A', key: 'a' }], rows: [{ a: 'x' }] }, owner: 'alice' } },
        { type: 'ReportFailed', data: { stage: 'store', error: 'the volume was full', attempt: 3, retryAt: null } },
      ]);
      await signIn(page, alice);
      await page.getByText('Signed in as alice').waitFor(WAIT);
      await page.evaluate((id) => (location.hash = id), reportId);
      await page.locator('#status', { hasText: 'FAILED' }).waitFor(WAIT);
      await page.locator('#connection', { hasText: 'Live' }).waitFor(WAIT);

      // The connection drops and cannot come back for now.
      refuse = true;
      await Promise.all(sockets.splice(0).map((ws) => ws.close({ code: 1012, reason: 'service restart' })));
      await page.locator('#connection[data-state="connecting"]').waitFor(WAIT);

      // Meanwhile the report is retried elsewhere and stored.
      if (!workersStarted) {
        workers.start();
        workersStarted = true;
      }
      const retried = (await gqlHttp(http.url, RetryReportDocument, { id: reportId }, aliceDirect)).data!.retryReport;
      expect(retried.__typename).toBe('MutationRetryReportSuccess');
      await expect
        .poll(async () => (await gqlHttp(http.url, ReportDocument, { id: reportId }, aliceDirect)).data!.report!.status, { timeout: 30_000 })
        .toMatch(/STORED|REPLICATED/);
      expect(await page.locator('#timeline li[data-status="STORED"]').count()).toBe(0);

      // The socket comes back: the page resubscribes and shows where the report is now.
      refuse = false;
      await page.locator('#connection', { hasText: 'Live' }).waitFor(WAIT);
      await waitShown(page, '#timeline li[data-status="STORED"]', reportId);
      expect(await page.locator('#failure').isHidden()).toBe(true);
    } finally {
      await context.close();
    }
  });

  it('a token that expires while the page is open signs it out with the reason', async () => {
    const { context, page } = await newPage();
    try {
      const shortLived = await runtime.userTokens.sign({ id: 'alice', role: 'user' }, 2);
      await signIn(page, shortLived);
      await page.getByText('Signed in as alice').waitFor(WAIT);
      // Wait (by asking the server, not by sleeping) until the token is refused.
      // (By the page's own document, by hash: a full document is refused before the token is read.)
      const byHash = { extensions: { persistedQuery: { version: 1, sha256Hash: UiMeDocument.__meta__!.hash } } };
      const status = async () =>
        (await fetch(`${http.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${shortLived}` }, body: JSON.stringify(byHash) })).status;
      await expect.poll(status, { timeout: 10_000 }).toBe(401);
      // No click needed: the list's live subscription (viewerReports) ends at the token's expiry
      // with UNAUTHENTICATED, and the page signs itself out with the reason.
      await page.locator('#auth-message', { hasText: 'Your token has expired' }).waitFor(WAIT);
      expect(await page.getByRole('button', { name: 'Request report' }).isDisabled()).toBe(true);
      expect(await page.evaluate(() => sessionStorage.getItem('quire.token'))).toBeNull();
    } finally {
      await context.close();
    }
  });

  it('auditors read any report with its hash chain, and cannot request one', async () => {
    const { context, page } = await newPage();
    try {
      const reportId = randomUUID();
      await runtime.store.append(`report-${reportId}`, 'no_stream', [
        { type: 'ReportRequested', data: { reportId, template: 'table', title: 'Audited', params: { columns: [{ label: 'A', key: 'a' }], rows: [] }, owner: 'bob' } },
        { type: 'ReportFailed', data: { stage: 'render', error: 'nothing to see', attempt: 1, retryAt: null } },
      ]);
      const auditor = await runtime.userTokens.sign({ id: 'audrey', role: 'auditor' }, 600);
      const auditorDirect = await runtime.userTokens.sign({ id: 'audrey', role: 'auditor' }, 600, { arbitraryDocuments: true });
      await signIn(page, auditor);
      await page.getByText('Signed in as audrey (auditor)').waitFor(WAIT);
      expect(await page.getByRole('button', { name: 'Request report' }).isDisabled()).toBe(true);
      await page.locator('#request-message', { hasText: 'can read reports but not request them' }).waitFor(WAIT);
      await page.getByRole('heading', { name: 'All reports' }).waitFor(WAIT);
      await page.getByRole('button', { name: 'Audited' }).click();
      await page.locator('#status', { hasText: 'FAILED' }).waitFor(WAIT);
      expect(await page.getByRole('button', { name: 'Retry' }).isHidden()).toBe(true);
      const history = (await gqlHttp(http.url, ReportDocument, { id: reportId }, auditorDirect)).data!.report!.history;
      const first = page.locator('#timeline li[data-status="REQUESTED"] details.chain');
      await first.locator('summary').click();
      expect(await first.locator('code').first().textContent()).toBe(history[0]!.hash);
      expect(await first.locator('code').nth(1).textContent()).toBe('0'.repeat(64));

      // The global log with hashes, page by page, and the current digest.
      const sealer = startSealer(runtime, { everyEvents: 1, everySeconds: 1, pollMs: 60_000, enabled: true });
      await sealer.tick();
      await sealer.stop();
      const digest = (await gqlHttp(http.url, LogDigestDocument, {}, auditorDirect)).data!.logDigest!;
      await page.locator('#audit').getByRole('button', { name: 'Refresh' }).click();
      await page.locator('#digest code', { hasText: digest.sealHash }).waitFor(WAIT);
      await page.locator('#events-body tr').first().waitFor(WAIT);
      while (await page.getByRole('button', { name: 'Load more events' }).isVisible()) {
        const before = await page.locator('#events-body tr').count();
        await page.getByRole('button', { name: 'Load more events' }).click();
        await expect.poll(() => page.locator('#events-body tr').count()).toBeGreaterThan(before);
      }
      const row = page.locator('#events-body tr', { hasText: `report-${reportId}` }).first();
      expect(await row.locator('code.hash').first().textContent()).toBe(history[0]!.hash);
      expect(await row.textContent()).toContain('ReportRequested');
    } finally {
      await context.close();
    }
  });

  it('loaded nothing from outside quire and broke no CSP rule', () => {
    expect(foreignRequests).toEqual([]);
    expect(consoleErrors.filter((e) => /Content Security Policy|Refused to/i.test(e))).toEqual([]);
  });

  it('sent every operation, over HTTP and the socket, as a persisted document\'s hash', () => {
    expect(fullDocuments).toEqual([]);
    expect(hashOnly).toBeGreaterThan(10);
  });
});
