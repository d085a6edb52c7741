import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Logger } from 'pino';
import { ConfigError, type Config } from '../config.js';
import { PGliteDialect } from './pglite-dialect.js';
import { PGliteNotifier, PostgresNotifier, type Notifier } from './notifier.js';
import { registerPool } from './pool-of.js';
import { PreparingClient } from './prepared-statements.js';
import type { Database } from './schema.js';

export type DatabaseKind = 'postgres' | 'pglite';

export interface DatabaseHandle {
  readonly kind: DatabaseKind;
  readonly db: Kysely<Database>;
  readonly notifier: Notifier;
  /** A read replica of `db` (DATABASE_READ_URL), for reads that may lag: see ./read-router.ts. */
  readonly readDb?: Kysely<Database>;
  close(): Promise<void>;
}

export type OpenDatabaseOptions =
  | { kind: 'postgres'; url: string; poolMax?: number; log: Logger; readUrl?: string }
  /** dataDir `memory://` keeps the database in memory (tests). */
  | { kind: 'pglite'; dataDir: string; log: Logger }
  | { kind: 'pglite'; instance: PGlite; log: Logger };

// int8 as a JS number on both backends: PGlite already does this, pg returns strings.
// Positions and versions stay far below 2^53.
const INT8_OID = 20;
const pgTypes = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

function postgresPool(url: string, max: number, applicationName: string, log: Logger, connectTimeoutMs?: number): Kysely<Database> {
  const pool = new pg.Pool({
    // The hot statements go out prepared (./prepared-statements.ts).
    Client: PreparingClient,
    connectionString: url,
    max,
    types: pgTypes,
    application_name: applicationName,
    ...(connectTimeoutMs ? { connectionTimeoutMillis: connectTimeoutMs } : {}),
  });
  // A connection killed by the server (failover, pg_terminate_backend) must not crash the
  // process: idle ones are replaced by the pool; one in use fails its query, which the caller
  // sees, and emits 'error' on the client, which needs a listener too.
  pool.on('error', (err) => log.warn({ err }, 'idle database connection lost'));
  pool.on('connect', (client) => client.on('error', (err) => log.warn({ err }, 'database connection lost')));
  return registerPool(new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }), pool);
}

/**
 * The database the configuration names, for the service and every command alike: PostgreSQL
 * (DATABASE_URL, with DATABASE_POOL_MAX connections at most and the DATABASE_READ_URL replica)
 * or the embedded PGlite under DATA_DIR. Not migrated: see migrate.ts.
 */
export function openConfiguredDatabase(config: Config, log: Logger): Promise<DatabaseHandle> {
  return config.databaseUrl
    ? openDatabase({ kind: 'postgres', url: config.databaseUrl, poolMax: config.databasePoolMax, log, ...(config.databaseReadUrl ? { readUrl: config.databaseReadUrl } : {}) })
    : openDatabase({ kind: 'pglite', dataDir: config.dataDir, log });
}

export async function openDatabase(options: OpenDatabaseOptions): Promise<DatabaseHandle> {
  if (options.kind === 'postgres') {
    const db = postgresPool(options.url, options.poolMax ?? 20, 'quire', options.log);
    // LISTEN needs the primary: NOTIFY is not replicated to standbys.
    const notifier = await PostgresNotifier.start(options.url, options.log);
    // A replica that does not answer must fail fast: reads then go to the primary (read-router.ts).
    const readDb = options.readUrl ? postgresPool(options.readUrl, options.poolMax ?? 20, 'quire-reader', options.log, 3000) : undefined;
    return {
      kind: 'postgres',
      db,
      notifier,
      ...(readDb ? { readDb } : {}),
      async close() {
        await notifier.close();
        await db.destroy();
        await readDb?.destroy();
      },
    };
  }

  let pglite: PGlite;
  let owned = true;
  let unlock = () => {};
  if ('instance' in options) {
    pglite = options.instance;
    owned = false;
  } else if (options.dataDir.startsWith('memory://')) {
    pglite = await PGlite.create(options.dataDir);
  } else {
    const dir = join(options.dataDir, 'pglite');
    mkdirSync(dir, { recursive: true });
    unlock = lockDataDir(options.dataDir);
    try {
      pglite = await PGlite.create(dir);
    } catch (err) {
      unlock();
      throw err;
    }
  }
  const notifier = await PGliteNotifier.start(pglite);
  const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) });
  return {
    kind: 'pglite',
    db,
    notifier,
    async close() {
      await notifier.close();
      await db.destroy();
      if (owned) await pglite.close();
      unlock();
    },
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * One process at a time on an embedded database: PGlite takes no lock of its own, and a second
 * process on the same directory (a second `quire serve` on another PORT, a CLI command while the
 * server runs) would write the same files as the first and corrupt them. A lock left by a process
 * that is gone (killed) is taken over. Returns the release.
 */
function lockDataDir(dataDir: string): () => void {
  const path = join(dataDir, 'pglite.lock');
  for (;;) {
    try {
      writeFileSync(path, String(process.pid), { flag: 'wx' });
      return () => {
        try {
          if (readFileSync(path, 'utf8').trim() === String(process.pid)) rmSync(path, { force: true });
        } catch {
          // already gone
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let holder = NaN;
    try {
      holder = Number(readFileSync(path, 'utf8').trim());
    } catch {
      continue; // released meanwhile
    }
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && alive(holder)) {
      throw new ConfigError(
        `DATA_DIR: the embedded database in ${dataDir} is in use by process ${holder} (one process at a time). ` +
          'Stop it, or set another DATA_DIR; while quire serves, use its GraphQL API (e.g. the revokeTokens mutation) instead of a CLI command.',
      );
    }
    rmSync(path, { force: true }); // its process is gone
  }
}
