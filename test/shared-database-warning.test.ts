import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { Metrics } from '../src/metrics.js';
import { assembleRuntime } from '../src/runtime.js';
import { backends, openTestDatabase } from './support/databases.js';
import { TEST_DATA_ENCRYPTION_KEY, TEST_SEAL_SIGNING_KEY, TEST_SECRET } from './support/runtime.js';

/**
 * Several instances on one PostgreSQL database with AUTH_SECRET, SEAL_SIGNING_KEY or the disk
 * object store left to their per-DATA_DIR defaults: each instance has its own, and a link or token
 * from one fails on another (tried: a /files link signed on one instance answered 410 MISSING on
 * the other, whose disk store is another directory). Start-up says so.
 */
describe.each(backends)('start-up warns about per-instance defaults on a shared database (%s)', (kind) => {
  async function warningsWith(env: Record<string, string>): Promise<string[]> {
    const dataDir = mkdtempSync(join(tmpdir(), 'quire-warn-'));
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) });
    const database = await openTestDatabase(kind);
    try {
      const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'warn', MACHINE_ID: 'iad-1', ...env });
      const runtime = assembleRuntime(config, pino({ level: 'warn' }, sink), database, new Metrics({ defaultMetrics: false }));
      runtime.revocations.close();
      return lines.map((l) => (JSON.parse(l) as { msg: string }).msg).filter((m) => m.includes('local to this one'));
    } finally {
      await database.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }

  it('names what is local to this instance, on PostgreSQL only', async () => {
    const warnings = await warningsWith({});
    if (kind === 'postgres') {
      expect(warnings).toHaveLength(1);
      for (const name of ['AUTH_SECRET', 'SEAL_SIGNING_KEY', 'OBJECTS_DIR']) expect(warnings[0]).toContain(name);
    } else {
      // The embedded database serves one instance: nothing to share.
      expect(warnings).toEqual([]);
    }
  });

  it('says nothing once they are set', async () => {
    const objects = mkdtempSync(join(tmpdir(), 'quire-objects-'));
    try {
      expect(await warningsWith({ AUTH_SECRET: TEST_SECRET, SEAL_SIGNING_KEY: TEST_SEAL_SIGNING_KEY, DATA_ENCRYPTION_KEY: TEST_DATA_ENCRYPTION_KEY, OBJECTS_DIR: objects })).toEqual([]);
    } finally {
      rmSync(objects, { recursive: true, force: true });
    }
  });
});
