import { runningTracing, startTracing } from './telemetry/tracing.js';
import { Command, CommanderError } from 'commander';
import { decodeJwt } from 'jose';
import { registerLegacyCommands } from './cli/legacy.js';
import { registerTokenRevokeCommand } from './cli/tokens.js';
import { registerVolumeCommands } from './cli/volumes.js';
import { registerReportCommands } from './cli/reports.js';
import { registerKeyCommands } from './cli/keys.js';
import { registerAuditCommands, registerProjectionCommands } from './cli/audit.js';
import { CLI_EXIT } from './cli/exit-codes.js';
import { startSealer } from './audit/sealer.js';
import { z } from 'zod';
import { deriveKey, resolveSecret } from './auth/secret.js';
import { UserTokens } from './auth/user-tokens.js';
import { startHttpServer, type HttpServer } from './api/http-server.js';
import { assertPortFree } from './api/port-free.js';
import { startMetricsServer, type MetricsServer } from './api/metrics-server.js';
import { loadConfig, ConfigError } from './config.js';
import { openConfiguredDatabase } from './database/connect.js';
import { migrateToLatest, MigrationError } from './database/migrate.js';
import { applyServiceGrants, InvalidRoleError, migrateAsOwner, openOwnerConnection, serviceGrantStatements } from './database/roles.js';
import { createLogger, dropStdoutWhenClosed } from './log.js';
import { startRuntime, type Runtime } from './runtime.js';
import { explainStartupFailure, type StartupContext } from './startup-errors.js';
import { probeObjectStore } from './storage/probe-object-store.js';
import { gracefulShutdown } from './shutdown.js';
import { ObjectStoreUnavailableError } from './storage/object-store.js';
import { QuireError } from './errors.js';
import { createWorkers } from './workers/start-workers.js';

/** Prints the one- or two-line explanation of a start-up failure and exits with its code; rethrows the unexplained. */
function failStartup(err: unknown, context: StartupContext): never {
  const failure = explainStartupFailure(err, context);
  if (!failure) throw err;
  console.error(failure.message);
  process.exit(failure.exitCode);
}

async function serve(): Promise<void> {
  // Where start-up time goes (performance.now() counts from process start): logged with "listening".
  const modulesLoadedMs = performance.now();
  const config = loadConfig();
  const context: StartupContext = { databaseUrl: config.databaseUrl, port: config.port, metricsPort: config.metrics.port };
  let runtime: Runtime | undefined;
  let http: HttpServer | undefined;
  let metricsServer: MetricsServer | undefined;
  let devToken: string | undefined;
  let databaseReadyMs = 0;
  try {
    await assertPortFree(config.port, config.host);
    if (config.metrics.port !== undefined) await assertPortFree(config.metrics.port, config.metrics.host);
    // Started already by bin/quire.js with the instrumentations; otherwise (another entry point) with quire's own spans only.
    if (config.otel.endpoint) await startTracing({ endpoint: config.otel.endpoint, instance: config.machineId, region: config.region });
    runtime = await startRuntime(config);
    databaseReadyMs = performance.now();
    // The embedded default is for trying quire out: hand the developer a way in (printed below, and
    // prefilled in the progress page for a browser on this machine).
    devToken = !config.databaseUrl && !config.production ? await runtime.userTokens.sign({ id: 'dev', role: 'user' }, 24 * 3600) : undefined;
    // Every port is bound before any work starts: a port in use stops quire before it claims a render.
    http = await startHttpServer(runtime, config.port, config.host, { devToken });
    metricsServer = config.metrics.port === undefined ? undefined : await startMetricsServer(runtime.metrics, config.metrics.port, config.metrics.host);
  } catch (err) {
    await Promise.all([http?.close(0), metricsServer?.close()]).catch(() => undefined);
    await runtime?.close().catch(() => undefined);
    failStartup(err, context);
  }
  const workers = config.workersEnabled ? createWorkers(runtime) : undefined;
  workers?.start();
  const sealer = startSealer(runtime);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    runtime.log.info({ signal, drainMs: config.shutdownDrainMs }, 'shutting down');
    await gracefulShutdown(
      {
        http,
        metricsServer,
        workers,
        sealer,
        close: async () => {
          await runtime.close();
          // The last spans are sent before the process exits.
          await runningTracing()?.shutdown().catch(() => undefined);
        },
      },
      { drainMs: config.shutdownDrainMs, log: runtime.log, exit: (code) => process.exit(code) },
    );
  };
  // Installed before "listening" is logged, which is what a supervisor (or a test) takes for ready:
  // a signal right after it must drain, not kill the process (the S3 probe below can take seconds).
  // `on`, not `once`: a second signal during the drain must not kill the process outright (Ctrl-C
  // under `npm start` delivers SIGINT twice: from the terminal, and forwarded by npm).
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  runtime.log.info(
    {
      url: http.url,
      node: process.version,
      database: runtime.database.kind,
      storageMode: config.storageMode,
      objectStore: config.objectStore.kind,
      startupMs: { modules: Math.round(modulesLoadedMs), database: Math.round(databaseReadyMs - modulesLoadedMs), http: Math.round(performance.now() - databaseReadyMs) },
    },
    `quire listening on ${http.url}`,
  );
  if (metricsServer) runtime.log.info({ url: `${metricsServer.url}/metrics` }, 'metrics listening');
  if (devToken) {
    console.log(`\nGraphiQL: ${http.url}/graphql\nDev token (user "dev", 24 h), as the Authorization header:\n  Bearer ${devToken}\nProgress page (token prefilled): ${http.url}/\n`);
  }
  // Serving goes on without the object store (downloads from volumes, copies wait for it): say so now.
  if (config.objectStore.kind === 's3') {
    const store = await probeObjectStore(runtime.objectStore);
    if (store.state !== 'up') {
      runtime.log.warn({ objectStore: store }, 'object store not answering');
      console.error(
        `object store: ${config.objectStore.endpoint ?? 'AWS S3'} bucket "${store.bucket}" ${store.state === 'unreachable' ? 'does not answer' : 'refuses'}: ${store.detail}\n` +
          '  quire serves on: downloads come from volumes and copies wait until it answers (see /readyz).',
      );
    }
  }
}

