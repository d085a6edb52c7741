/**
 * What a render records beyond the bytes: the locale its labels were printed in, and the characters
 * no shipped font could draw (a warning, not a failure), on the ReportRendered event and in GraphQL.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../../src/actor.js';
import { ConflictError, InvalidParamsError } from '../../src/errors.js';
import { startHttpServer, type HttpServer } from '../../src/api/http-server.js';
import { RenderPool } from '../../src/render/render-pool.js';
import { requestReport } from '../../src/reports/request-report.js';
import { TEMPLATES_VERSION } from '../../src/reports/templates/registry.js';
import { createWorkers, type Workers } from '../../src/workers/start-workers.js';
import { gqlHttp } from '../graphql/client.js';
import { ReportRenderingDocument, RequestReportDocument } from '../graphql/gql/graphql.js';
import { backends } from '../support/databases.js';
import { freePort } from '../support/instances.js';
import { countEventsByType, startTestRuntime, type TestRuntime } from '../support/runtime.js';

const alice: Actor = { id: 'alice', role: 'user' };

const params = (locale: string, name: string) => ({
  locale,
  columns: [
    { label: 'Name', key: 'name' },
    { label: 'Betrag', key: 'eur', format: 'currency', currency: 'EUR' },
  ],
  rows: [{ name, eur: 2190.5 }],
  totals: true,
});

describe.each(backends)('render record on %s', (kind) => {
  let runtime: TestRuntime;
  let pool: RenderPool;
  let workers: Workers;
  let http: HttpServer;
  let token: string;

  beforeAll(async () => {
    runtime = await startTestRuntime(kind, { PDF_AUTHOR: 'quire-iad' });
    pool = new RenderPool({ size: 1 });
    workers = createWorkers(runtime, { pool, owner: 'worker-a' });
    http = await startHttpServer(runtime, await freePort(), '127.0.0.1');
    token = await runtime.userTokens.sign(alice, 600);
  });
  afterAll(async () => {
    await workers?.stop();
    await http?.close();
    await pool?.close();
    await runtime?.close();
  });

  it('records the locale and the missing glyphs on ReportRendered and answers them in GraphQL', async () => {
    const drawn = await requestReport(runtime.store, { template: 'table', title: 'Seoul', params: params('de-DE', '서울 보고서 · दिल्ली · กรุงเทพ') }, alice, { requestId: 'r1' });
    const missing = await requestReport(runtime.store, { template: 'table', title: 'Ankh', params: params('fr-FR', 'ankh 𓋹 and 𓂀') }, alice, { requestId: 'r2' });
    expect(await workers.render.drain()).toBe(2);

    const renderedOf = async (streamId: string) => {
      const events = await runtime.store.readStream(streamId);
      const rendered = events.find((e) => e.type === 'ReportRendered');
      if (rendered?.type !== 'ReportRendered') throw new Error(`no ReportRendered in ${events.map((e) => e.type).join(', ')}`);
      return rendered.data;
    };
    const a = await renderedOf(drawn.streamId);
    expect(a.locale).toBe('de-DE');
    expect(a.missingGlyphs).toBeUndefined();
    const b = await renderedOf(missing.streamId);
    expect(b.locale).toBe('fr-FR');
    expect(b.missingGlyphs).toEqual(['U+13080', 'U+132F9']);

    const answer = async (id: string) => (await gqlHttp(http.url, ReportRenderingDocument, { id }, token)).data!.report!;
    expect((await answer(drawn.reportId)).rendering).toMatchObject({ locale: 'de-DE', missingGlyphs: [], warnings: [] });
    const warned = (await answer(missing.reportId)).rendering!;
    expect(warned.locale).toBe('fr-FR');
    expect(warned.missingGlyphs).toEqual(['U+13080', 'U+132F9']);
    expect(warned.warnings).toEqual(['2 character(s) no font could draw, shown as U+FFFD: U+13080 U+132F9']);
    expect(warned.rendererVersion).toMatch(new RegExp(`quire-templates@${TEMPLATES_VERSION}$`));

    // Every report accounted for: both rendered and stored once, nothing failed.
    expect(await countEventsByType(runtime)).toMatchObject({ ReportRequested: 2, ReportRendered: 2, ReportStoredLocal: 2 });
    expect((await countEventsByType(runtime)).ReportFailed ?? 0).toBe(0);
  });

  it('PDF/A-2b when the request asks for it: recorded on ReportRequested, rendered with its XMP; a bad standard is INVALID_PARAMS, a changed one under the same key CONFLICT', async () => {
    const input = { template: 'table', title: 'Archive <&> keep', params: params('de-DE', 'x'), idempotencyKey: 'pdfa-1' };
    const res = await gqlHttp(http.url, RequestReportDocument, { input: { ...input, pdfStandard: 'PDF_A_2B' } }, token);
    const answer = res.data!.requestReport;
    if (answer.__typename !== 'MutationRequestReportSuccess') throw new Error(`requestReport answered ${JSON.stringify(answer)}`);
    const { reportId } = answer.data;
    const before = await countEventsByType(runtime);

    // The same key without the standard is another request; an unknown standard is refused; nothing appended.
    await expect(requestReport(runtime.store, input, alice)).rejects.toBeInstanceOf(ConflictError);
    const bad = requestReport(runtime.store, { ...input, idempotencyKey: 'pdfa-2', pdfStandard: 'PDF/A-3b' as never }, alice);
    await expect(bad).rejects.toBeInstanceOf(InvalidParamsError);
    await expect(bad).rejects.toMatchObject({ issues: [{ path: 'pdfStandard', message: 'one of PDF/A-2b' }] });
    expect(await countEventsByType(runtime)).toEqual(before);

    await workers.render.drain();
    const events = await runtime.store.readStream(`report-${reportId}`);
    const requested = events.find((e) => e.type === 'ReportRequested');
    const stored = events.find((e) => e.type === 'ReportStoredLocal');
    if (requested?.type !== 'ReportRequested' || stored?.type !== 'ReportStoredLocal') throw new Error(`events: ${events.map((e) => e.type).join(', ')}`);
    expect(requested.data.pdfStandard).toBe('PDF/A-2b');
    const path = runtime.volume.pathOf(stored.data.key);
    const xmp = execFileSync('pdfinfo', ['-meta', path], { encoding: 'utf8' });
    expect(xmp).toContain('<pdfaid:part>2</pdfaid:part>');
    expect(xmp).toContain('Archive &lt;&amp;&gt; keep');
    const info = execFileSync('pdfinfo', ['-isodates', path], { encoding: 'utf8' });
    expect(info).toMatch(/^Author:\s+quire-iad$/m);
    expect(info).toMatch(new RegExp(`^CreationDate:\\s+${requested.recordedAt.toISOString().slice(0, 19)}Z$`, 'm'));
  });

  it('a report not rendered yet has no rendering', async () => {
    const waiting = await requestReport(runtime.store, { template: 'table', title: 'Later', params: params('en-US', 'x') }, alice, { requestId: 'r3' });
    const report = (await gqlHttp(http.url, ReportRenderingDocument, { id: waiting.reportId }, token)).data!.report!;
    expect(report.status).toBe('REQUESTED');
    expect(report.rendering).toBeNull();
  });
});
