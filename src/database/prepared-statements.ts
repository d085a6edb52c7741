import { createHash } from 'node:crypto';
import type { CompiledQuery, Kysely } from 'kysely';
import pg from 'pg';
import { postgresPoolOf } from './pool-of.js';

/**
 * The few hot statements PostgreSQL keeps prepared: Kysely's pg driver sends every statement
 * unnamed, so PostgreSQL parses and plans it on each call; a statement registered here is sent
 * as a named prepared statement instead (parsed once per connection, then Bind + Execute only).
 *
 * The name is a hash of the SQL text, so a changed statement is a new statement, never a clash.
 * The set is bounded (HOT_STATEMENTS_MAX) and fixed at startup by the code that registers them,
 * so each pooled connection holds at most that many prepared statements. A prepared statement
 * must not change its result type: one registered here selects an explicit column list (never
 * `*`), so a migration that adds a column cannot break it. A migration that changes a selected
 * column's type still can (SQLSTATE 0A000, "cached plan must not change result type"): that
 * connection then prepares the statement anew under a new name and the call is retried (the stale
 * one stays until the connection closes: one per such migration). Only calls outside a
 * transaction use the prepared statement, so that error never aborts one.
 * PGlite is not touched: its dialect executes statements as it always did.
 */
const HOT_STATEMENTS_MAX = 16;
const names = new Map<string, string>();

/** Registers a compiled statement as hot (see above) and returns it unchanged. */
export function prepared<Q extends CompiledQuery<unknown>>(query: Q): Q {
  if (!names.has(query.sql)) {
    if (names.size >= HOT_STATEMENTS_MAX) throw new Error(`more than ${HOT_STATEMENTS_MAX} prepared statements: only the few hot ones belong here`);
    names.set(query.sql, `quire_${createHash('sha256').update(query.sql).digest('hex').slice(0, 24)}`);
  }
  return query;
}

/** The name a hot statement is prepared under, or undefined for any other SQL text. */
export function preparedName(sql: string): string | undefined {
  return names.get(sql);
}

/**
 * Runs a compiled hot statement and returns its rows. On a PostgreSQL pool (./pool-of.ts) it
 * goes straight to the pool — connect, the prepared query, release — as a bare `pg` server does:
 * Kysely's executor (connection provider, driver, result plugins: none here) wrapped each call
 * in half a dozen promise hops, a few µs of every `report(id)` (bench/README.md). Anything else
 * — PGlite, a transaction (its own Kysely instance, on its own connection), a Kysely derived
 * with plugins — is not registered and runs through Kysely as before.
 */
export async function executeHot<DB, R>(db: Kysely<DB>, query: CompiledQuery<R>, parameters: readonly unknown[]): Promise<R[]> {
  const pool = postgresPoolOf(db);
  if (!pool) return (await db.executeQuery<R>({ ...query, parameters })).rows;
  const client = await pool.connect();
  try {
    return (await client.query<R & pg.QueryResultRow>(query.sql, parameters as unknown[])).rows;
  } finally {
    client.release();
  }
}

const CACHED_PLAN_CHANGED = '0A000';

/**
 * The pg client quire's PostgreSQL pools use: the same client, except that a registered
 * statement's text with its values goes out as a named prepared statement.
 */
export class PreparingClient extends pg.Client {
  /** How often a statement's result type changed under this connection: it is prepared anew under a new name each time. */
  private readonly generations = new Map<string, number>();

  // One signature for pg's overloads: everything but (text, values) of a hot statement passes through.
  override query(config: unknown, values?: unknown, callback?: unknown): never {
    const text = typeof config === 'string' ? config : undefined;
    const name = text !== undefined && Array.isArray(values) && callback === undefined ? preparedName(text) : undefined;
    // Inside a transaction ('I' is idle in pg's last ReadyForQuery) the statement goes unnamed: a
    // failed prepared plan there would abort the caller's transaction, and could not be retried.
    const idle = (this as unknown as { _txStatus: string | null })._txStatus === 'I';
    if (!name || !text || !idle) return (super.query as (...a: unknown[]) => never)(config, values, callback);
    return this.executePrepared(name, text, values as unknown[]).catch((err: { code?: string }) => {
      if (err?.code !== CACHED_PLAN_CHANGED) throw err;
      this.generations.set(name, (this.generations.get(name) ?? 0) + 1);
      return this.executePrepared(name, text, values as unknown[]);
    }) as never;
  }

  // A method, not a closure made per call: the hot read runs through here on every request.
  private executePrepared(name: string, text: string, values: unknown[]): Promise<pg.QueryResult> {
    const generation = this.generations.get(name);
    return (super.query as (q: pg.QueryConfig) => Promise<pg.QueryResult>)({ name: generation ? `${name}_${generation}` : name, text, values });
  }
}
