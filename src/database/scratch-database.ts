import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Logger } from 'pino';
import { createLogger } from '../log.js';
import { openDatabase, type DatabaseHandle, type DatabaseKind } from './connect.js';
import { migrateToLatest } from './migrate.js';

export type ScratchDatabase = DatabaseHandle & {
  /** Connection string (PostgreSQL only). */
  url?: string;
  /** Closes it and, on PostgreSQL, drops it. */
  drop(): Promise<void>;
};

export interface ScratchOptions {
  /** A PostgreSQL server's connection string the database is created beside (default DATABASE_URL). */
  adminUrl?: string;
  /** Start of the database's name (a random suffix follows). */
  prefix?: string;
  poolMax?: number;
  log?: Logger;
  /** Migrate it to the latest schema (default true). */
  migrate?: boolean;
}

/**
 * A throw-away database for a test, a simulation or a benchmark run: PGlite in memory, or a
 * PostgreSQL database of its own (so runs in parallel never see each other's events) created
 * beside the one `adminUrl` names and dropped by `drop()`.
 */
export async function openScratchDatabase(kind: DatabaseKind, options: ScratchOptions = {}): Promise<ScratchDatabase> {
  const log = options.log ?? createLogger('silent');
  const ready = async <T extends DatabaseHandle>(handle: T): Promise<T> => {
    if (options.migrate ?? true) await migrateToLatest(handle.db);
    return handle;
  };
  if (kind === 'pglite') {
    const handle = await openDatabase({ kind: 'pglite', dataDir: 'memory://', log });
    return ready({ ...handle, drop: () => handle.close() });
  }
  const adminUrl = options.adminUrl ?? process.env.DATABASE_URL;
  if (!adminUrl) throw new Error('DATABASE_URL is not set');
  const name = `${options.prefix ?? 'quire_scratch'}_${randomBytes(6).toString('hex')}`;
  const admin = async (statement: string) => {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const handle = await openDatabase({ kind: 'postgres', url: url.toString(), poolMax: options.poolMax ?? 20, log });
  return ready({
    ...handle,
    url: url.toString(),
    async drop() {
      await handle.close();
      await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  });
}
