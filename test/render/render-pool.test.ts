import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RenderError } from '../../src/render/errors.js';
import { RenderPool } from '../../src/render/render-pool.js';
import type { HistoryEntry } from '../../src/reports/templates/registry.js';
import { GENERATED_AT, REPORT_ID, tableJob } from './fixtures.js';
import { openPdf } from './pdf.js';

let pool: RenderPool;
beforeAll(async () => {
  pool = new RenderPool({ size: 2 });
  await pool.warmUp();
});
afterAll(() => pool.close());

describe('render pool', () => {
  it('renders a multi-page table: page count from the PDF, repeated header, page numbers, footer', async () => {
    const progress: number[] = [];
    const result = await pool.render(tableJob(600), { onProgress: (f) => progress.push(f) });
    const pdf = await openPdf(result.pdf);
    expect(result.pages).toBeGreaterThan(5);
    expect(result.pages).toBe(pdf.numPages);
    expect(result.rendererVersion).toMatch(/^pdfmake@0\.3\.\d+\+quire-templates@\d+$/);
    expect(result.renderMs).toBeGreaterThan(0);
    expect(Buffer.from(result.pdf.subarray(0, 5)).toString()).toBe('%PDF-');

    const first = await pdf.text(1);
    expect(first).toContain('Invoices');
    expect(first).toContain('All open invoices');
    expect(first).toContain(`Page 1 of ${result.pages}`);
    expect(first).toContain(`Generated Mar 4, 2025, 5:06:07 AM UTC · report ${REPORT_ID}`);
    expect(first).toContain('€');
    expect(first).toContain('Jan 1, 2025');
    const last = await pdf.text(result.pages);
    expect(last).toContain(`Page ${result.pages} of ${result.pages}`);
    // The header row is repeated on every page: page 2 starts with it.
    const second = await pdf.text(2);
    expect(second).toMatch(/^\s*Invoice\s+Customer\s+Amount\s+Due/);
    expect(last).toContain('Total');

    expect(progress.length).toBeGreaterThan(10);
    expect(progress.at(-1)).toBe(1);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    await pdf.close();
  });

  it('summary draws its bar chart as vector shapes', async () => {
    const points = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun'].map((label, i) => ({ label, value: (i - 1) * 17 }));
    const result = await pool.render({
      template: 'summary',
      title: 'Quarterly summary',
      reportId: REPORT_ID,
      generatedAt: GENERATED_AT,
      params: {
        kpis: [
          { label: 'Revenue', value: 123456.78, unit: 'EUR', delta: 0.12 },
          { label: 'Churn', value: 2.5, unit: '%', delta: -0.04 },
        ],
        series: { label: 'Orders per month', points },
      },
    });
    expect(result.pages).toBe(1);
    const pdf = await openPdf(result.pdf);
    // Runs in different fonts come out as separate items: compare without spaces.
    const text = (await pdf.text(1)).replace(/\s+/g, '');
    for (const s of ['Revenue', '123,456.78EUR', '▲+12%', '▼-4%', 'Orderspermonth', 'Jan', 'Jun', '80', '-20']) {
      expect(text).toContain(s);
    }
    const ops = await pdf.operators(1);
    // 6 bars + (gridline + tick) per axis step + 2 axes, on top of the KPI boxes.
    expect(ops.get('constructPath') ?? 0).toBeGreaterThanOrEqual(6 + 2 * 6 + 2);
    expect(ops.get('setFillRGBColor') ?? 0).toBeGreaterThanOrEqual(6);
    await pdf.close();
  });

  it('history prints the given events with short and full hashes', async () => {
    const history: HistoryEntry[] = [
      { streamVersion: 1, type: 'ReportRequested', recordedAt: '2025-03-04T05:00:00.000Z', actor: 'alice', region: 'iad', hash: 'ab'.repeat(32) },
      { streamVersion: 2, type: 'ReportRendered', recordedAt: '2025-03-04T05:00:01.000Z', actor: null, region: 'lax', hash: 'cd'.repeat(32) },
    ];
    const result = await pool.render({
      template: 'history',
      title: 'Audit trail',
      reportId: REPORT_ID,
      generatedAt: GENERATED_AT,
      params: { reportId: '0b9f3e0c-1111-4aaa-8bbb-222233334444' },
      history,
    });
    const pdf = await openPdf(result.pdf);
    const text = await pdf.text(1);
    // The time is printed under the date (two lines), so the hash column fits inside the margins.
    for (const s of ['0b9f3e0c-1111-4aaa-8bbb-222233334444', 'ReportRequested', 'ReportRendered', 'alice', 'iad', 'lax', '2025-03-04 05:00:01.000Z']) {
      expect(text).toContain(s);
    }
    expect(text).toContain('ab'.repeat(6));
    expect(text.replace(/\s/g, '')).toContain('cd'.repeat(32));
    await pdf.close();
  });

  it('renders CJK, emoji, Cyrillic and Greek text without crashing, and the text is in the PDF', async () => {
    const names = ['東京の請求書 报告', 'Отчёт о продажах', 'Αναφορά Ωμέγα', 'Launch 🚀 party 🎉', 'Mixed: 中文 + русский + ελληνικά ✅'];
    const job = tableJob(names.length, { title: 'Unicode 报告 📊 Отчёт' });
    (job.params as any).rows.forEach((r: any, i: number) => (r.customer = names[i]));
    (job.params as any).subtitle = 'Ελληνικά και 日本語';
    const result = await pool.render(job);
    const pdf = await openPdf(result.pdf);
    const text = (await pdf.text(1)).replace(/\s+/g, '');
    for (const s of ['Unicode报告📊Отчёт', 'Ελληνικάκαι日本語', ...names]) expect(text).toContain(s.replace(/\s+/g, ''));
    await pdf.close();
  });

  it('rejects unknown templates and invalid params with RenderError(invalid_job)', async () => {
    const unknown = pool.render({ ...tableJob(1), template: 'pie' });
    await expect(unknown).rejects.toBeInstanceOf(RenderError);
    await expect(unknown).rejects.toMatchObject({ code: 'RENDER_FAILED', reason: 'invalid_job' });
    const job = tableJob(1);
    (job.params as any).columns[0].align = 'justify';
    await expect(pool.render(job)).rejects.toThrow(/columns\.0\.align/);
  });

  it('cancels a running render through its AbortSignal, and keeps serving', async () => {
    const controller = new AbortController();
    const running = pool.render(tableJob(5000), {
      signal: controller.signal,
      onProgress: () => controller.abort(new Error('user cancelled')),
    });
    await expect(running).rejects.toMatchObject({ reason: 'aborted' });
    const queuedAbort = new AbortController();
    queuedAbort.abort();
    await expect(pool.render(tableJob(1), { signal: queuedAbort.signal })).rejects.toMatchObject({ reason: 'aborted' });
    expect((await pool.render(tableJob(10))).pages).toBe(1);
  });
});

