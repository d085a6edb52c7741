import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Notifier } from '../database/notifier.js';
import { RenderPool } from '../render/render-pool.js';
import type { Runtime } from '../runtime.js';
import { releaseAllLeases } from './leases.js';
import { renderStage } from './render-worker.js';
import { replicateStage } from './replicate-worker.js';
import { WorkLoop, type WorkLoopOptions } from './work-loop.js';

export interface Workers {
  readonly owner: string;
  readonly pool: RenderPool;
  readonly render: WorkLoop;
  /** Copies this region's volume files to the object store; only in `mirror` mode. */
  readonly replicate: WorkLoop | undefined;
  start(): void;
  /** Finishes (or aborts after a grace) the work in flight and releases this instance's leases. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Render progress goes out over NOTIFY only (it is transient, not a lifecycle event), at most
 * every 5% per report so a 1,000-page render does not flood the channel.
 */
function progressPublisher(notifier: Notifier): (reportId: string, fraction: number) => void {
  const last = new Map<string, number>();
  return (reportId, fraction) => {
    const previous = last.get(reportId) ?? -1;
    if (fraction < 1 && fraction - previous < 0.05) return;
    if (fraction >= 1) last.delete(reportId);
    else last.set(reportId, fraction);
    notifier.notify('quire_progress', `${reportId}:${fraction.toFixed(3)}`);
  };
}

/** A lease owner id unique to this process: region, host, pid and a random suffix. */
export function instanceId(region: string): string {
  return `${region}:${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

export function createWorkers(runtime: Runtime, options: { owner?: string; pool?: RenderPool } = {}): Workers {
  const { config, store, log, database, volume, objectStore, metrics } = runtime;
  const owner = options.owner ?? instanceId(config.region);
  const pool = options.pool ?? new RenderPool({ size: config.renderConcurrency });
  const common = {
    store,
    region: config.region,
    owner,
    leaseMs: config.leaseMs,
    backoff: { maxAttempts: config.maxAttempts, baseMs: config.retryBaseMs },
    log,
  };
  const loop = (name: string, concurrency: number, stage: Pick<WorkLoopOptions, 'claim' | 'process'>) =>
    new WorkLoop({ name, concurrency, pollMs: config.workerPollMs, notifier: database.notifier, log, ...stage });
  const render = loop(
    'render',
    pool.size,
    renderStage({ ...common, pool, volume, mode: config.storageMode, objectStore, onProgress: progressPublisher(database.notifier) }),
  );
  const replicate =
    config.storageMode === 'mirror' ? loop('replicate', 4, replicateStage({ ...common, volume, objectStore, metrics })) : undefined;
  return {
    owner,
    pool,
    render,
    replicate,
    start() {
      render.start();
      replicate?.start();
    },
    async stop(graceMs) {
      await Promise.all([render.stop(graceMs), replicate?.stop(graceMs)]);
      await pool.close();
      await releaseAllLeases(store.db, owner);
    },
  };
}
