import type { Runtime } from '../runtime.js';
import { sweepOrphans, type SweepResult } from '../volumes/sweep-orphans.js';

/**
 * Sweeps this machine's volume for orphaned files in the background: every quarter of
 * ORPHAN_GRACE_MS (at least a second, at most 15 minutes), one sweep at a time.
 */
export class OrphanSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = true;
  readonly intervalMs: number;

  constructor(private readonly runtime: Runtime) {
    this.intervalMs = Math.min(15 * 60_000, Math.max(1000, Math.floor(runtime.config.orphanGraceMs / 4)));
  }

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One sweep now (tests, and the loop). */
  sweepOnce(): Promise<SweepResult> {
    const { config, store, volume, log } = this.runtime;
    return sweepOrphans({ store, volume, region: config.region, machine: config.machineId, graceMs: config.orphanGraceMs, log });
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.sweepOnce()
        .catch((err) => this.runtime.log.warn({ err }, 'orphan sweep failed'))
        .finally(() => {
          this.running = undefined;
          this.schedule();
        });
    }, this.intervalMs);
    this.timer.unref();
  }
}