describe('a crashing worker', () => {
  const crashy = new RenderPool({ size: 1, workerUrl: new URL('./fixtures/crashing-worker.js', import.meta.url) });
  afterAll(() => crashy.close());

  it.each(['crash-exit', 'crash-throw'])('%s rejects its job with RenderError(crashed); the pool renders the next job', async (template) => {
    const crash = crashy.render({ ...tableJob(1), template });
    await expect(crash).rejects.toBeInstanceOf(RenderError);
    await expect(crash).rejects.toMatchObject({ reason: 'crashed' });
    const next = await crashy.render(tableJob(120));
    expect(next.pages).toBe((await openPdf(next.pdf)).numPages);
    expect(next.pages).toBeGreaterThan(1);
  });

  it('running out of heap crashes only that worker', async () => {
    const tiny = new RenderPool({ size: 1, resourceLimits: { maxOldGenerationSizeMb: 48, maxYoungGenerationSizeMb: 8 } });
    try {
      await expect(tiny.render(tableJob(20_000))).rejects.toMatchObject({ reason: 'out_of_memory' });
      expect((await tiny.render(tableJob(10))).pages).toBe(1);
    } finally {
      await tiny.close();
    }
  });

  it('close() rejects queued jobs and later calls with reason closed', async () => {
    const p = new RenderPool({ size: 1 });
    const first = expect(p.render(tableJob(2000))).rejects.toMatchObject({ reason: 'closed' });
    const second = expect(p.render(tableJob(10))).rejects.toMatchObject({ reason: 'closed' });
    await p.close();
    await Promise.all([first, second]);
    await expect(p.render(tableJob(1))).rejects.toMatchObject({ reason: 'closed' });
  });
});
