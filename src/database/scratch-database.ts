import pg from 'pg';
import { openDatabase, type DatabaseHandle, type DatabaseKind } from '../../src/database/connect.js';
import { createLogger } from '../../src/log.js';

export type ScratchDatabase = DatabaseHandle & {
  /** Connection string (PostgreSQL only). */
  url?: string;
  /** Closes it and, on PostgreSQL, drops it. */
  drop(): Promise<void>;
};

/**
 * A database for one benchmark run: PGlite in memory, or a scratch PostgreSQL database
 * (`quire_bench_<timestamp>`) created beside the one DATABASE_URL names and dropped by `drop()`.
 */
export async function openScratchDatabase(kind: DatabaseKind, options: { poolMax?: number } = {}): Promise<ScratchDatabase> {
  const log = createLogger('silent');
  if (kind === 'pglite') {
    const handle = await openDatabase({ kind: 'pglite', dataDir: 'memory://', log });
    return { ...handle, drop: handle.close };
  }
  const adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) throw new Error('DATABASE_URL is not set');
  const name = `quire_bench_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
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
  return {
    ...handle,
    url: url.toString(),
    async drop() {
      await handle.close();
      await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}
