/**
 * viewerReports: one subscription for a whole list. A user gets their own reports — new ones,
 * every state change, render progress — and nothing of anyone else's; an auditor gets every report.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../../src/actor.js';
import { startHttpServer, type HttpServer } from '../../src/api/http-server.js';
import { RenderPool } from '../../src/render/render-pool.js';
import { requestReport } from '../../src/reports/request-report.js';
import { createWorkers, type Workers } from '../../src/workers/start-workers.js';
import { connected, gqlWs, subscribe } from '../graphql/client.js';
import { ViewerReportsDocument } from '../graphql/gql/graphql.js';
import { waitFor } from '../support/collect.js';
import { backends } from '../support/databases.js';
import { freePort } from '../support/instances.js';
import { countEventsByType, startTestRuntime, type TestRuntime } from '../support/runtime.js';

const alice: Actor = { id: 'alice', role: 'user' };
const bob: Actor = { id: 'bob', role: 'user' };
const audra: Actor = { id: 'audra', role: 'auditor' };

const params = (rows: number) => ({
  columns: [
    { label: 'Region', key: 'region' },
    { label: 'Revenue', key: 'eur', format: 'currency', currency: 'EUR' },
  ],
  rows: Array.from({ length: rows }, (_, i) => ({ region: `r${i}`, eur: i })),
});

describe.each(backends)('viewerReports on %s', (kind) => {
  let runtime: TestRuntime;
  let http: HttpServer;
  let pool: RenderPool;
  let workers: Workers;

  beforeAll(async () => {
    runtime = await startTestRuntime(kind, { WORKER_POLL_MS: '100' });
    http = await startHttpServer(runtime, await freePort(), '127.0.0.1');
    pool = new RenderPool({ size: 1 });
    workers = createWorkers(runtime, { pool });
  });
  afterAll(async () => {
    await workers?.stop();
    await http?.close();
    await pool?.close();
    await runtime?.close();
  });

  it('streams the viewer’s own reports (new, each change, progress) and every report to an auditor', async () => {
    const ws = (actor: Actor) => runtime.userTokens.sign(actor, 600).then((token) => gqlWs(http.url.replace(/^http/, 'ws') + '/graphql', token));
    const [aliceWs, audraWs] = await Promise.all([ws(alice), ws(audra)]);
    try {
      const aliceFeed = subscribe(aliceWs, ViewerReportsDocument, {});
      const audraFeed = subscribe(audraWs, ViewerReportsDocument, {});
      await Promise.all([connected(aliceWs), connected(audraWs)]);
      // The feed sends changes from the moment the server registered it (no replay): warm-up reports
      // until one has reached both, which proves both subscriptions are live.
      const warmups: string[] = [];
      await waitFor(
        async () => {
          if (aliceFeed.data.length > 0 && audraFeed.data.some((d) => d.viewerReports.report?.owner === 'alice')) return true;
          warmups.push((await requestReport(runtime.store, { template: 'table', title: 'warm-up', params: params(1) }, alice)).reportId);
          await new Promise((r) => setTimeout(r, 500));
          return false;
        },
        30_000,
        'both feeds to be live',
      );
      for (const feed of [aliceFeed, audraFeed]) expect(feed.results.flatMap((r) => r.errors ?? [])).toEqual([]);

      const own = await requestReport(runtime.store, { template: 'table', title: 'Alice’s', params: params(1500) }, alice);
      const other = await requestReport(runtime.store, { template: 'table', title: 'Bob’s', params: params(1) }, bob);
      workers.start();
      const stored = (id: string) => (d: { viewerReports: { reportId: string; report: { status: string } | null } }) => d.viewerReports.reportId === id && ['STORED', 'REPLICATED'].includes(d.viewerReports.report?.status ?? '');
      await aliceFeed.waitFor(stored(own.reportId), 60_000);
      await audraFeed.waitFor(stored(own.reportId), 60_000);
      await audraFeed.waitFor(stored(other.reportId), 60_000);
      await waitFor(async () => (await countEventsByType(runtime)).ReportStoredLocal === 2 + warmups.length, 60_000, 'every report stored');

      const aliceSaw = aliceFeed.data.map((d) => d.viewerReports);
      // Nothing of Bob’s reached Alice, not even progress.
      expect(aliceSaw.filter((u) => u.reportId === other.reportId)).toEqual([]);
      // Her report went through its states in order, each state once per change.
      const statuses = aliceSaw.filter((u) => u.reportId === own.reportId && u.report).map((u) => u.report!.status);
      expect(statuses[0]).toBe('REQUESTED');
      expect(statuses).toContain('STORED');
      // Each change once: no state repeated back to back.
      expect(statuses.filter((st, i) => i > 0 && st === statuses[i - 1])).toEqual([]);
      // Render progress of a 1,500-row table arrived on the same subscription, rising, within 0..1.
      const progress = aliceSaw.filter((u) => u.reportId === own.reportId && u.progress !== null).map((u) => u.progress!);
      expect(progress.length).toBeGreaterThan(0);
      expect(progress.every((p) => p >= 0 && p <= 1)).toBe(true);
      expect([...progress].sort((a, b) => a - b)).toEqual(progress);
      // The auditor saw both users' reports.
      expect(new Set(audraFeed.data.map((d) => d.viewerReports.report?.owner).filter(Boolean))).toEqual(new Set(['alice', 'bob']));
      for (const feed of [aliceFeed, audraFeed]) expect(feed.results.every((r) => !r.errors)).toBe(true);
      aliceFeed.close();
      audraFeed.close();
    } finally {
      await Promise.all([aliceWs.dispose(), audraWs.dispose()]);
    }
  });
});
