import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../database/schema.js';
import { QuireError } from '../errors.js';

/** What a revocation can name: one token, or every token of a subject issued until now. */
export type RevocationTarget = { jti: string } | { subject: string };

export interface Revocation {
  jti: string | null;
  subject: string | null;
  /** For a subject: tokens issued at or before this second are revoked. */
  issuedBefore: Date | null;
  revokedAt: Date;
  revokedBy: string;
}

/** The claims a revocation is checked against. */
export interface RevocableToken {
  subject: string;
  jti?: string | undefined;
  /** `iat` in ms; a token without one is treated as issued at the beginning of time. */
  issuedAtMs?: number | undefined;
}

export class InvalidRevocationError extends QuireError {
  readonly code = 'INVALID_REVOCATION';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidRevocationError';
  }
}

/**
 * Revoked tokens, kept in `token_revocations` and mirrored in memory so that checking a token on
 * every request costs a Set lookup. Each instance re-reads the table every `refreshMs`; a
 * revocation made through this instance applies at once. Listeners (open subscriptions) hear of
 * every change and check their own token.
 */
export class TokenRevocations {
  private readonly jtis = new Set<string>();
  /** Subject → the newest cut-off, in whole seconds (JWT `iat` has second resolution). */
  private readonly subjects = new Map<string, number>();
  private readonly listeners = new Set<() => void>();
  private loaded: Promise<void> | undefined;
  /** The table was read at least once: a check needs no waiting (the request path's sync fast path). */
  private readOnce = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly log: Logger,
    private readonly refreshMs: number,
  ) {}

  /** Resolves once the table was read at least once; starts the periodic refresh on first use. */
  ready(): Promise<void> {
    if (!this.loaded) {
      // Fails closed (the caller refuses the token) and tries again on the next call.
      this.loaded = this.refresh().then(
        () => void (this.readOnce = true),
        (err) => {
          this.loaded = undefined;
          throw err;
        },
      );
      if (!this.closed && !this.timer) {
        this.timer = setInterval(() => void this.refresh().catch((err) => this.log.warn({ err }, 'token revocations: refresh failed')), this.refreshMs);
        this.timer.unref();
      }
    }
    return this.loaded;
  }

  /** Whether ready() has resolved: isRevoked can then be answered without waiting. */
  get isReady(): boolean {
    return this.readOnce;
  }

  isRevoked(token: RevocableToken): boolean {
    if (token.jti !== undefined && this.jtis.has(token.jti)) return true;
    const cutOff = this.subjects.get(token.subject);
    return cutOff !== undefined && Math.floor((token.issuedAtMs ?? 0) / 1000) <= cutOff;
  }

  /** Called after every change (from this instance or read from the table); returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Number of change listeners (open subscriptions watching their token): tests assert it returns to zero. */
  get listenerCount(): number {
    return this.listeners.size;
  }

  async revoke(target: RevocationTarget, revokedBy: string): Promise<Revocation> {
    const jti = 'jti' in target ? target.jti.trim() : null;
    const subject = 'subject' in target ? target.subject.trim() : null;
    if (jti !== null && !/^[^\s]{1,200}$/.test(jti)) throw new InvalidRevocationError('jti must be 1 to 200 characters without spaces');
    if (subject !== null && !/^[^\s]{1,200}$/.test(subject)) throw new InvalidRevocationError('subject must be 1 to 200 characters without spaces');
    // The database's clock, like every instance that will read the row: "issued before now" means the same everywhere.
    const row = await this.db
      .insertInto('token_revocations')
      .values((eb) => ({ jti, subject, issued_before: subject === null ? null : eb.fn<Date>('now', []), revoked_by: revokedBy }))
      .returningAll()
      .executeTakeFirstOrThrow();
    this.apply([row]);
    return { jti: row.jti, subject: row.subject, issuedBefore: row.issued_before, revokedAt: row.revoked_at, revokedBy: row.revoked_by };
  }

  /**
   * Reads the whole table (revocations are few, and ids are not commit-ordered, so "rows after the
   * last id seen" could skip one committed late).
   */
  async refresh(): Promise<void> {
    this.apply(await this.db.selectFrom('token_revocations').select(['jti', 'subject', 'issued_before']).execute());
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
  }

  private apply(rows: Array<{ jti: string | null; subject: string | null; issued_before: Date | null }>): void {
    let changed = false;
    for (const row of rows) {
      if (row.jti !== null && !this.jtis.has(row.jti)) {
        this.jtis.add(row.jti);
        changed = true;
      }
      if (row.subject !== null && row.issued_before !== null) {
        const cutOff = Math.floor(new Date(row.issued_before).getTime() / 1000);
        if (cutOff > (this.subjects.get(row.subject) ?? -Infinity)) {
          this.subjects.set(row.subject, cutOff);
          changed = true;
        }
      }
    }
    if (!changed) return;
    for (const listener of [...this.listeners]) {
      try {
        listener();
      } catch (err) {
        this.log.error({ err }, 'token revocation listener failed');
      }
    }
  }
}
