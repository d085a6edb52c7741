import { writeAlongside, type Alongside } from './alongside.js';
import { appendWithRetries, BatchMismatch, insertBatch, type AppendContext, type AppendResult, type ValidEvent } from './append.js';

/** An append waiting for its batch: validated, with a known expected version. */
export interface PendingAppend {
  ctx: AppendContext;
  streamId: string;
  expected: number | 'no_stream';
  valid: ValidEvent[];
  callerIds: boolean;
  alongside: readonly Alongside[];
}

export interface GroupCommitOptions {
  /** Batches in flight at once (each holds one connection). Appends arriving while all are busy wait and form the next batch. */
  maxInFlight?: number;
  /** Appends in one batch at most. */
  maxBatch?: number;
}

interface Waiting extends PendingAppend {
  resolve: (result: AppendResult) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit for appends with a known expected version: appends to different streams that
 * arrive while the batches in flight are busy are written by the next batch, one INSERT and one
 * commit for all of them (and their rows alongside and inline projections in the same transaction).
 *
 * Each append's own checks still hold — the expected version through its stream's head row and
 * the (stream_id, stream_version) key, its hash chained from its own stream's head, its event ids
 * unique — because a batch commits only if every append in it passed them. When anything in a
 * batch fails before the commit (a conflict, a repeated event id, a projection's refusal), the
 * whole transaction rolls back and every append of the batch is written on its own, through the
 * same path as without group commit: the failing one fails alone, with its usual typed error;
 * the others commit. A failure of the COMMIT itself is ambiguous (it may have committed), so it
 * is reported to every append of the batch, as it would be to one append on its own.
 *
 * A stream is in at most one batch at a time and at most once per batch: a second append to it
 * waits for the first's batch to finish, so it sees the first's result (and usually conflicts).
 * An idle store adds no delay: an append that finds a free slot goes at once, alone.
 */
export class GroupCommit {
  private readonly maxInFlight: number;
  private readonly maxBatch: number;
  private queue: Waiting[] = [];
  private inFlight = 0;
  private readonly busy = new Set<string>();

  constructor(options: GroupCommitOptions = {}) {
    this.maxInFlight = options.maxInFlight ?? 4;
    this.maxBatch = options.maxBatch ?? 64;
  }

  submit(append: PendingAppend): Promise<AppendResult> {
    return new Promise<AppendResult>((resolve, reject) => {
      this.queue.push({ ...append, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const batch: Waiting[] = [];
      const later: Waiting[] = [];
      const inBatch = new Set<string>();
      for (const w of this.queue) {
        if (batch.length < this.maxBatch && !this.busy.has(w.streamId) && !inBatch.has(w.streamId)) {
          batch.push(w);
          inBatch.add(w.streamId);
        } else later.push(w);
      }
      if (batch.length === 0) return;
      this.queue = later;
      this.inFlight++;
      for (const id of inBatch) this.busy.add(id);
      void this.run(batch).finally(() => {
        this.inFlight--;
        for (const id of inBatch) this.busy.delete(id);
        this.pump();
      });
    }
  }

  private async run(batch: Waiting[]): Promise<void> {
    if (batch.length > 1) {
      const ctx = batch[0]!.ctx;
      let written = false;
      try {
        const results = await ctx.db.transaction().execute(async (trx) => {
          const out = await insertBatch(
            trx,
            batch.map((w) => ({ streamId: w.streamId, version: w.expected === 'no_stream' ? 0 : w.expected, events: w.valid })),
          );
          await writeAlongside(trx, batch.flatMap((w) => w.alongside));
          const events = out.flatMap((result) => result.events);
          for (const projection of ctx.projections) await projection.apply(trx, events);
          written = true;
          return out;
        });
        batch.forEach((w, i) => w.resolve(results[i]!));
        return;
      } catch (err) {
        if (written && !(err instanceof BatchMismatch)) {
          for (const w of batch) w.reject(err);
          return;
        }
        // Rolled back, nothing written: each append on its own tells which one failed, and why.
      }
    }
    await Promise.all(
      batch.map((w) => appendWithRetries(w.ctx, w.streamId, w.expected, w.valid, w.callerIds, w.alongside).then(w.resolve, w.reject)),
    );
  }
}
