import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { DatabaseHandle } from './connect.js';
import { migrateToLatest, MigrationError } from './migrate.js';

/**
 * Two roles on PostgreSQL (docs/threat-model.md):
 *
 *  - the owner (DATABASE_MIGRATE_URL) owns every table and runs migrations. Owning `events` is
 *    what lets a role ALTER TABLE … DISABLE TRIGGER, rewrite rows and re-seal: the service never
 *    connects as it.
 *  - the service (DATABASE_URL) gets only what it uses: SELECT and INSERT on the append-only
 *    tables (on `events`, INSERT of every column but global_position and transaction_id), read/write on the projection and lease tables it maintains, SELECT on Kysely's
 *    migration bookkeeping (to see that the schema is current). No UPDATE, DELETE, TRUNCATE,
 *    TRIGGER or REFERENCES on the log, and it owns nothing, so it cannot ALTER anything.
 *
 * The embedded PGlite default has one role (it runs inside the process): this applies to
 * PostgreSQL only.
 */
export const APPEND_ONLY_TABLES = ['events', 'log_seals'] as const;
const MIGRATION_TABLES = ['kysely_migration', 'kysely_migration_lock'] as const;
/** Append-only tables' columns only the database sets (identity, DEFAULT pg_current_xact_id()). */
const DATABASE_SET_COLUMNS: Record<string, readonly string[]> = { events: ['global_position', 'transaction_id'] };

const ROLE_NAME = /^[A-Za-z_][A-Za-z0-9_$-]{0,62}$/;

export class InvalidRoleError extends Error {
  override readonly name = 'InvalidRoleError';
}

function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * The GRANT statements for the service role, from the tables that exist now (run it again after a
 * migration adds a table; `quire db migrate` does, when DATABASE_MIGRATE_URL is set). Every table
 * that is neither append-only nor Kysely's gets SELECT, INSERT, UPDATE, DELETE: those are
 * projections, leases and counters, rebuildable from the log.
 */
