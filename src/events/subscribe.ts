import { setTimeout as sleep } from 'node:timers/promises';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Notifier } from '../database/notifier.js';
import type { Database } from '../database/schema.js';
import { START, type Checkpoint } from './checkpoint.js';
import { Poller } from './poller.js';
import { readAll, type QuarantineHandler } from './read.js';
import type { RecordedEvent } from './recorded-event.js';

export interface SubscribeOptions {
  /** Deliver events after this checkpoint (default: from the start of the log). */
  after?: Checkpoint;
  batchSize?: number;
  /** Poll this often even without a notification (a stalled xmin advances silently). */
  pollMs?: number;
  signal?: AbortSignal;
}

export interface SubscribeContext {
  db: Kysely<Database>;
  /**
   * Where to catch up from (a hot standby of `db`, or `db` itself when there is none or it is
   * down): read there until a batch comes back short, then follow live on `db`. Handing over is
   * gap-free because a standby's safe read is a prefix of the primary's (every transaction below
   * the standby's xmin has ended on the primary too).
   */
  catchUpDb?: () => Promise<Kysely<Database>>;
  notifier: Notifier;
  log: Logger;
  /** Told about every row skipped because it cannot be read (the subscription goes on past it). */
  onQuarantine?: QuarantineHandler;
}

/** After a notification finds nothing safe to read yet: re-read after 25 ms, doubling up to 1 s, at most 20 times (~15 s). */
const HELD_BACK_FIRST_MS = 25;
const HELD_BACK_MAX_MS = 1000;
const HELD_BACK_MAX_READS = 20;

/**
 * Every event after `after`, in commit order, exactly once: first the catch-up, then live.
 * NOTIFY only wakes the loop; each read starts from the last delivered checkpoint, so a lost
 * notification, a dropped LISTEN connection or a failed read delays delivery but never skips or
 * repeats an event. Ends when `signal` aborts (or the consumer stops iterating).
 */
export async function* subscribe(ctx: SubscribeContext, options: SubscribeOptions = {}): AsyncGenerator<RecordedEvent> {
  const { batchSize = 500, pollMs = 1000, signal } = options;
  let checkpoint = options.after ?? START;
  const poller = new Poller(ctx.notifier, signal);
  // Notified of a commit this reader has not seen yet: it may still be held back by an older
  // transaction that is running (the safe read waits for it), so look again soon, not at the next poll.
  let expecting = false;
  let heldBackReads = 0;
  let failures = 0;
  let source = ctx.db;
  try {
    if (ctx.catchUpDb) source = await ctx.catchUpDb().catch(() => ctx.db);
    while (!signal?.aborted) {
      if (poller.woken) expecting = true;
      poller.reset();
      let batch: RecordedEvent[];
      let rows: number;
      let next: Checkpoint;
      try {
        const page = await readAll(source, checkpoint, batchSize, ctx.onQuarantine);
        batch = page.events;
        rows = batch.length + page.quarantined.length;
        next = page.checkpoint;
        failures = 0;
      } catch (err) {
        // A failing reader hands over to the primary at once.
        source = ctx.db;
        failures++;
        ctx.log.warn({ err, failures }, 'subscription read failed; retrying');
        await sleep(Math.min(100 * 2 ** failures, pollMs * 5));
        continue;
      }
      for (const event of batch) {
        if (signal?.aborted) return;
        checkpoint = event.checkpoint;
        yield event;
      }
      // Past quarantined rows too (they may end the page).
      checkpoint = next;
      if (rows > 0 || heldBackReads >= HELD_BACK_MAX_READS) {
        expecting = false;
        heldBackReads = 0;
      }
      if (source !== ctx.db && rows < batchSize) {
        // Caught up with the reader: live events come from the primary, where NOTIFY wakes them.
        source = ctx.db;
        continue;
      }
      if (rows === batchSize || poller.woken) continue;
      await poller.sleep(expecting ? Math.min(HELD_BACK_FIRST_MS * 2 ** heldBackReads++, HELD_BACK_MAX_MS, pollMs) : pollMs);
    }
  } finally {
    poller.close();
  }
}
