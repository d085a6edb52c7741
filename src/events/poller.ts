import type { Notifier } from '../database/notifier.js';
import { EVENTS_CHANNEL } from './append.js';

/**
 * The wake-or-timeout wait of every loop that follows the log (subscriptions, work loops, the
 * sealer, the legacy scanner): a loop does its work, then waits for an event notification, an
 * explicit wake (stop, a slot freed) or its poll interval, whichever comes first. A wake that
 * arrives while the loop is working is kept (`woken`), so the loop looks again instead of sleeping
 * through it. A notification is only a hint: loops always read from their own position.
 */
export class Poller {
  private wakeWaiter: (() => void) | undefined;
  private isWoken = false;
  private readonly unlisten: () => void;

  /** `notifier`: wake on every event appended; `signal`: wake when it aborts (the loop then ends). */
  constructor(notifier: Notifier | null, signal?: AbortSignal) {
    const wake = () => this.wake();
    const unlisten = notifier?.on(EVENTS_CHANNEL, wake);
    signal?.addEventListener('abort', wake);
    this.unlisten = () => {
      unlisten?.();
      signal?.removeEventListener('abort', wake);
    };
  }

  /** Something happened since the last `reset()`. */
  get woken(): boolean {
    return this.isWoken;
  }

  /** Call when starting a round of work: wakes from now on count. */
  reset(): void {
    this.isWoken = false;
  }

  wake(): void {
    this.isWoken = true;
    this.wakeWaiter?.();
  }

  /**
   * Waits `ms`, or less if woken meanwhile. `wakeable: false` waits the whole time (a debounce:
   * under load, look again soon but not once per append).
   */
  async sleep(ms: number, { wakeable = true } = {}): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      if (!wakeable) return;
      this.wakeWaiter = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wakeWaiter = undefined;
  }

  /** Stops listening. */
  close(): void {
    this.unlisten();
  }
}