export async function serviceGrantStatements(db: Kysely<any>, role: string, schema = 'public'): Promise<string[]> {
  if (!ROLE_NAME.test(role)) throw new InvalidRoleError(`not a role name: ${JSON.stringify(role)}`);
  const { rows } = await sql<{ name: string; kind: string }>`
    SELECT c.relname AS name, c.relkind::text AS kind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = ${schema} AND c.relkind IN ('r', 'p', 'S') ORDER BY c.relname`.execute(db);
  const tables = rows.filter((r) => r.kind !== 'S').map((r) => r.name);
  const sequences = rows.filter((r) => r.kind === 'S').map((r) => r.name);
  const r = ident(role);
  const s = ident(schema);
  const q = (t: string) => `${s}.${ident(t)}`;
  const out = [
    `REVOKE ALL ON ALL TABLES IN SCHEMA ${s} FROM ${r}`,
    `REVOKE ALL ON ALL SEQUENCES IN SCHEMA ${s} FROM ${r}`,
    `REVOKE CREATE ON SCHEMA ${s} FROM ${r}`,
    `GRANT USAGE ON SCHEMA ${s} TO ${r}`,
  ];
  for (const t of tables) {
    const fixed = DATABASE_SET_COLUMNS[t];
    if (fixed) {
      // INSERT on the other columns only: the position and commit order of an event are the
      // database's to set, so the service cannot place an event into history already sealed.
      const { rows: columns } = await sql<{ name: string }>`
        SELECT a.attname AS name FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = ${schema} AND c.relname = ${t} AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`.execute(db);
      const insertable = columns.map((c) => c.name).filter((c) => !fixed.includes(c));
      out.push(`GRANT SELECT ON ${q(t)} TO ${r}`, `GRANT INSERT (${insertable.map(ident).join(', ')}) ON ${q(t)} TO ${r}`);
    } else if ((APPEND_ONLY_TABLES as readonly string[]).includes(t)) out.push(`GRANT SELECT, INSERT ON ${q(t)} TO ${r}`);
    else if ((MIGRATION_TABLES as readonly string[]).includes(t)) out.push(`GRANT SELECT ON ${q(t)} TO ${r}`);
    else out.push(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${q(t)} TO ${r}`);
  }
  // Serial columns draw from sequences (identity columns need no grant of their own).
  for (const seq of sequences) out.push(`GRANT USAGE, SELECT ON SEQUENCE ${q(seq)} TO ${r}`);
  return out;
}

/** Applies the grants in one transaction; refuses when the service role owns a table (an owner can ALTER it). */
export async function applyServiceGrants(db: Kysely<any>, role: string, schema = 'public'): Promise<string[]> {
  const statements = await serviceGrantStatements(db, role, schema);
  const { rows } = await sql<{ tablename: string }>`SELECT tablename FROM pg_tables WHERE schemaname = ${schema} AND tableowner = ${role}`.execute(db);
  if (rows.length > 0) {
    throw new InvalidRoleError(
      `role ${role} owns ${rows.map((r) => r.tablename).join(', ')}: an owner can ALTER TABLE … DISABLE TRIGGER and rewrite the log. ` +
        'Run migrations as another role (DATABASE_MIGRATE_URL) that owns the tables (ALTER TABLE … OWNER TO …), and give this role only the grants.',
    );
  }
  await db.transaction().execute(async (trx) => {
    for (const statement of statements) await sql.raw(statement).execute(trx);
  });
  return statements;
}

/** A short-lived Kysely on a PostgreSQL URL (migrations, grants): no pool to speak of, no LISTEN. */
export function openOwnerConnection(url: string): Kysely<any> {
  return new Kysely<any>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 1, application_name: 'quire-migrate' }) }) });
}

function roleOf(url: string): string {
  return decodeURIComponent(new URL(url).username || process.env.PGUSER || '');
}

/**
 * Start-up migrations. PGlite, or one PostgreSQL URL: migrate through the service's own connection
 * (a restricted role finds nothing pending and changes nothing; with something pending it cannot
 * migrate, and says so). With DATABASE_MIGRATE_URL: migrate as the owner, then re-apply the
 * service role's grants so tables a migration added are covered.
 */
export async function migrateForService(config: Pick<Config, 'databaseUrl' | 'databaseMigrateUrl'>, database: DatabaseHandle, log: Logger): Promise<string[]> {
  const applied = (r: Awaited<ReturnType<typeof migrateToLatest>>) => r.results?.filter((x) => x.status === 'Success').map((x) => x.migrationName) ?? [];
  if (database.kind !== 'postgres' || !config.databaseUrl || !config.databaseMigrateUrl || config.databaseMigrateUrl === config.databaseUrl) {
    try {
      return applied(await migrateToLatest(database.db));
    } catch (err) {
      if (isPermissionError(err)) {
        throw new MigrationError(
          'the database role of DATABASE_URL may not migrate the schema (as intended for the service role): set DATABASE_MIGRATE_URL to the owner role, or run `quire db migrate` with it first',
          { cause: err },
        );
      }
      throw err;
    }
  }
  const owner = openOwnerConnection(config.databaseMigrateUrl);
  try {
    const names = applied(await migrateToLatest(owner));
    const role = (await sql<{ role: string }>`SELECT current_user AS role`.execute(database.db)).rows[0]!.role;
    const ownerRole = (await sql<{ role: string }>`SELECT current_user AS role`.execute(owner)).rows[0]!.role;
    if (role !== ownerRole) {
      await applyServiceGrants(owner, role);
      log.info({ role }, 'service role grants applied');
    }
    return names;
  } finally {
    await owner.destroy();
  }
}

/** `quire db migrate`: as the owner (DATABASE_MIGRATE_URL, else DATABASE_URL), then the service role's grants. */
export async function migrateAsOwner(config: Pick<Config, 'databaseUrl' | 'databaseMigrateUrl'>): Promise<{ applied: Array<{ name: string; status: string }>; grantedTo: string | null }> {
  const url = config.databaseMigrateUrl ?? config.databaseUrl;
  if (!url) throw new Error('no PostgreSQL URL');
  const owner = openOwnerConnection(url);
  try {
    const result = await migrateToLatest(owner).catch((err: unknown) => {
      if (isPermissionError(err)) throw new MigrationError(`${url === config.databaseUrl ? 'DATABASE_URL' : 'DATABASE_MIGRATE_URL'}'s role may not migrate the schema: run this with DATABASE_MIGRATE_URL set to the owner role`, { cause: err });
      throw err;
    });
    let grantedTo: string | null = null;
    if (config.databaseMigrateUrl && config.databaseUrl && roleOf(config.databaseUrl) && roleOf(config.databaseUrl) !== roleOf(config.databaseMigrateUrl)) {
      grantedTo = roleOf(config.databaseUrl);
      await applyServiceGrants(owner, grantedTo);
    }
    return { applied: (result.results ?? []).map((r) => ({ name: r.migrationName, status: r.status })), grantedTo };
  } finally {
    await owner.destroy();
  }
}

export function isPermissionError(err: unknown): boolean {
  for (let e = err as { code?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) if (e.code === '42501') return true;
  return false;
}
