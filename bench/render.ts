// npm run bench:render — pages/s of the `table` template through the render pool (one worker)
// against bare pdfmake rendering the same document definition in this process, peak RSS of the
// 1,000-page case, Debian's weasyprint on the same table as HTML where it is installed, and
// request → STORED latency of a 1,000-row table through requestReport and the real workers on
// embedded PGlite (and on PostgreSQL when DATABASE_URL is set; a scratch database is created).
//
//   BENCH_PARTS=pages,latency     which parts to run (default both)
//   BENCH_LATENCY_RUNS=20         timed requests per backend (after 2 warm-ups)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pdfmake from 'pdfmake';
import { countPages } from '../src/render/count-pages.js';
import { configurePdfmake, RENDERER_VERSION } from '../src/render/pdfmake.js';
import { RenderPool, type RenderJob } from '../src/render/render-pool.js';
import { templates } from '../src/reports/templates/registry.js';
import type { DatabaseKind } from '../src/database/connect.js';
import { measureStoredLatency, percentile } from './support/latency.js';

/** Measured: the table below fits ~55 rows on an A4 page. */
const ROWS_PER_PAGE = 55;
const SIZES = [
  { pages: 10, runs: 7 },
  { pages: 100, runs: 3 },
  { pages: 1000, runs: 1 },
];

const PARTS = (process.env.BENCH_PARTS ?? 'pages,latency').split(',');
const LATENCY_RUNS = Number(process.env.BENCH_LATENCY_RUNS ?? 20);

/** The `table` params every part uses: 4 columns (number, text, EUR currency, date) and a totals row. */
function tableParams(rowCount: number): Record<string, unknown> {
  const rows = Array.from({ length: rowCount }, (_, i) => ({
    id: i + 1,
    customer: `Customer ${i + 1}`,
    amount: Math.round(((i * 7919) % 100_000) / 3) / 100,
    due: new Date(Date.UTC(2025, 0, 1 + (i % 365))).toISOString(),
  }));
  return {
    columns: [
      { label: 'Invoice', key: 'id', format: 'number' },
      { label: 'Customer', key: 'customer' },
      { label: 'Amount', key: 'amount', format: 'currency', currency: 'EUR' },
      { label: 'Due', key: 'due', format: 'date' },
    ],
    rows,
    totals: ['amount'],
  };
}

