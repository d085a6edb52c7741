import type { Checkpoint } from '../events/checkpoint.js';
import { Poller } from '../events/poller.js';
import type { Runtime } from '../runtime.js';
import { scanVolume, type ScanResult } from './scan-volume.js';

/**
 * Keeps this machine's volume scan current in the background: a full scan at start, then only the
 * imports that arrived since, whenever events are appended (debounced) or every `intervalMs`; and
 * a full scan again every FULL_SCAN_EVERY rounds, for files restored to a volume later.
 */
const FULL_SCAN_EVERY = 60;

/** Scans this machine's volume (REPORTS_DIR) for imported files: all of them, or those imported after `after`. */
export function scanThisVolume(runtime: Runtime, after?: Checkpoint): Promise<ScanResult> {
  const { config, store, volume, log } = runtime;
  return scanVolume({ store, volume, region: config.region, machine: config.machineId, pathPrefix: config.legacy.pathPrefix, log, ...(after ? { after } : {}) });
}

export class LegacyScanner {
  private checkpoint: Checkpoint | undefined;
  private poller: Poller | undefined;
  private loop: Promise<void> | undefined;
  private stopped = true;
  private rounds = 0;

  constructor(
    private readonly runtime: Runtime,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.poller = new Poller(this.runtime.database.notifier);
    this.loop = this.run(this.poller);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.poller?.close();
    this.poller?.wake();
    await this.loop;
  }

  /** One scan now: from where the last one got to, or of every import with `full`. */
  async scanOnce(options: { full?: boolean } = {}): Promise<void> {
    const full = options.full || this.rounds++ % FULL_SCAN_EVERY === 0;
    const result = await scanThisVolume(this.runtime, this.checkpoint && !full ? this.checkpoint : undefined);
    this.checkpoint = result.checkpoint;
  }

  private async run(poller: Poller): Promise<void> {
    while (!this.stopped) {
      poller.reset();
      await this.scanOnce().catch((err) => this.runtime.log.warn({ err }, 'legacy scan failed'));
      if (this.stopped) break;
      if (!poller.woken) await poller.sleep(this.intervalMs);
      // Events come in bursts (an import appends many): let one settle before scanning again.
      if (poller.woken && !this.stopped) await poller.sleep(250, { wakeable: false });
    }
  }
}
