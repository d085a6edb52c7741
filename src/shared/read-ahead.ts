/**
 * A bounded queue between a reader and its consumer: `read` runs again as soon as there is room,
 * while the consumer works on what was read before (so a database read overlaps the work on the
 * previous batch). At most `bound` items wait between the two; a failed read fails the `take`
 * after the items read before it. `close` stops reading and waits for a read in flight, so the
 * connection or transaction it uses can be released.
 */
export class ReadAhead<T> {
  private readonly ready: T[] = [];
  private done = false;
  private failure: { error: unknown } | null = null;
  private stopped = false;
  private wakeTaker: (() => void) | null = null;
  private wakeReader: (() => void) | null = null;
  private readonly running: Promise<void>;

  /** `read` returns null at the end. */
  constructor(
    private readonly read: () => Promise<T | null>,
    private readonly bound: number,
  ) {
    if (!Number.isInteger(bound) || bound < 1) throw new RangeError(`read-ahead bound must be a positive integer, got ${bound}`);
    this.running = this.run();
  }

  /** The next item in read order, or null at the end. */
  async take(): Promise<T | null> {
    for (;;) {
      if (this.ready.length > 0) {
        const item = this.ready.shift()!;
        this.wake('reader');
        return item;
      }
      if (this.done) {
        if (this.failure) throw this.failure.error;
        return null;
      }
      await new Promise<void>((resolve) => (this.wakeTaker = resolve));
    }
  }

  async close(): Promise<void> {
    this.stopped = true;
    this.wake('reader');
    await this.running;
  }

  private async run(): Promise<void> {
    try {
      while (!this.stopped) {
        if (this.ready.length >= this.bound) {
          await new Promise<void>((resolve) => (this.wakeReader = resolve));
          continue;
        }
        const item = await this.read();
        if (item === null || this.stopped) break;
        this.ready.push(item);
        this.wake('taker');
      }
    } catch (error) {
      this.failure = { error };
    } finally {
      this.done = true;
      this.wake('taker');
    }
  }

  private wake(who: 'taker' | 'reader'): void {
    const wake = who === 'taker' ? this.wakeTaker : this.wakeReader;
    if (who === 'taker') this.wakeTaker = null;
    else this.wakeReader = null;
    wake?.();
  }
}
