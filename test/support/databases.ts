import type { DatabaseHandle, DatabaseKind } from '../../src/database/connect.js';
import { openScratchDatabase } from '../../src/database/scratch-database.js';
import { createLogger } from '../../src/log.js';
import { EventStore, type EventStoreOptions } from '../../src/events/event-store.js';

/** PGlite always; PostgreSQL too when DATABASE_URL is set (as .ci/run does). */
export const backends: DatabaseKind[] = process.env.DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];

export const silentLog = createLogger('silent');

export interface TestDatabase extends DatabaseHandle {
  /** Connection string of this test's own database (postgres only). */
  url?: string;
}

/**
 * A fresh, migrated database of the given kind (scratch-database.ts). On PostgreSQL each call
 * creates its own database, so test files running in parallel never see each other's events;
 * `close()` drops it.
 */
export async function openTestDatabase(kind: DatabaseKind, options: { poolMax?: number; unmigrated?: boolean } = {}): Promise<TestDatabase> {
  const scratch = await openScratchDatabase(kind, { prefix: 'quire_test', poolMax: options.poolMax ?? 40, log: silentLog, migrate: !options.unmigrated });
  return { ...scratch, close: scratch.drop };
}

/** An event store on a test database: region `iad` and a silent log unless `options` say otherwise. */
export function testStore(database: TestDatabase, options: Partial<Omit<EventStoreOptions, 'db' | 'notifier'>> = {}): EventStore {
  return new EventStore({ db: database.db, notifier: database.notifier, region: 'iad', log: silentLog, ...options });
}
