import { sql, type Kysely } from 'kysely';
import { RateLimiterRes } from 'rate-limiter-flexible';
import type { Database } from '../database/schema.js';

/** What a resolver needs of a limiter: rate-limiter-flexible's `consume` contract (rejects with a RateLimiterRes when over). */
export interface Limiter {
  consume(key: string, points?: number): Promise<RateLimiterRes>;
}

/** Expired windows are deleted every this many consumes (one row per key otherwise stays until reused). */
const SWEEP_EVERY = 500;

/**
 * A fixed-window limit that holds across every instance: the window lives in the database all
 * instances share (table rate_limits, migration 0007), counted by one atomic upsert and timed by
 * the database's clock, so machines with skewed clocks still agree. rate-limiter-flexible's own
 * RateLimiterPostgres creates its table at run time and times windows with each process's clock;
 * this one is a migrated table and works the same on PGlite. Answers like the library's limiters,
 * so callers handle a RateLimiterRes either way.
 */
export class SharedRateLimiter implements Limiter {
  private consumes = 0;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly options: { keyPrefix: string; points: number; durationSeconds: number },
  ) {}

  async consume(key: string, points = 1): Promise<RateLimiterRes> {
    const { keyPrefix, durationSeconds } = this.options;
    if (++this.consumes % SWEEP_EVERY === 0) await this.sweep();
    const { rows } = await sql<{ points: number; ms_left: number }>`
      INSERT INTO rate_limits AS r (key, points, window_ends_at)
      VALUES (${`${keyPrefix}:${key}`}, ${points}, now() + ${durationSeconds} * interval '1 second')
      ON CONFLICT (key) DO UPDATE SET
        points = CASE WHEN r.window_ends_at <= now() THEN excluded.points ELSE r.points + excluded.points END,
        window_ends_at = CASE WHEN r.window_ends_at <= now() THEN excluded.window_ends_at ELSE r.window_ends_at END
      RETURNING r.points, greatest(0, ceil(extract(epoch FROM r.window_ends_at - now()) * 1000))::integer AS ms_left`.execute(this.db);
    const row = rows[0]!;
    const consumed = Number(row.points);
    const res = new RateLimiterRes(Math.max(this.options.points - consumed, 0), Number(row.ms_left), consumed, consumed === points);
    if (consumed > this.options.points) throw res;
    return res;
  }

  /** Deletes every window that has ended (of any key: an ended window counts as none). */
  async sweep(): Promise<void> {
    await this.db.deleteFrom('rate_limits').where('window_ends_at', '<=', sql<Date>`now()`).execute();
  }
}
