import type { Logger } from 'pino';
import type { Notifier } from '../database/notifier.js';
import { Poller } from '../events/poller.js';
import type { Claim } from './leases.js';

export interface WorkLoopOptions {
  name: string;
  /** Claims processed at once. */
  concurrency: number;
  /** Look for due work this often even without a notification (retries come due silently). */
  pollMs: number;
  notifier: Notifier;
  log: Logger;
  claim(limit: number): Promise<Claim[]>;
  /** Handles one claim; `signal` aborts when the loop stops hard. Must release its lease. */
  process(claim: Claim, signal: AbortSignal): Promise<void>;
}

/**
 * claim → act → append, forever: wakes on every event notification and on a poll timer, keeps at
 * most `concurrency` claims in flight, and on stop lets them finish (or aborts them after a grace).
 */
export class WorkLoop {
  private running = false;
  private inFlight = new Set<Promise<void>>();
  private poller: Poller | undefined;
  private loop: Promise<void> | undefined;
  private readonly abort = new AbortController();

  constructor(private readonly options: WorkLoopOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.poller = new Poller(this.options.notifier);
    this.loop = this.run(this.poller);
  }

  /**
   * Stops claiming; waits up to `graceMs` for work in flight, then aborts it and waits at most
   * `abortWaitMs` more: work that ignores the abort must not keep the caller (a shutdown that still
   * has leases to release) waiting past its deadline.
   */
  async stop(graceMs = 10_000, abortWaitMs = 2_000): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.poller?.close();
    this.poke();
    await this.loop;
    let giveUp: () => void = () => {};
    const gaveUp = new Promise<void>((resolve) => (giveUp = resolve));
    let abandon: ReturnType<typeof setTimeout> | undefined;
    const timer = setTimeout(() => {
      this.abort.abort();
      abandon = setTimeout(giveUp, abortWaitMs);
    }, graceMs);
    const settled = Promise.allSettled(this.inFlight).then(() => true);
    const done = await Promise.race([settled, gaveUp.then(() => false)]);
    clearTimeout(timer);
    clearTimeout(abandon);
    if (!done) this.options.log.warn({ loop: this.options.name, inFlight: this.inFlight.size }, 'work still running after the abort; leaving it');
  }

  /** Claims and processes until nothing is due (tests and one-shot CLI runs). */
  async drain(): Promise<number> {
    let processed = 0;
    for (;;) {
      const claims = await this.options.claim(this.options.concurrency);
      if (claims.length === 0) return processed;
      await Promise.all(claims.map((c) => this.options.process(c, this.abort.signal)));
      processed += claims.length;
    }
  }

  private poke(): void {
    this.poller?.wake();
  }

  private async run(poller: Poller): Promise<void> {
    const { concurrency, pollMs, log, name } = this.options;
    while (this.running) {
      poller.reset();
      const free = concurrency - this.inFlight.size;
      let claimed = 0;
      if (free > 0) {
        try {
          const claims = await this.options.claim(free);
          claimed = claims.length;
          for (const claim of claims) this.track(claim);
        } catch (err) {
          log.warn({ err, loop: name }, 'claim failed');
        }
      }
      if (!this.running) break;
      if ((claimed > 0 && claimed === free) || poller.woken) {
        // Full, or more may be due: wait only for a slot to free up or a new event.
        if (this.inFlight.size < concurrency) continue;
      }
      await poller.sleep(pollMs);
    }
  }

  private track(claim: Claim): void {
    const work = this.options
      .process(claim, this.abort.signal)
      .catch((err) => this.options.log.error({ err, loop: this.options.name, reportId: claim.reportId }, 'work failed'))
      .finally(() => {
        this.inFlight.delete(work);
        this.poke();
      });
    this.inFlight.add(work);
  }
}
