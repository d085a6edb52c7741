import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config.js';
import { openDatabase } from '../../src/database/connect.js';
import { silentLog } from '../support/databases.js';

/**
 * Found trying quire: a second `quire serve` on the same DATA_DIR with another PORT opened the
 * embedded database the first one was serving, and both wrote its files. Only the embedded
 * database is concerned (PostgreSQL serves many processes).
 */
describe('the embedded database has one process at a time', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'quire-lock-'));
  const lock = join(dataDir, 'pglite.lock');
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('refuses while another live process holds DATA_DIR, takes over once it is gone, releases on close', { timeout: 120_000 }, async () => {
    const holder = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      writeFileSync(lock, String(holder.pid));
      const refused = await openDatabase({ kind: 'pglite', dataDir, log: silentLog }).then(
        async (db) => (await db.close(), undefined),
        (err: unknown) => err,
      );
      expect(refused).toBeInstanceOf(ConfigError);
      expect((refused as Error).message).toContain(`in use by process ${holder.pid}`);
      expect(readFileSync(lock, 'utf8')).toBe(String(holder.pid));
    } finally {
      holder.kill('SIGKILL');
      await new Promise((resolve) => holder.once('exit', resolve));
    }
    // Its process is gone (as after a kill -9): the lock is stale.
    const database = await openDatabase({ kind: 'pglite', dataDir, log: silentLog });
    expect(readFileSync(lock, 'utf8')).toBe(String(process.pid));
    await database.close();
    expect(existsSync(lock)).toBe(false);
  });
});
