import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase, type DatabaseHandle, type DatabaseKind } from '../../src/database/connect.js';
import { migrateToLatest } from '../../src/database/migrate.js';
import { createLogger } from '../../src/log.js';

/** PGlite always; PostgreSQL too when DATABASE_URL is set (as .ci/run does). */
export const backends: DatabaseKind[] = process.env.DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];

export const silentLog = createLogger('silent');

export interface TestDatabase extends DatabaseHandle {
  /** Connection string of this test's own database (postgres only). */
  url?: string;
}

/**
 * A fresh, migrated database of the given kind. On PostgreSQL each call creates its own database,
 * so test files running in parallel never see each other's events.
 */
export async function openTestDatabase(kind: DatabaseKind, options: { poolMax?: number; unmigrated?: boolean } = {}): Promise<TestDatabase> {
  if (kind === 'pglite') {
    const handle = await openDatabase({ kind: 'pglite', dataDir: 'memory://', log: silentLog });
    if (!options.unmigrated) await migrateToLatest(handle.db);
    return handle;
  }
  const adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) throw new Error('DATABASE_URL is not set');
  const name = `quire_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const handle = await openDatabase({ kind: 'postgres', url: url.toString(), poolMax: options.poolMax ?? 40, log: silentLog });
  if (!options.unmigrated) await migrateToLatest(handle.db);
  return {
    ...handle,
    url: url.toString(),
    async close() {
      await handle.close();
      const admin = new pg.Client({ connectionString: adminUrl });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}
