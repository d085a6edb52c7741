import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { RenderPool } from '../render/render-pool.js';
import type { Runtime } from '../runtime.js';
import { Volume } from '../storage/volume.js';
import { releaseAllLeases } from './leases.js';
import { renderStage } from './render-worker.js';
import { WorkLoop } from './work-loop.js';

export interface Workers {
  readonly owner: string;
  readonly pool: RenderPool;
  readonly render: WorkLoop;
  /** Finishes (or aborts after a grace) the work in flight and releases this instance's leases. */
  stop(graceMs?: number): Promise<void>;
}

/** A lease owner id unique to this process: region, host, pid and a random suffix. */
export function instanceId(region: string): string {
  return `${region}:${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

export function createWorkers(runtime: Runtime, options: { owner?: string; pool?: RenderPool } = {}): Workers {
  const { config, store, log, database } = runtime;
  const owner = options.owner ?? instanceId(config.region);
  const pool = options.pool ?? new RenderPool({ size: config.renderConcurrency });
  const stage = renderStage({
    store,
    pool,
    volume: new Volume(config.reportsDir),
    region: config.region,
    owner,
    leaseMs: config.leaseMs,
    backoff: { maxAttempts: config.maxAttempts, baseMs: config.retryBaseMs },
    log,
  });
  const render = new WorkLoop({
    name: 'render',
    concurrency: pool.size,
    pollMs: config.workerPollMs,
    notifier: database.notifier,
    log,
    ...stage,
  });
  return {
    owner,
    pool,
    render,
    async stop(graceMs) {
      await render.stop(graceMs);
      await pool.close();
      await releaseAllLeases(store.db, owner);
    },
  };
}
