import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseKind } from '../../src/database/connect.js';
import { loadConfig } from '../../src/config.js';
import { EventStore } from '../../src/events/event-store.js';
import { reportProjection } from '../../src/projections/report-projection.js';
import type { Runtime } from '../../src/runtime.js';
import { openTestDatabase, silentLog, type TestDatabase } from './databases.js';

export interface TestRuntime extends Runtime {
  readonly database: TestDatabase;
  readonly dataDir: string;
}

/**
 * The same wiring as `quire serve` (config, store with the report projections) on a fresh test
 * database and a temp DATA_DIR. `env` overrides configuration as environment variables would.
 */
export async function startTestRuntime(kind: DatabaseKind, env: Record<string, string> = {}): Promise<TestRuntime> {
  const dataDir = mkdtempSync(join(tmpdir(), 'quire-test-'));
  const config = loadConfig({ DATA_DIR: dataDir, FLY_REGION: 'iad', LOG_LEVEL: 'silent', RETRY_BASE_MS: '10', ...env });
  const database = await openTestDatabase(kind);
  const store = new EventStore({
    db: database.db,
    notifier: database.notifier,
    region: config.region,
    log: silentLog,
    pollMs: 100,
    projections: [reportProjection],
  });
  return {
    config,
    log: silentLog,
    database,
    store,
    dataDir,
    async close() {
      await database.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Counts events by type in one stream, or in the whole log. */
export async function countEventsByType(runtime: Runtime, streamId?: string): Promise<Record<string, number>> {
  let query = runtime.database.db.selectFrom('events').select(['type', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('type');
  if (streamId) query = query.where('stream_id', '=', streamId);
  const rows = await query.execute();
  return Object.fromEntries(rows.map((r) => [r.type, Number(r.n)]));
}
