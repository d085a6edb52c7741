import { openScratchDatabase } from '../../src/database/scratch-database.js';
// request → STORED latency through the real code path: requestReport appends ReportRequested, the
// render work loop (woken by the event notification) claims it, renders in the worker pool, writes
// the volume file and appends ReportRendered + ReportStoredLocal. The clock stops when a
// subscription on the same store delivers that ReportStoredLocal, i.e. when a reader could see it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import type { DatabaseKind } from '../../src/database/connect.js';
import { createLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics.js';
import { loadReportState } from '../../src/reports/load-report.js';
import { requestReport } from '../../src/reports/request-report.js';
import { assembleRuntime, type Runtime } from '../../src/runtime.js';
import { createWorkers } from '../../src/workers/start-workers.js';

const log = createLogger('silent');

export interface LatencyResult {
  backend: DatabaseKind;
  runs: number;
  rows: number;
  pages: number;
  /** request → ReportStoredLocal delivered to a subscriber, ms, sorted ascending. */
  latencies: number[];
  /** renderMs as the worker recorded it in ReportRendered, ms, sorted ascending. */
  renderMs: number[];
}

/** Resolves per stream when its ReportStoredLocal is delivered; rejects on ReportFailed. */
class StoredWaiter {
  private readonly waiting = new Map<string, { resolve: (at: number) => void; reject: (e: Error) => void }>();
  private readonly early = new Map<string, number | Error>();
  readonly renderMs = new Map<string, number>();
  private readonly abort = new AbortController();
  private readonly done: Promise<void>;

  constructor(runtime: Runtime, after: Awaited<ReturnType<Runtime['store']['headCheckpoint']>>) {
    this.done = (async () => {
      for await (const e of runtime.store.subscribe({ after, signal: this.abort.signal, pollMs: 1000 })) {
        if (e.type === 'ReportRendered') this.renderMs.set(e.streamId, e.data.renderMs);
        if (e.type !== 'ReportStoredLocal' && e.type !== 'ReportFailed') continue;
        const outcome = e.type === 'ReportStoredLocal' ? performance.now() : new Error(`${e.streamId} failed: ${JSON.stringify(e.data)}`);
        const w = this.waiting.get(e.streamId);
        if (!w) this.early.set(e.streamId, outcome);
        else if (typeof outcome === 'number') w.resolve(outcome);
        else w.reject(outcome);
        this.waiting.delete(e.streamId);
      }
    })();
  }

  /** The performance.now() at which the stream's ReportStoredLocal was delivered. */
  storedAt(streamId: string, timeoutMs = 60_000): Promise<number> {
    const early = this.early.get(streamId);
    if (early !== undefined) {
      this.early.delete(streamId);
      return typeof early === 'number' ? Promise.resolve(early) : Promise.reject(early);
    }
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${streamId}: not STORED after ${timeoutMs} ms`)), timeoutMs);
      this.waiting.set(streamId, {
        resolve: (at) => (clearTimeout(timer), resolve(at)),
        reject: (err) => (clearTimeout(timer), reject(err)),
      });
    });
  }

  async close(): Promise<void> {
    this.abort.abort();
    await this.done;
  }
}

/**
 * Builds a runtime the way `quire serve` does (temp DATA_DIR, fresh database, default storage
 * mode and render concurrency), starts the workers, and times `runs` sequential 1,000-row table
 * requests after `warmUps` untimed ones.
 */
export async function measureStoredLatency(
  kind: DatabaseKind,
  params: Record<string, unknown>,
  options: { runs?: number; warmUps?: number } = {},
): Promise<LatencyResult> {
  const { runs = 20, warmUps = 2 } = options;
  const dataDir = mkdtempSync(join(tmpdir(), 'quire-bench-'));
  const database = await openScratchDatabase(kind, { prefix: 'quire_bench' });
  let runtime: Runtime | undefined;
  let workers: ReturnType<typeof createWorkers> | undefined;
  let waiter: StoredWaiter | undefined;
  try {
    const config = loadConfig({ DATA_DIR: dataDir, FLY_REGION: 'iad', LOG_LEVEL: 'silent' });
    runtime = assembleRuntime(config, log, database, new Metrics({ defaultMetrics: false }));
    workers = createWorkers(runtime);
    await workers.pool.warmUp();
    workers.start();
    waiter = new StoredWaiter(runtime, await runtime.store.headCheckpoint());

    const latencies: number[] = [];
    const renderMs: number[] = [];
    let pages = 0;
    for (let i = 0; i < warmUps + runs; i++) {
      const t0 = performance.now();
      const { reportId, streamId } = await requestReport(
        runtime.store,
        { template: 'table', title: `Invoices ${i + 1}`, params },
        { id: 'bench', role: 'user' },
      );
      const t1 = await waiter.storedAt(streamId);
      if (i < warmUps) continue;
      latencies.push(t1 - t0);
      renderMs.push(waiter.renderMs.get(streamId) ?? NaN);
      if (i === warmUps) {
        const state = await loadReportState(runtime.store.db, reportId);
        if (state?.status !== 'STORED' && state?.status !== 'REPLICATED') throw new Error(`status is ${state?.status}, not STORED`);
        pages = state.pages ?? 0;
      }
    }
    return {
      backend: kind,
      runs,
      rows: Array.isArray(params.rows) ? params.rows.length : 0,
      pages,
      latencies: latencies.sort((a, b) => a - b),
      renderMs: renderMs.sort((a, b) => a - b),
    };
  } finally {
    await waiter?.close();
    await workers?.stop(5_000);
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Nearest-rank percentile of an ascending list. */
export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
