import { sql, type Kysely } from 'kysely';
import { QuireError } from '../errors.js';
import type { Database } from './schema.js';

/**
 * A position in PostgreSQL's write-ahead log, as PostgreSQL prints a pg_lsn: two hex numbers of
 * at most 32 bits, e.g. `0/3A1B2C8`.
 */
export type Lsn = string;

/** The response header that carries the primary's WAL position after a request that wrote. */
export const LSN_HEADER = 'x-quire-lsn';
/** The request header that asks to see everything up to that position (read-your-writes). */
export const MIN_LSN_HEADER = 'x-quire-min-lsn';

const LSN = /^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/;

export class InvalidLsnError extends QuireError {
  readonly code = 'INVALID_LSN';
  constructor(readonly value: string) {
    super(`${MIN_LSN_HEADER} must be a WAL position like 0/3A1B2C8 (as returned in ${LSN_HEADER}), got "${value.slice(0, 40)}"`);
    this.name = 'InvalidLsnError';
  }
}

/** A header value → an LSN; absent or empty → undefined; anything else → InvalidLsnError. */
export function parseLsnHeader(value: string | string[] | null | undefined): Lsn | undefined {
  const text = Array.isArray(value) ? value.join(',') : value;
  if (text === undefined || text === null || text.trim() === '') return undefined;
  const lsn = text.trim();
  if (!LSN.test(lsn)) throw new InvalidLsnError(text);
  return lsn.toUpperCase();
}

/** Orders two LSNs as PostgreSQL does (the high and low 32 bits). */
export function compareLsn(a: Lsn, b: Lsn): number {
  const value = (l: Lsn) => {
    const [hi, lo] = l.split('/') as [string, string];
    return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
  };
  const d = value(a) - value(b);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}

export type ReadTarget = 'primary' | 'reader';

/**
 * How long what the reader last said about itself is trusted: its replay position (it only grows)
 * or its failure to answer (reads go to the primary meanwhile, then it is asked again).
 */
const PROBE_TTL_MS = 1000;

interface Probe {
  at: number;
  /** The reader answered. */
  up: boolean;
  /** Its replay position; null when it is not a standby (any more) and cannot say how far it is. */
  lsn: Lsn | null;
}

/**
 * Where a read goes when the primary (DATABASE_URL) has a read replica (DATABASE_READ_URL).
 *
 * Appends, leases, LISTEN and everything a write decides on stay on the primary. Reads that may
 * lag (report(id), reports, a download's location lookup, subscriptions' catch-up) go to the
 * reader, with one staleness rule: a caller that names an LSN — the `x-quire-lsn` its write got
 * back, sent again as `x-quire-min-lsn` — reads from the reader only once the reader has replayed
 * that far (`pg_last_wal_replay_lsn()`), else from the primary. Without an LSN a read may be
 * stale by the replica's lag; the safe read of the log stays gap-free either way (a hot standby's
 * snapshot holds back xmin for the primary's running transactions). A reader that does not answer,
 * or is not a hot standby, is not used: reads go to the primary and it is asked again after a second.
 */
export class ReadRouter {
  private last: Probe | undefined;
  private probing: Promise<Probe> | undefined;

  constructor(
    readonly primary: Kysely<Database>,
    readonly reader: Kysely<Database> | undefined,
    private readonly primaryIsPostgres: boolean,
    private readonly onRoute?: (target: ReadTarget) => void,
  ) {}

  /**
   * The primary's WAL position now, sent to a client after its write committed: everything that
   * client wrote is at or before it. `pg_current_wal_lsn()` is the position written out; a
   * synchronous commit (quire's default) has written its commit record before returning.
   * Undefined on PGlite (one embedded database: nothing lags).
   */
  async commitLsn(): Promise<Lsn | undefined> {
    if (!this.primaryIsPostgres) return undefined;
    const { rows } = await sql<{ lsn: string }>`SELECT pg_current_wal_lsn()::text AS lsn`.execute(this.primary);
    return rows[0]?.lsn;
  }

  /** The reader's replay position; null when it is not replaying (not a standby, or promoted). */
  async replayLsn(): Promise<Lsn | null> {
    if (!this.reader) return null;
    const { rows } = await sql<{ lsn: string | null }>`SELECT pg_last_wal_replay_lsn()::text AS lsn`.execute(this.reader);
    return rows[0]?.lsn ?? null;
  }

  /** Asks the reader how far it has replayed (one query at a time, however many requests wait). */
  private probe(): Promise<Probe> {
    this.probing ??= this.replayLsn()
      .then((lsn): Probe => ({ at: Date.now(), up: true, lsn }))
      .catch((): Probe => ({ at: Date.now(), up: false, lsn: null }))
      .then((probe) => {
        this.last = probe;
        this.probing = undefined;
        return probe;
      });
    return this.probing;
  }

  /** Which database a read that may lag goes to, given the position the caller must see. */
  async target(minLsn?: Lsn): Promise<ReadTarget> {
    if (!this.reader) return 'primary';
    const fresh = this.last && Date.now() - this.last.at < PROBE_TTL_MS ? this.last : undefined;
    const replayed = (p: Probe | undefined) => p?.lsn != null && minLsn !== undefined && compareLsn(p.lsn, minLsn) >= 0;
    // Known to be far enough (replay only moves forward), or no position asked for and known up.
    if (fresh?.up && fresh.lsn !== null && (minLsn === undefined || replayed(fresh))) return 'reader';
    const now = fresh && (!fresh.up || fresh.lsn === null) ? fresh : await this.probe();
    // A reader that does not answer must not fail a read the primary can serve. One that is not a
    // hot standby (promoted, or a logical replica) is not a copy of the primary's log: its
    // transaction ids and snapshots are its own, so the safe read would not hold there.
    if (!now.up || now.lsn === null) return 'primary';
    return minLsn === undefined || replayed(now) ? 'reader' : 'primary';
  }

  /** The database for a read that may lag (see the class comment). */
  async forRead(minLsn?: Lsn): Promise<Kysely<Database>> {
    const target = await this.target(minLsn);
    this.onRoute?.(target);
    return target === 'reader' ? this.reader! : this.primary;
  }

  /** One request's reads: decided once, so every field of one answer comes from one database. */
  scope(minLsn?: Lsn): ReadScope {
    return new ReadScope(this, minLsn);
  }
}

/** The reads of one request (or one subscription): see ReadRouter. */
export class ReadScope {
  private writes = false;
  private chosen: Promise<Kysely<Database>> | undefined;

  constructor(
    private readonly router: ReadRouter,
    readonly minLsn: Lsn | undefined,
  ) {}

  /** Whether this request writes (a mutation): its response then carries the commit LSN. */
  get wrote(): boolean {
    return this.writes;
  }

  /** This request writes: every read it makes goes to the primary, so it sees its own write. */
  markWrite(): void {
    this.writes = true;
  }

  /** The database for this request's reads that may lag. */
  db(): Promise<Kysely<Database>> {
    if (this.writes) return Promise.resolve(this.router.primary);
    return this.lagging();
  }

  /** A read that may lag even in a request that writes, for a mutation that only reads (createDownloadUrl). */
  lagging(): Promise<Kysely<Database>> {
    this.chosen ??= this.router.forRead(this.minLsn);
    return this.chosen;
  }
}
