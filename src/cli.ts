import { Command } from 'commander';
import { startHttpServer } from './api/http-server.js';
import { loadConfig, ConfigError } from './config.js';
import { openDatabase } from './database/connect.js';
import { migrateToLatest } from './database/migrate.js';
import { createLogger } from './log.js';
import { startRuntime } from './runtime.js';
import { createWorkers } from './workers/start-workers.js';

async function serve(): Promise<void> {
  const config = loadConfig();
  const runtime = await startRuntime(config);
  const workers = config.workersEnabled ? createWorkers(runtime) : undefined;
  workers?.start();
  const http = await startHttpServer(runtime, config.port, config.host);
  runtime.log.info(
    { url: http.url, database: runtime.database.kind, region: config.region },
    `quire listening on ${http.url}`,
  );
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    runtime.log.info({ signal }, 'shutting down');
    await http.close();
    await workers?.stop();
    await runtime.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

async function dbMigrate(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel, config.region);
  const database = config.databaseUrl
    ? await openDatabase({ kind: 'postgres', url: config.databaseUrl, log })
    : await openDatabase({ kind: 'pglite', dataDir: config.dataDir, log });
  try {
    const result = await migrateToLatest(database.db);
    const applied = result.results ?? [];
    if (applied.length === 0) console.log(`${database.kind}: already at the latest migration`);
    for (const r of applied) console.log(`${database.kind}: ${r.migrationName} ${r.status.toLowerCase()}`);
  } finally {
    await database.close();
  }
}

export function buildCli(): Command {
  const program = new Command('quire').description('PDF reports downloadable from every region, with a verifiable history');
  program.command('serve').description('migrate the database and serve HTTP (the default of npm start)').action(serve);
  const db = program.command('db').description('database maintenance');
  db.command('migrate').description('apply every pending migration').action(dbMigrate);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildCli().parseAsync(argv);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
}
