import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Notifier } from '../database/notifier.js';
import { LegacyScanner } from '../legacy/legacy-scanner.js';
import type { Config } from '../config.js';
import { RenderPool, type RenderPoolOptions } from '../render/render-pool.js';
import type { Runtime } from '../runtime.js';
import { releaseAllLeases } from './leases.js';
import { OrphanSweeper } from './orphan-sweeper.js';
import { renderStage } from './render-stage.js';
import { copyStage } from './copy-stage.js';
import { webhookStage } from './webhook-stage.js';
import { resolveWebhookSecret } from '../auth/secret.js';
import { downloadContext } from '../storage/download-context.js';
import { resolveDownload } from '../storage/resolve-download.js';
import { expiryStage } from './expiry-stage.js';
import { purgeStage } from './purge-stage.js';
import { WorkLoop, type WorkLoopOptions } from './work-loop.js';
import { formatProgress } from '../render/progress-signal.js';

export interface Workers {
  readonly owner: string;
  readonly pool: RenderPool;
  readonly render: WorkLoop;
  /** Copies this machine's volume files to the object store; only in `mirror` mode. */
  readonly replicate: WorkLoop | undefined;
  /** Copies this machine's legacy files to the object store (phase 2), when LEGACY_MIGRATE is on. */
  readonly migrate: WorkLoop | undefined;
  /**
   * Delivers completion webhooks (requestReport's callbackUrl); only when WEBHOOK_ALLOWED_HOSTS is
   * set: without it no callback is accepted, and an idle loop would still claim on every event.
   */
  readonly webhooks: WorkLoop | undefined;
  /** Appends ReportExpired for reports past their expiry (any instance; one per report by its lease). */
  readonly expire: WorkLoop;
  /** Deletes the copies of gone reports: this machine's volume copies, and object copies (any instance). */
  readonly purge: WorkLoop;
  /** Finds imported legacy files on this machine's volume (unless STORAGE_MODE=object: no volume). */
  readonly legacyScanner: LegacyScanner | undefined;
  /** Removes files on this machine's volume that no event references (unless STORAGE_MODE=object). */
  readonly orphanSweeper: OrphanSweeper | undefined;
  start(): void;
  /** Finishes (or aborts after a grace) the work in flight, releases this instance's leases, closes its own pool. */
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
    notifier.notify('quire_progress', formatProgress(reportId, fraction));
  };
}

/** The render pool the config asks for: its size, each render's deadline and each worker's heap. */
export function renderPoolOptions(config: Config): RenderPoolOptions {
  return {
    size: config.renderConcurrency,
    timeoutMs: config.renderTimeoutMs,
    resourceLimits: { maxOldGenerationSizeMb: config.renderMaxHeapMb },
  };
}

/** A lease owner id unique to this process: region, machine (or host), pid and a random suffix. */
export function instanceId(region: string, machine: string = hostname()): string {
  return `${region}:${machine}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

export function createWorkers(runtime: Runtime, options: { owner?: string; pool?: RenderPool } = {}): Workers {
  const { config, store, log, database, volume, objectStore, metrics } = runtime;
  const owner = options.owner ?? instanceId(config.region, config.machineId);
  const ownPool = !options.pool;
  const pool = options.pool ?? new RenderPool(renderPoolOptions(config));
  const common = {
    store,
    region: config.region,
    machine: config.machineId,
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
    renderStage({
      ...common,
      pool,
      volume,
      mode: config.storageMode,
      objectStore,
      metrics,
      pdfAuthor: config.pdfAuthor,
      onProgress: progressPublisher(database.notifier),
    }),
  );
  const replicate =
    config.storageMode === 'mirror' ? loop('replicate', 4, copyStage({ kind: 'replicate', ...common, volume, objectStore, metrics })) : undefined;
  const migrate = config.legacy.migrate
    ? loop(
        'migrate',
        config.legacy.migrateConcurrency,
        copyStage({
          kind: 'migrate',
          ...common,
          volume,
          objectStore,
          metrics,
          ...(config.legacy.migrateFilesPerSecond ? { filesPerSecond: config.legacy.migrateFilesPerSecond } : {}),
        }),
      )
    : undefined;
  let webhookSecret: string | undefined;
  const webhooks =
    config.webhooks.allowedHosts.length === 0
      ? undefined
      : loop(
          'webhook',
          4,
          webhookStage({
            store,
            owner,
            leaseMs: config.leaseMs,
            policy: { allowedHosts: config.webhooks.allowedHosts, production: config.production },
            secret: () => (webhookSecret ??= resolveWebhookSecret(config.webhooks.secret, config.dataDir)),
            backoff: { maxAttempts: config.webhooks.maxAttempts, baseMs: config.webhooks.retryBaseMs },
            timeoutMs: config.webhooks.timeoutMs,
            downloadUrl: (reportId, reportOwner) => resolveDownload(downloadContext(runtime), reportId, { id: reportOwner, role: 'user' }, config.downloadTtlSeconds),
            log,
            metrics,
          }),
        );
  const expire = loop('expire', 4, expiryStage({ store, owner, leaseMs: config.leaseMs, log, machine: config.machineId }));
  const purge = loop('purge', 4, purgeStage({ ...common, volume: config.storageMode === 'object' ? undefined : volume, objectStore }));
  const legacyScanner = config.storageMode === 'object' ? undefined : new LegacyScanner(runtime, Math.max(1000, config.workerPollMs * 10));
  const orphanSweeper = config.storageMode === 'object' ? undefined : new OrphanSweeper(runtime);
  return {
    owner,
    pool,
    render,
    replicate,
    migrate,
    webhooks,
    expire,
    purge,
    legacyScanner,
    orphanSweeper,
    start() {
      webhooks?.start();
      render.start();
      expire.start();
      purge.start();
      replicate?.start();
      migrate?.start();
      legacyScanner?.start();
      orphanSweeper?.start();
    },
    async stop(graceMs) {
      await Promise.all([render.stop(graceMs), webhooks?.stop(graceMs), expire.stop(graceMs), purge.stop(graceMs), replicate?.stop(graceMs), migrate?.stop(graceMs), legacyScanner?.stop(), orphanSweeper?.stop()]);
      if (ownPool) await pool.close();
      await releaseAllLeases(store.db, owner);
    },
  };
}
