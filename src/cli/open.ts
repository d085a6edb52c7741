import pino from 'pino';
import { loadConfig, type Config } from '../config.js';
import { openConfiguredDatabase, type DatabaseHandle } from '../database/connect.js';
import { migrateForService } from '../database/roles.js';
import type { Logger } from '../log.js';
import { startRuntime, type Runtime } from '../runtime.js';

/** A command's log goes to stderr: its stdout carries the answer (with --json, one JSON document). */
export function commandLog(config: Config, level: string = config.logLevel): Logger {
  return pino({ level, base: { region: config.region } }, pino.destination({ dest: 2, sync: true }));
}

/** The configured database, migrated (the seals table must exist), for one command. */
export async function withDatabase<T>(run: (database: DatabaseHandle, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const log = commandLog(config, config.logLevel === 'info' ? 'warn' : config.logLevel);
  const database = await openConfiguredDatabase(config, log);
  try {
    await migrateForService(config, database, log);
    return await run(database, config);
  } finally {
    await database.close();
  }
}

/** The whole runtime (store, volume, object store), for one command. */
export async function withRuntime<T>(run: (runtime: Runtime) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const runtime = await startRuntime(config, commandLog(config));
  try {
    return await run(runtime);
  } finally {
    await runtime.close();
  }
}

/** With --json: the command's one document on stdout (and nothing else goes there). */
export function printJson(document: unknown): void {
  console.log(JSON.stringify(document, null, 2));
}
