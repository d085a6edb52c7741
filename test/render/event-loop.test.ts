import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { renderPdf } from '../../src/render/pdfmake.js';
import { RenderPool } from '../../src/render/render-pool.js';
import { templates } from '../../src/reports/templates/registry.js';
import { tableJob } from './fixtures.js';

const ROWS_FOR_200_PAGES = 11_000;
/**
 * The longest the main event loop may stall while 4 reports render (observed: 30–100 ms on 2 CPUs). pdfmake lays a document out in
 * one synchronous call; the first test measures that stall on the main thread (seconds for 200
 * pages) and checks it is far above this bound, so the bound really would catch pdfmake on the
 * main thread.
 */
const MAX_STALL_MS = 400;

async function maxDelayDuring(work: () => Promise<unknown>): Promise<number> {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  // Its first timer tick only sets the baseline: a stall before it would go unseen.
  await sleep(50);
  try {
    await work();
    // The histogram records a stall when its timer finally runs: give it the chance.
    await sleep(50);
  } finally {
    h.disable();
  }
  return h.max / 1e6;
}

describe('the event loop stays responsive while reports render', () => {
  const pool = new RenderPool({ size: 4 });
  afterAll(() => pool.close());

  it('a 200-page render on the main thread would stall it far beyond the bound', async () => {
    const job = tableJob(ROWS_FOR_200_PAGES);
    const doc = templates.table.build(templates.table.params.parse(job.params), job);
    const stall = await maxDelayDuring(() => renderPdf(doc));
    console.log(`in-process 200-page render: event loop stalled up to ${stall.toFixed(0)} ms`);
    expect(stall).toBeGreaterThan(MAX_STALL_MS * 2);
  });

  it('4 × 200-page reports through the pool', async () => {
    await pool.warmUp();
    let results: Awaited<ReturnType<RenderPool['render']>>[] = [];
    const stall = await maxDelayDuring(async () => {
      results = await Promise.all([1, 2, 3, 4].map(() => pool.render(tableJob(ROWS_FOR_200_PAGES))));
    });
    console.log(`pool, 4 × ${results[0]!.pages} pages: event loop stalled up to ${stall.toFixed(0)} ms`);
    for (const r of results) expect(r.pages).toBeGreaterThanOrEqual(200);
    expect(stall).toBeLessThan(MAX_STALL_MS);
  });
});