async function dbMigrate(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel, config.region);
  if (config.databaseUrl || config.databaseMigrateUrl) {
    // PostgreSQL: as the owner role, then the service role's grants (src/database/roles.ts).
    const { applied, grantedTo } = await migrateAsOwner(config);
    if (applied.length === 0) console.log('postgres: already at the latest migration');
    for (const r of applied) console.log(`postgres: ${r.name} ${r.status.toLowerCase()}`);
    if (grantedTo) console.log(`postgres: grants for the service role ${grantedTo} applied (quire db grants --role ${grantedTo} prints them)`);
    return;
  }
  // No DATABASE_URL here: the embedded database.
  const database = await openConfiguredDatabase(config, log).catch((err: unknown) => failStartup(err, {}));
  try {
    const result = await migrateToLatest(database.db);
    const applied = result.results ?? [];
    if (applied.length === 0) console.log(`${database.kind}: already at the latest migration`);
    for (const r of applied) console.log(`${database.kind}: ${r.migrationName} ${r.status.toLowerCase()}`);
  } finally {
    await database.close();
  }
}

async function dbGrants(options: { role: string; apply?: boolean; schema: string }): Promise<void> {
  const config = loadConfig();
  const url = config.databaseMigrateUrl ?? config.databaseUrl;
  if (!url) {
    console.error('quire db grants is for PostgreSQL (DATABASE_MIGRATE_URL or DATABASE_URL); the embedded PGlite database has one role');
    process.exit(2);
  }
  const db = openOwnerConnection(url);
  try {
    const statements = options.apply ? await applyServiceGrants(db, options.role, options.schema) : await serviceGrantStatements(db, options.role, options.schema);
    if (options.apply) console.error(`applied ${statements.length} statements for role ${options.role}`);
    console.log(statements.map((s) => `${s};`).join('\n'));
  } catch (err) {
    if (err instanceof InvalidRoleError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  } finally {
    await db.destroy();
  }
}

async function token(options: { sub?: string; role: string; ttl: string; arbitraryDocuments?: boolean }): Promise<void> {
  const config = loadConfig();
  const role = z.enum(['user', 'auditor', 'admin']).safeParse(options.role);
  const ttl = z.coerce.number().int().min(1).max(366 * 24 * 3600).safeParse(options.ttl);
  if (!role.success || !ttl.success || options.sub === undefined || !/^[^\s]{1,200}$/.test(options.sub)) {
    console.error('usage: quire token --sub <id> [--role user|auditor|admin] [--ttl seconds (1 s to 1 year)] [--arbitrary-documents] | quire token revoke --jti <id> | --subject <sub>');
    process.exit(2);
  }
  const tokens = new UserTokens({ key: deriveKey(resolveSecret(config.authSecret, config.dataDir), 'user-token') });
  const signed = await tokens.sign({ id: options.sub, role: role.data }, ttl.data, { arbitraryDocuments: options.arbitraryDocuments === true });
  console.log(signed);
  // On stderr, so that `$(quire token …)` is still just the token: what `quire token revoke --jti` takes.
  console.error(`jti ${decodeJwt(signed).jti}`);
}

export function buildCli(): Command {
  const program = new Command('quire').description('PDF reports downloadable from every region, with a verifiable history');
  // Usage errors throw (main maps them to exit 2) instead of exiting 1, which means "the check found a problem";
  // subcommands inherit this.
  program.exitOverride();
  program.command('serve').description('migrate the database and serve HTTP (the default of npm start)').action(serve);
  const db = program.command('db').description('database maintenance');
  db.command('migrate')
    .description('apply every pending migration (as DATABASE_MIGRATE_URL\'s owner role when set, then grant DATABASE_URL\'s role what the service needs)')
    .action(dbMigrate);
  db.command('grants')
    .description('print (or --apply) the SQL that gives a PostgreSQL role exactly what the service needs: SELECT, INSERT on events and log_seals, no UPDATE/DELETE/TRUNCATE')
    .requiredOption('--role <name>', 'the role quire serves as (DATABASE_URL\'s user)')
    .option('--schema <name>', 'schema of quire\'s tables', 'public')
    .option('--apply', 'run the statements as DATABASE_MIGRATE_URL (else DATABASE_URL), in one transaction')
    .action(dbGrants);
  registerLegacyCommands(program);
  registerVolumeCommands(program);
  registerReportCommands(program);
  registerKeyCommands(program);
  registerAuditCommands(program);
  registerProjectionCommands(program);
  const tokenCommand = program
    .command('token')
    .description('print a bearer token signed with this deployment\'s secret (AUTH_SECRET, or the one under DATA_DIR); `token revoke` revokes')
    .option('--sub <id>', 'the user id (required)')
    .option('--role <role>', 'user, auditor or admin', 'user')
    .option('--ttl <seconds>', 'lifetime in seconds', '3600')
    .option('--arbitrary-documents', 'let this client send any GraphQL document, also when PERSISTED_DOCUMENTS=require')
    .action(token);
  registerTokenRevokeCommand(tokenCommand);
  return program;
}

/** The database URL for wording a failure's message, if the configuration can be read at all. */
function configuredDatabaseUrl(): string | undefined {
  try {
    return loadConfig().databaseUrl;
  } catch {
    return undefined;
  }
}

/**
 * A command that could not do its work: one message on stderr (and, with --json, a document on
 * stdout saying so), exit 3. Never 1, which says the check ran and found a problem.
 */
function failOperation(err: unknown, argv: string[]): never {
  const explained = explainStartupFailure(err, { databaseUrl: configuredDatabaseUrl() });
  const known = err instanceof ObjectStoreUnavailableError;
  const message = explained?.message ?? (known ? (err as Error).message : `unexpected failure: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  if (argv.includes('--json')) console.log(JSON.stringify({ error: { exitCode: CLI_EXIT.operational, message: explained || known ? message : String(err) } }, null, 2));
  console.error(message);
  process.exit(CLI_EXIT.operational);
}

export async function main(argv: string[]): Promise<void> {
  dropStdoutWhenClosed();
  const program = buildCli();
  let command = '';
  program.hook('preAction', (_, action) => {
    command = action.name();
  });
  try {
    await program.parseAsync(argv);
  } catch (err) {
    // Commander has printed its message (unknown option, missing argument); --help and --version exit 0.
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? CLI_EXIT.ok : CLI_EXIT.usage);
    // A bad configuration, in any command: its message and exit code 2 (src/startup-errors.ts).
    if (err instanceof ConfigError) failStartup(err, {});
    if (err instanceof MigrationError) {
      console.error(err.message);
      process.exit(CLI_EXIT.usage);
    }
    // serve keeps its own start-up codes (README "Start-up failures and exit codes").
    if (command === 'serve') throw err;
    // A refusal (not found, not retryable, bad input): the request was wrong, nothing changed.
    if (err instanceof QuireError && !(err instanceof ObjectStoreUnavailableError)) {
      console.error(`quire: ${err.message}`);
      process.exit(CLI_EXIT.usage);
    }
    failOperation(err, argv);
  }
}
