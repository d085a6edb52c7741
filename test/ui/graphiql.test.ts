/**
 * GraphiQL in a real browser with the network off: every request that is not quire's own is
 * refused (and the host resolver answers nothing but loopback), as on an air-gapped machine. The
 * page must still load from quire's own assets, under its CSP, and run a query with the dev token
 * it prefills. Debian's chromium through playwright-core, as in progress-page.test.ts.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpServer, type HttpServer } from '../../src/api/http-server.js';
import { freePort } from '../support/instances.js';
import { startTestRuntime, type TestRuntime } from '../support/runtime.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  if (process.env.CI || process.env.QUIRE_REQUIRE_CHROMIUM) throw new Error(`no chromium at ${CHROMIUM}; .ci/run installs it with apt-get install chromium`);
  console.warn(`test/ui/graphiql.test.ts skipped: no chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`);
}
const SCREENSHOT = 'test-output/ui/graphiql.png';
const WAIT = { timeout: 60_000 };

describe.skipIf(!haveChromium)('GraphiQL, offline', () => {
  let runtime: TestRuntime;
  let http: HttpServer;
  let browser: Browser;
  let devToken: string;

  beforeAll(async () => {
    const port = await freePort();
    runtime = await startTestRuntime('pglite', { PUBLIC_URL: `http://127.0.0.1:${port}` });
    devToken = await runtime.userTokens.sign({ id: 'dev', role: 'user' }, 600);
    http = await startHttpServer(runtime, port, '127.0.0.1', { devToken });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
        // No name resolves: a CDN could not be reached even if the page asked for one.
        '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await http?.close();
    await runtime?.close();
  });

  it('serves the page and its assets from quire, with a CSP that allows nothing else', async () => {
    const res = await fetch(`${http.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).not.toMatch(/unpkg|jsdelivr|cdn|https?:\/\//i);
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/script-src[^;]*unsafe/);
    const assets = [...html.matchAll(/(?:src|href)="(\/graphiql\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThanOrEqual(3);
    for (const path of [...assets, '/graphiql/editor.worker.js', '/graphiql/json.worker.js', '/graphiql/graphql.worker.js']) {
      const asset = await fetch(`${http.url}${path}`);
      expect(asset.status, path).toBe(200);
      expect(Number(asset.headers.get('content-length')), path).toBeGreaterThan(100);
      await asset.arrayBuffer();
    }
    for (const path of ['/graphiql/package.json', '/graphiql/..%2fpackage.json', '/graphiql/monacoeditorwork']) {
      expect((await fetch(`${http.url}${path}`)).status, path).toBe(404);
    }
    // Asked from loopback outside production: the dev token is prefilled as the Authorization header.
    expect(html).toContain(`Bearer ${devToken}`);
  });

  it('loads with the network off, runs a query with the prefilled dev token and shows the data', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const foreign: string[] = [];
    const errors: string[] = [];
    // Everything that is not quire is refused, whatever resolves.
    await context.route('**/*', (route) => (route.request().url().startsWith(http.url) ? route.continue() : (foreign.push(route.request().url()), route.abort('internetdisconnected'))));
    const page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(String(e)));
    try {
      // GraphiQL takes the query from the address (a link anyone can share); the token is prefilled.
      await page.goto(`${http.url}/graphql?query=${encodeURIComponent('{ me { id role } templates { name } }')}`);
      await page.locator('.graphiql-container').first().waitFor(WAIT);
      const run = page.locator('.graphiql-execute-button');
      await run.waitFor(WAIT);
      // The editors hold the query and the dev token once Monaco is up.
      await page.locator('.graphiql-query-editor .view-lines').filter({ hasText: 'templates' }).first().waitFor(WAIT);
      await page.getByText('Bearer ey').first().waitFor(WAIT);
      await run.click();
      await page.locator('.graphiql-response').filter({ hasText: '"dev"' }).first().waitFor(WAIT);
      const response = (await page.locator('.graphiql-response').first().innerText()).replace(/\s+/g, ' ');
      expect(response).toContain('"role": "USER"');
      expect(response).toContain('"name": "table"');
      mkdirSync('test-output/ui', { recursive: true });
      await page.screenshot({ path: SCREENSHOT });
      expect(foreign).toEqual([]);
      expect(errors.filter((e) => /Content Security Policy|Refused/i.test(e))).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