function job(pages: number): RenderJob {
  return {
    template: 'table',
    title: 'Invoices',
    reportId: '3f1c2b9e-5d4a-4c8b-9a7e-1b2c3d4e5f60',
    generatedAt: new Date('2025-03-04T05:06:07Z'),
    params: tableParams(Math.round(pages * ROWS_PER_PAGE)),
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function bare(j: RenderJob): Promise<{ ms: number; pages: number }> {
  // The document is built outside the timing: "bare" is pdfmake alone.
  const doc = templates.table.build(templates.table.params.parse(j.params), j);
  const t = performance.now();
  const pdf = await configurePdfmake().createPdf(doc).getBuffer();
  return { ms: performance.now() - t, pages: countPages(pdf) };
}

async function pooled(pool: RenderPool, j: RenderJob): Promise<{ ms: number; pages: number }> {
  const t = performance.now();
  const r = await pool.render(j);
  return { ms: performance.now() - t, pages: r.pages };
}

/** Process RSS (the worker's heap is in it) sampled while `work` runs; the main thread is free to sample. */
async function peakRss<T>(work: () => Promise<T>): Promise<{ result: T; peak: number }> {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
  try {
    const result = await work();
    return { result, peak: Math.max(peak, process.memoryUsage.rss()) };
  } finally {
    clearInterval(timer);
  }
}

function weasyprint(j: RenderJob): string {
  const which = spawnSync('which', ['weasyprint'], { encoding: 'utf8' });
  if (which.status !== 0) return 'skipped: weasyprint is not installed (apt-get install weasyprint)';
  const p = j.params as { columns: { label: string; key: string }[]; rows: Record<string, unknown>[] };
  const esc = (s: unknown) => String(s).replace(/[&<>]/g, (c) => `&#${c.charCodeAt(0)};`);
  const html = `<!doctype html><meta charset="utf-8"><style>@page{size:A4;margin:40pt 40pt 50pt;@bottom-right{content:"Page " counter(page) " of " counter(pages)}}
body{font:9pt sans-serif}table{width:100%;border-collapse:collapse}thead{display:table-header-group}th,td{border-bottom:.5pt solid #ccc;text-align:left}</style>
<h1>${esc(j.title)}</h1><table><thead><tr>${p.columns.map((c) => `<th>${esc(c.label)}</th>`).join('')}</tr></thead><tbody>
${p.rows.map((r) => `<tr>${p.columns.map((c) => `<td>${esc(r[c.key])}</td>`).join('')}</tr>`).join('\n')}</tbody></table>`;
  const dir = mkdtempSync(join(tmpdir(), 'quire-bench-'));
  try {
    writeFileSync(join(dir, 'in.html'), html);
    const t = performance.now();
    const out = spawnSync('weasyprint', [join(dir, 'in.html'), join(dir, 'out.pdf')], { encoding: 'utf8' });
    const ms = performance.now() - t;
    if (out.status !== 0) return `failed: ${out.stderr.trim().split('\n').at(-1)}`;
    return `${ms.toFixed(0)} ms`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

pdfmake.setUrlAccessPolicy(() => false);
console.log(`bench:render  ${RENDERER_VERSION}  node ${process.version}\n`);
if (PARTS.includes('pages')) await pagesPerSecond();
if (PARTS.includes('latency')) await storedLatency();

/** Pool vs bare pdfmake at 10, 100 and 1,000 pages; peak RSS; weasyprint. */
async function pagesPerSecond(): Promise<void> {
  const pool = new RenderPool({ size: 1 });
  await pool.warmUp();
  // Warm both paths (JIT, font metrics) before timing.
  await bare(job(10));
  await pooled(pool, job(10));

  const lines: string[] = [];
  const header = '| pages | runs | bare pdfmake ms | bare pages/s | pool ms | pool pages/s | overhead (pool/bare) |';
  lines.push(header, '|---:|---:|---:|---:|---:|---:|---:|');
  let rss1000 = 0;
  let rssBase = 0;
  let weasy = '';
  for (const { pages, runs } of SIZES) {
    const j = job(pages);
    const b: number[] = [];
    const p: number[] = [];
    let actual = 0;
    for (let i = 0; i < runs; i++) {
      if (pages === 1000) {
        // The pool first, so that the peak is not inflated by the bare run's garbage in this heap.
        rssBase = process.memoryUsage.rss();
        const { result, peak } = await peakRss(() => pooled(pool, j));
        rss1000 = Math.max(rss1000, peak);
        p.push(result.ms);
        actual = result.pages;
      } else {
        const r2 = await pooled(pool, j);
        p.push(r2.ms);
        actual = r2.pages;
      }
      const r1 = await bare(j);
      b.push(r1.ms);
      if (r1.pages !== actual) throw new Error(`page counts differ: bare ${r1.pages}, pool ${actual}`);
    }
    const bm = median(b);
    const pm = median(p);
    lines.push(
      `| ${actual} | ${runs} | ${bm.toFixed(0)} | ${((actual / bm) * 1000).toFixed(1)} | ${pm.toFixed(0)} | ${((actual / pm) * 1000).toFixed(1)} | ${(pm / bm).toFixed(3)} |`,
    );
    console.log(lines.at(-1));
    if (pages === 100) weasy = weasyprint(j);
  }
  await pool.close();
  lines.push('', `Peak RSS, 1,000-page render through the pool (whole process, worker included): ${(rss1000 / 2 ** 20).toFixed(0)} MiB (${(rssBase / 2 ** 20).toFixed(0)} MiB before it)`);
  lines.push(`weasyprint, the same 100-page table as HTML: ${weasy}`);
  console.log(`\n${lines.join('\n')}`);
}

/** request → STORED for a 1,000-row table, on each available backend. */
async function storedLatency(): Promise<void> {
  const kinds: DatabaseKind[] = process.env.DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];
  const params = tableParams(1000);
  const lines = [
    '| backend | rows | pages | runs | p50 ms | p90 ms | max ms | min ms | render p50 ms (worker\'s renderMs) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  console.log(`\nrequest → STORED, 1,000-row table, ${LATENCY_RUNS} sequential requests after 2 warm-ups`);
  const p50s: string[] = [];
  for (const kind of kinds) {
    const r = await measureStoredLatency(kind, params, { runs: LATENCY_RUNS, warmUps: 2 });
    const p50 = percentile(r.latencies, 50);
    p50s.push(`${kind} p50 ${p50.toFixed(0)} ms ${p50 < 1000 ? 'MET' : 'NOT MET'}`);
    const f = (ms: number) => ms.toFixed(0);
    lines.push(
      `| ${r.backend} | ${r.rows} | ${r.pages} | ${r.runs} | ${f(p50)} | ${f(percentile(r.latencies, 90))} | ${f(r.latencies.at(-1)!)} | ${f(r.latencies[0]!)} | ${f(percentile(r.renderMs, 50))} |`,
    );
    console.log(lines.at(-1));
  }
  console.log(`\n${lines.join('\n')}\n\ntarget (p50 under 1,000 ms): ${p50s.join(', ')}`);
}
