import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseKind } from '../../src/database/connect.js';
import { loadConfig } from '../../src/config.js';
import type { Logger } from '../../src/log.js';
import { Metrics } from '../../src/metrics.js';
import { assembleRuntime, type Runtime } from '../../src/runtime.js';
import { openTestDatabase, silentLog, type TestDatabase } from './databases.js';

export interface TestRuntime extends Runtime {
  readonly database: TestDatabase;
  readonly dataDir: string;
}

export const TEST_SECRET = 'test-secret-test-secret-test-secret-0123456789';
/** Shared by every test runtime, so instances on one database read each other's reports. */
export const TEST_DATA_ENCRYPTION_KEY = 'test-data-key-test-data-key-test-data-key-0123';
/** One seal signing key for every test runtime, so runtimes sharing a database sign alike (any 32 bytes are an Ed25519 seed). */
export const TEST_SEAL_SIGNING_KEY = Buffer.from('quire-test-seal-signing-key-0123').toString('base64url');

/**
 * The same wiring as `quire serve` (config, store with the report projections, storage, tokens)
 * on a fresh test database and a temp DATA_DIR. `env` overrides configuration as environment
 * variables would. Pass `database` to share one database between several "instances", `log` to read what it logs.
 */
export async function startTestRuntime(
  kind: DatabaseKind,
  env: Record<string, string> = {},
  shared?: { database?: TestDatabase; log?: Logger; metrics?: Metrics },
): Promise<TestRuntime> {
  const dataDir = mkdtempSync(join(tmpdir(), 'quire-test-'));
  const config = loadConfig({
    DATA_DIR: dataDir,
    FLY_REGION: 'iad',
    // One machine per test runtime unless a test says otherwise (they all share this host's name).
    MACHINE_ID: `${env.FLY_REGION ?? 'iad'}-1`,
    LOG_LEVEL: 'silent',
    RETRY_BASE_MS: '10',
    SUBSCRIPTION_POLL_MS: '100',
    AUTH_SECRET: TEST_SECRET,
    DATA_ENCRYPTION_KEY: TEST_DATA_ENCRYPTION_KEY,
    // Every test client connects from loopback: room for suites that hold many sockets at once.
    MAX_CONNECTIONS_PER_CLIENT: '1000',
    SEAL_SIGNING_KEY: TEST_SEAL_SIGNING_KEY,
    ...env,
  });
  const database = shared?.database ?? (await openTestDatabase(kind));
  const runtime = assembleRuntime(config, shared?.log ?? silentLog, database, shared?.metrics ?? new Metrics({ defaultMetrics: false }));
  return {
    ...runtime,
    database,
    dataDir,
    async close() {
      runtime.revocations.close();
      if (!shared?.database) await database.close();
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
