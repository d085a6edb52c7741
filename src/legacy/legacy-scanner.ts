import type { Checkpoint } from '../events/checkpoint.js';
import type { Runtime } from '../runtime.js';
import { scanVolume } from './scan-volume.js';

/**
 * Keeps this machine's volume scan current in the background: a full scan at start, then only the
 * imports that arrived since, whenever events are appended (debounced) or every `intervalMs`; and
 * a full scan again every FULL_SCAN_EVERY rounds, for files restored to a volume later.
 */
const FULL_SCAN_EVERY = 60;

export class LegacyScanner {
  private checkpoint: Checkpoint | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  private unlisten: (() => void) | undefined;
  private rounds = 0;

  constructor(
    private readonly runtime: Runtime,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.stopped = false;
    this.unlisten = this.runtime.database.notifier.on('quire_events', () => this.schedule(250));
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unlisten?.();
    clearTimeout(this.timer);
    await this.running;
  }

  /** One scan now: from where the last one got to, or of every import with `full`. */
  async scanOnce(options: { full?: boolean } = {}): Promise<void> {
    const { config, store, volume, log } = this.runtime;
    const full = options.full || this.rounds++ % FULL_SCAN_EVERY === 0;
    const result = await scanVolume({
      store,
      volume,
      region: config.region,
      machine: config.machineId,
      pathPrefix: config.legacy.pathPrefix,
      log,
      ...(this.checkpoint && !full ? { after: this.checkpoint } : {}),
    });
    this.checkpoint = result.checkpoint;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.running = this.scanOnce()
        .catch((err) => this.runtime.log.warn({ err }, 'legacy scan failed'))
        .finally(() => {
          this.running = undefined;
          const again = this.again;
          this.again = false;
          this.schedule(again ? 250 : this.intervalMs);
        });
    }, delayMs);
  }
}
