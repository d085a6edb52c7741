import { resolve } from 'node:path';
import { configuredSealKeys, type SealKeys } from './audit/seal-key.js';
import { deriveKey, resolveSecret } from './auth/secret.js';
import { TokenRevocations } from './auth/token-revocations.js';
import { UserTokens } from './auth/user-tokens.js';
import type { Config } from './config.js';
import { openConfiguredDatabase, type DatabaseHandle } from './database/connect.js';
import { ReadRouter } from './database/read-router.js';
import { migrateForService } from './database/roles.js';
import { EventStore } from './events/event-store.js';
import { createLogger, type Logger } from './log.js';
import { Metrics } from './metrics.js';
import { scrapeSources } from './projections/scrape-sources.js';
import { reportProjection } from './projections/report-projection.js';
import { configuredPersonalData } from './reports/personal-data.js';
import { DiskObjectStore } from './storage/disk-object-store.js';
import { FileTokens } from './storage/file-token.js';
import { MonitoredObjectStore } from './storage/monitored-object-store.js';
import type { ObjectStore } from './storage/object-store.js';
import { reportIdOfKey } from './storage/report-key.js';
import { S3ObjectStore } from './storage/s3-object-store.js';
import { Volume } from './storage/volume.js';

/** Everything one quire process shares. */
export interface Runtime {
  readonly config: Config;
  readonly log: Logger;
  readonly database: DatabaseHandle;
  readonly store: EventStore;
  /** Where reads that may lag go: the read replica (DATABASE_READ_URL) or the primary. */
  readonly reads: ReadRouter;
  readonly volume: Volume;
  readonly objectStore: MonitoredObjectStore;
  readonly fileTokens: FileTokens;
  readonly userTokens: UserTokens;
  /** Revoked tokens (`quire token revoke`, the revokeTokens mutation); userTokens checks them. */
  readonly revocations: TokenRevocations;
  readonly metrics: Metrics;
  /** The key that signs seals and the keys verification trusts (never stored in the database). */
  readonly sealKeys: SealKeys;
  close(): Promise<void>;
}

/** The configured object store: S3 when configured, else the disk store whose links quire signs. */
export function createObjectStore(config: Config, fileTokens: FileTokens): ObjectStore {
  const c = config.objectStore;
  if (c.kind === 's3') {
    return new S3ObjectStore({
      endpoint: c.endpoint,
      bucket: c.bucket,
      region: c.region,
      accessKeyId: c.accessKeyId,
      secretAccessKey: c.secretAccessKey,
      forcePathStyle: c.forcePathStyle,
    });
  }
  return new DiskObjectStore({
    dir: c.dir,
    sign: async ({ key, filename, ttlSeconds }) => {
      const reportId = reportIdOfKey(key) ?? '';
      const { token, expiresAt } = await fileTokens.sign({ reportId, key, location: 'object', region: null, machine: null, sha256: '', filename }, ttlSeconds);
      return { url: `/files/${token}`, expiresAt };
    },
  });
}

/** Opens the configured database (PostgreSQL or embedded PGlite), migrates it and builds the services. */
export async function startRuntime(
  config: Config,
  log: Logger = createLogger(config.logLevel, config.region),
  options: { metrics?: Metrics } = {},
): Promise<Runtime> {
  const database = await openConfiguredDatabase(config, log);
  try {
    const applied = await migrateForService(config, database, log);
    if (applied.length > 0) log.info({ applied }, 'database migrated');
    return assembleRuntime(config, log, database, options.metrics ?? new Metrics());
  } catch (err) {
    await database.close();
    throw err;
  }
}

/** The services on top of an open, migrated database (tests pass their own database). */
export function assembleRuntime(config: Config, log: Logger, database: DatabaseHandle, metrics: Metrics): Runtime {
  const secret = resolveSecret(config.authSecret, config.dataDir);
  const sealKeys = configuredSealKeys(config);
  if (sealKeys.generated) {
    log.warn({ keyId: sealKeys.signer.keyId }, 'seals are signed with a development key kept under DATA_DIR: set SEAL_SIGNING_KEY (npx quire audit keygen) before relying on them');
  }
  if (database.kind === 'postgres') {
    // Kept under this instance's DATA_DIR, so not shared with the other instances on this database:
    // their tokens and /files links fail here (401, 403, 410 MISSING) and seals carry several keys.
    const local = [
      ...(config.authSecret === undefined ? ['AUTH_SECRET'] : []),
      ...(config.dataEncryptionKey === undefined ? ['DATA_ENCRYPTION_KEY'] : []),
      ...(sealKeys.generated ? ['SEAL_SIGNING_KEY'] : []),
      ...(config.webhooks.allowedHosts.length > 0 && config.webhooks.secret === undefined ? ['WEBHOOK_SECRET'] : []),
      ...(config.objectStore.kind === 'disk' && config.objectStore.dir === resolve(config.dataDir, 'objects') ? ['OBJECTS_DIR (or an S3 store)'] : []),
    ];
    if (local.length > 0) {
      log.warn({ unset: local }, `PostgreSQL is shared by every instance, but ${local.join(', ')} ${local.length > 1 ? 'are' : 'is'} local to this one: set the same on every instance before running more than one`);
    }
  }
  const personalData = configuredPersonalData(config);
  const fileTokens = new FileTokens(deriveKey(secret, 'file-token'));
  const revocations = new TokenRevocations(database.db, log, config.tokenRevocationRefreshMs);
  const reads = new ReadRouter(database.db, database.readDb, database.kind === 'postgres', (target) => metrics.databaseRead(target));
  const store = new EventStore({
    db: database.db,
    ...(database.readDb ? { catchUpDb: () => reads.forRead() } : {}),
    notifier: database.notifier,
    region: config.region,
    machine: config.machineId,
    log,
    pollMs: config.subscriptionPollMs,
    personalData,
    projections: [reportProjection(personalData)],
    onQuarantine: () => metrics.eventQuarantined(),
  });
  metrics.watchDatabase(scrapeSources(database.db));
  return {
    config,
    log,
    database,
    store,
    reads,
    volume: new Volume(config.reportsDir),
    objectStore: new MonitoredObjectStore(createObjectStore(config, fileTokens)),
    fileTokens,
    userTokens: new UserTokens({
      key: deriveKey(secret, 'user-token'),
      ...(config.authJwksUrl ? { jwksUrl: config.authJwksUrl } : {}),
      ...(config.authIssuer ? { issuer: config.authIssuer } : {}),
      ...(config.authAudience ? { audience: config.authAudience } : {}),
      revocations,
    }),
    revocations,
    metrics,
    sealKeys,
    close: () => {
      revocations.close();
      return database.close();
    },
  };
}
