import type { Config } from './config.js';
import { openDatabase, type DatabaseHandle } from './database/connect.js';
import { migrateToLatest } from './database/migrate.js';
import { EventStore } from './events/event-store.js';
import { createLogger, type Logger } from './log.js';
import { reportProjection } from './projections/report-projection.js';

/** Everything one quire process shares: config, logger, database, event store. */
export interface Runtime {
  readonly config: Config;
  readonly log: Logger;
  readonly database: DatabaseHandle;
  readonly store: EventStore;
  close(): Promise<void>;
}

/** Opens the configured database (PostgreSQL or embedded PGlite), migrates it and builds the store. */
export async function startRuntime(config: Config, log: Logger = createLogger(config.logLevel, config.region)): Promise<Runtime> {
  const database = config.databaseUrl
    ? await openDatabase({ kind: 'postgres', url: config.databaseUrl, poolMax: config.databasePoolMax, log })
    : await openDatabase({ kind: 'pglite', dataDir: config.dataDir, log });
  try {
    const migrated = await migrateToLatest(database.db);
    const applied = migrated.results?.filter((r) => r.status === 'Success').map((r) => r.migrationName) ?? [];
    if (applied.length > 0) log.info({ applied }, 'database migrated');
  } catch (err) {
    await database.close();
    throw err;
  }
  const store = new EventStore({
    db: database.db,
    notifier: database.notifier,
    region: config.region,
    log,
    pollMs: config.subscriptionPollMs,
    projections: [reportProjection],
  });
  return {
    config,
    log,
    database,
    store,
    close: () => database.close(),
  };
}
