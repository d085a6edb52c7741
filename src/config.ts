import { availableParallelism, hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { TEMPLATE_NAMES } from './reports/templates/names.js';
import { DURATION_HINT, parseDurationSeconds } from './shared/duration.js';

/** A machine id: Fly's are 14 hex digits; elsewhere any safe token (it goes into URLs and stream ids). */
const MACHINE_ID = /^[A-Za-z0-9-]{1,64}$/;

const SQL_NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;

/** Every environment variable quire reads, validated once at start-up. */
/** The longest retention a setting may name (about a century): beyond some thousands of years an expiry is no date at all. */
const LONGEST_RETENTION = 'P5200W';

/** A retention setting in seconds, or null when it is not a duration or longer than LONGEST_RETENTION. */
function retentionSeconds(text: string): number | null {
  const seconds = parseDurationSeconds(text);
  return seconds !== null && seconds <= parseDurationSeconds(LONGEST_RETENTION)! ? seconds : null;
}

const EnvSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  HOST: z.string().default('0.0.0.0'),
  DATABASE_URL: z.string().url().optional(),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(500).default(20),
  // A URL, or one with {region} in it (expanded with FLY_REGION): Fly secrets are app-wide.
  DATABASE_READ_URL: z.string().optional(),
  PRIMARY_REGION: z.string().regex(/^[a-z0-9-]{1,32}$/, 'a region is lower-case letters, digits and dashes').optional(),
  DATA_DIR: z.string().default('./data'),
  FLY_REGION: z
    .string()
    .regex(/^[a-z0-9-]{1,32}$/, 'a region is lower-case letters, digits and dashes')
    .default('local'),
  FLY_MACHINE_ID: z.string().regex(MACHINE_ID, 'a machine id is letters, digits and dashes, at most 64').optional(),
  MACHINE_ID: z.string().regex(MACHINE_ID, 'a machine id is letters, digits and dashes, at most 64').optional(),
  MACHINE_URLS: z
    .string()
    .regex(/^([A-Za-z0-9-]{1,64}=https?:\/\/[^,=\s]+)(,[A-Za-z0-9-]{1,64}=https?:\/\/[^,=\s]+)*$/, 'a list like 148ed193b95089=http://10.0.0.5:4000,d8d9...=http://10.0.0.6:4000')
    .optional(),
  MACHINE_URL_TEMPLATE: z
    .string()
    .regex(/^https?:\/\/[^\s]*\{machine\}[^\s]*$/, 'a URL with {machine} in it, e.g. http://{machine}.vm.{app}.internal:{port}')
    .optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  SUBSCRIPTION_POLL_MS: z.coerce.number().int().min(50).default(1000),
  REPORTS_DIR: z.string().optional(),
  WORKERS_ENABLED: z.enum(['true', 'false', '1', '0']).default('true'),
  RENDER_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(availableParallelism()),
  MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(5),
  RETRY_BASE_MS: z.coerce.number().int().min(10).default(2000),
  LEASE_MS: z.coerce.number().int().min(500).default(60_000),
  WORKER_POLL_MS: z.coerce.number().int().min(50).default(1000),
  STORAGE_MODE: z.enum(['volume', 'mirror', 'object']).default('mirror'),
  AWS_ENDPOINT_URL_S3: z.string().url().optional(),
  BUCKET_NAME: z.string().min(3).max(63).optional(),
  AWS_ACCESS_KEY_ID: z.string().optional(),
  AWS_SECRET_ACCESS_KEY: z.string().optional(),
  AWS_REGION: z.string().default('auto'),
  S3_FORCE_PATH_STYLE: z.enum(['true', 'false', '1', '0']).default('false'),
  OBJECTS_DIR: z.string().optional(),
  AUTH_SECRET: z.string().min(32, 'at least 32 characters').optional(),
  DATA_ENCRYPTION_KEY: z.string().min(32, 'at least 32 characters').optional(),
  DATA_ENCRYPTION_KEY_PREVIOUS: z.string().min(32, 'at least 32 characters').optional(),
  AUTH_JWKS_URL: z.string().url().optional(),
  AUTH_ISSUER: z.string().optional(),
  AUTH_AUDIENCE: z.string().optional(),
  TOKEN_REVOCATION_REFRESH_MS: z.coerce.number().int().min(100).max(3_600_000).default(10_000),
  PUBLIC_URL: z.string().url().optional(),
  REGION_URLS: z
    .string()
    .regex(/^([a-z0-9-]{1,32}=https?:\/\/[^,=\s]+)(,[a-z0-9-]{1,32}=https?:\/\/[^,=\s]+)*$/, 'a list like iad=https://iad.example.com,lax=https://lax.example.com')
    .optional(),
  FLY_APP_NAME: z.string().optional(),
  FLY_REPLAY: z.enum(['true', 'false', '1', '0']).optional(),
  DOWNLOAD_TTL_SECONDS: z.coerce.number().int().min(1).max(3600).default(300),
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  GRAPHQL_INTROSPECTION: z.enum(['true', 'false', '1', '0']).optional(),
  MAX_BODY_BYTES: z.coerce.number().int().min(1024).default(1536 * 1024),
  REQUESTS_PER_MINUTE: z.coerce.number().int().min(1).default(30),
  LEGACY_DATABASE_URL: z.string().url().optional(),
  LEGACY_TABLE: z.string().regex(SQL_NAME, 'a table name, optionally schema-qualified').default('reports'),
  LEGACY_COLUMNS: z
    .string()
    .regex(/^(id|owner|title|file_path|created_at)=[A-Za-z_][A-Za-z0-9_]*(,(id|owner|title|file_path|created_at)=[A-Za-z_][A-Za-z0-9_]*)*$/, 'a list like owner=user_id,file_path=path')
    .optional(),
  LEGACY_PATH_PREFIX: z.string().default('/data/reports/'),
  LEGACY_MIGRATE: z.enum(['true', 'false', '1', '0']).default('false'),
  LEGACY_MIGRATE_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(4),
  LEGACY_MIGRATE_RATE: z.coerce.number().positive().optional(),
  SEALER_ENABLED: z.enum(['true', 'false', '1', '0']).default('true'),
  SEAL_EVERY_EVENTS: z.coerce.number().int().min(1).max(1_000_000).default(10_000),
  SEAL_EVERY_SECONDS: z.coerce.number().min(0.01).max(86_400).default(60),
  SHUTDOWN_DRAIN_MS: z.coerce.number().int().min(0).max(290_000).default(20_000),
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  METRICS_HOST: z.string().optional(),
  // Traces are exported (OTLP/HTTP to <endpoint>/v1/traces) only when this is set.
  OTEL_EXPORTER_OTLP_ENDPOINT: z.string().url().optional(),
  HTTP_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(100).max(300_000).default(10_000),
  HTTP_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(3_600_000).default(30_000),
  MAX_CONNECTIONS_PER_CLIENT: z.coerce.number().int().min(0).max(100_000).default(100),
  MAX_SUBSCRIPTIONS_PER_SOCKET: z.coerce.number().int().min(1).max(100_000).default(100),
  CLIENT_IP_HEADER: z
    .string()
    .regex(/^([A-Za-z0-9-]{1,64}|none)$/, 'a header name such as fly-client-ip, or none')
    .optional(),
  RENDER_TIMEOUT_MS: z.coerce.number().int().min(100).default(120_000),
  RENDER_MAX_HEAP_MB: z.coerce.number().int().min(32).max(65_536).default(512),
  ORPHAN_GRACE_MS: z.coerce.number().int().min(1000).default(3_600_000),
  DATABASE_MIGRATE_URL: z.string().url().optional(),
  SEAL_SIGNING_KEY: z.string().min(32, 'an Ed25519 seed (base64url, 43 characters) or a PKCS#8 PEM').optional(),
  SEAL_PUBLIC_KEYS: z
    .string()
    .regex(/^[A-Za-z0-9_-]{43}(,[A-Za-z0-9_-]{43})*$/, 'a list of Ed25519 public keys, base64url, comma-separated')
    .optional(),
  SEAL_PUBLISH: z.enum(['true', 'false', '1', '0']).default('true'),
  PDF_AUTHOR: z.string().min(1).max(200).regex(/^[^\p{Cc}]*$/u, 'no control characters').default('quire'),
  PERSISTED_DOCUMENTS: z.enum(['allow', 'require']).default('allow'),
  WEBHOOK_ALLOWED_HOSTS: z
    .string()
    .regex(/^(\*\.)?[A-Za-z0-9.:[\]-]+(,(\*\.)?[A-Za-z0-9.:[\]-]+)*$/, 'a list of host names like hooks.example.com,*.example.org')
    .optional(),
  WEBHOOK_SECRET: z.string().regex(/^whsec_[A-Za-z0-9+/]{32,}={0,2}$/, 'whsec_ followed by at least 24 bytes in base64 (Standard Webhooks)').optional(),
  WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(8),
  WEBHOOK_RETRY_BASE_MS: z.coerce.number().int().min(10).default(5000),
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
  IDEMPOTENCY_WINDOW: z.coerce.number().int().min(1).max(30 * 86_400).default(86_400),
  // A duration for every template, and/or template=duration pairs: P90D,invoice=P30D.
  RETENTION_DEFAULT: z
    .string()
    .refine(
      (v) => v.split(',').every((part) => retentionSeconds(part.includes('=') ? part.slice(part.indexOf('=') + 1) : part) !== null),
      `a list of durations, each alone or as template=duration (${DURATION_HINT}; at most ${LONGEST_RETENTION})`,
    )
    .optional(),
  RETENTION_MAX: z.string().refine((v) => retentionSeconds(v) !== null, `${DURATION_HINT}; at most ${LONGEST_RETENTION}`).optional(),
});

/** The columns of the legacy reports table, by meaning; defaults match the seed's schema. */
export interface LegacyColumns {
  id: string;
  owner: string;
  title: string;
  file_path: string;
  created_at: string;
}

const flag = (v: string) => v === 'true' || v === '1';

export type StorageMode = 'volume' | 'mirror' | 'object';

export type ObjectStoreConfig =
  | { kind: 's3'; endpoint: string | undefined; bucket: string; region: string; accessKeyId: string; secretAccessKey: string; forcePathStyle: boolean }
  | { kind: 'disk'; dir: string };

export type Config = {
  port: number;
  host: string;
  /** PostgreSQL connection string; when absent quire runs on embedded PGlite under dataDir. */
  databaseUrl: string | undefined;
  databasePoolMax: number;
  /**
   * A read replica of DATABASE_URL (on Fly: the one in this region) for reads that may lag;
   * appends, leases and LISTEN stay on the primary. See src/database/read-router.ts.
   */
  databaseReadUrl: string | undefined;
  dataDir: string;
  /** The region this instance runs in, stamped on every event it appends. */
  region: string;
  /**
   * The machine this instance runs on, whose volume REPORTS_DIR is: FLY_MACHINE_ID on Fly, else
   * MACHINE_ID, else derived from the host name. Copies on a volume are addressed by it.
   */
  machineId: string;
  /** Base URL of each machine, for redirects to a machine's volume outside Fly (MACHINE_URLS). */
  machineUrls: Record<string, string>;
  /** A machine's base URL from its id ({machine}, {region}, {app}, {port}), when MACHINE_URLS has none. */
  machineUrlTemplate: string | undefined;
  logLevel: z.infer<typeof EnvSchema>['LOG_LEVEL'];
  /** Fallback poll interval for subscriptions when no NOTIFY arrives. */
  subscriptionPollMs: number;
  /** This region's volume. */
  reportsDir: string;
  workersEnabled: boolean;
  /** Render worker threads, and reports rendered at once. */
  renderConcurrency: number;
  /** Attempts per stage before a report is FAILED (render) or left to an operator (copies). */
  maxAttempts: number;
  /** Backoff before the second attempt; doubles each time. */
  retryBaseMs: number;
  /** How long a claim holds without renewal: a dead instance's work is taken over after this. */
  leaseMs: number;
  workerPollMs: number;
  /** volume: legacy, volume only; mirror: volume then object store; object: object store only. */
  storageMode: StorageMode;
  objectStore: ObjectStoreConfig;
  /** HS256 key for user tokens and signed file URLs; when unset, one is kept under dataDir. */
  authSecret: string | undefined;
  /**
   * Wraps every report's data key (src/reports/personal-data.ts); when unset, one is kept under
   * dataDir. Losing it loses every report's title and params: keep it like a database backup key.
   */
  dataEncryptionKey: string | undefined;
  /**
   * Another key-encryption key, only ever used to unwrap (never to wrap): during a rotation
   * (`quire keys rotate`), the one the keys not yet re-wrapped were wrapped with.
   */
  dataEncryptionKeyPrevious: string | undefined;
  authJwksUrl: string | undefined;
  authIssuer: string | undefined;
  authAudience: string | undefined;
  /** How often each instance re-reads token_revocations (revocations made by another instance take effect within this). */
  tokenRevocationRefreshMs: number;
  /** Base of the links quire signs for itself (/files/<token>). */
  publicUrl: string;
  /** Base URL of each region's instances, for redirects outside Fly. */
  regionUrls: Record<string, string>;
  /** Answer requests for another region's file with `fly-replay` (on Fly) instead of a redirect. */
  flyReplay: boolean;
  downloadTtlSeconds: number;
  production: boolean;
  /** Introspection is on outside production, and in production only when asked for. */
  introspection: boolean;
  /**
   * Trusted documents (src/api/graphql/persisted-documents.ts). `allow`: a known hash or a full
   * document; `require`: a known hash only, unless the bearer token has the claim
   * `arbitrary_documents: true` (`quire token --arbitrary-documents`).
   */
  persistedDocuments: 'allow' | 'require';
  /** The Author written into every rendered PDF: the service that made it. */
  pdfAuthor: string;
  /** Largest HTTP request body accepted (params are at most 1 MiB). */
  maxBodyBytes: number;
  /** requestReport calls per viewer per minute, across every instance (counted in the database). */
  requestsPerMinute: number;
  /**
   * On SIGTERM/SIGINT: how long renders and copies in flight may take to finish before they are
   * aborted and their leases released; the whole shutdown stays under this plus a few seconds
   * (fly.toml's kill_timeout must be longer).
   */
  shutdownDrainMs: number;
  /**
   * Prometheus metrics on a port of their own, apart from the public one: no token, so never
   * routed by a public proxy. `port` undefined = off (the default outside Fly).
   */
  metrics: { port: number | undefined; host: string };
  /** OpenTelemetry traces: off unless an OTLP endpoint is set (src/telemetry/). */
  otel: { endpoint: string | undefined };
  /**
   * Slow and greedy clients on the public port. A request's headers must arrive within
   * `headersTimeoutMs` and the whole request within `requestTimeoutMs` (Node's own defaults,
   * 60 s and 300 s, let a slow body hold a socket for five minutes). A client holds at most
   * `maxConnectionsPerClient` sockets (0 = no cap); behind a proxy the client is named by
   * `clientIpHeader` (fly-client-ip on Fly), trusted only when set, else the socket's address.
   */
  http: { headersTimeoutMs: number; requestTimeoutMs: number; maxConnectionsPerClient: number; clientIpHeader: string | null };
  /** Operations one graphql-ws socket may run at once: multiplexing must not evade the connection cap. */
  maxSubscriptionsPerSocket: number;
  /** The log sealer (one active at a time across instances). */
  sealer: { enabled: boolean; everyEvents: number; everySeconds: number };
  /** A render running longer than this is ended (its worker thread terminated) and counted as a failed attempt. */
  renderTimeoutMs: number;
  /** Old-generation heap of each render worker thread: a render that needs more crashes only its thread. */
  renderMaxHeapMb: number;
  /** Volume files no event references are removed once they are older than this (a crash between write and append). */
  orphanGraceMs: number;
  /**
   * How long reports are kept (reports/retention.ts). `defaultSeconds`: for a request that names no
   * expiry (null: kept until deleted), `byTemplate` overriding it per template; `maxSeconds`: the
   * longest any request may ask for (null: no limit). Seconds.
   */
  retention: { defaultSeconds: number | null; byTemplate: Record<string, number>; maxSeconds: number | null };
  /**
   * PostgreSQL URL of the role that owns the schema and runs migrations; DATABASE_URL's role then
   * only reads and appends (docs/threat-model.md). Unset: DATABASE_URL does both.
   */
  databaseMigrateUrl: string | undefined;
  seals: {
    /** SEAL_SIGNING_KEY: Ed25519 key that signs seals (src/audit/seal-key.ts); unset outside production: one kept under DATA_DIR. */
    signingKey: string | undefined;
    /** Older public keys still trusted when verifying (after a key rotation). */
    publicKeys: string[];
    /** Publish each seal's digest to the object store, write-once (seals/<seq>.json). */
    publish: boolean;
  };
  /**
   * Completion webhooks (requestReport's callbackUrl): the hosts a callback may go to (exact, or
   * `*.example.com` for its subdomains; none = callbacks refused), the Standard Webhooks signing
   * secret (WEBHOOK_SECRET; unset outside production: one kept under DATA_DIR), attempts before
   * WebhookFailed, the first retry's delay (doubling, at most 10 min) and each attempt's deadline.
   */
  webhooks: { allowedHosts: string[]; secret: string | undefined; maxAttempts: number; retryBaseMs: number; timeoutMs: number };
  /** How long an idempotency key names its first report (IDEMPOTENCY_WINDOW, seconds); after it the key is free again. */
  idempotencyWindowMs: number;
  legacy: {
    databaseUrl: string | undefined;
    table: string;
    columns: LegacyColumns;
    /** The legacy file_path prefix that is this region's REPORTS_DIR. */
    pathPrefix: string;
    /** Run the migrator (phase 2) in this instance's background workers. */
    migrate: boolean;
    migrateConcurrency: number;
    migrateFilesPerSecond: number | undefined;
  };
};

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** S3 when a bucket and credentials are set (as `fly storage create` sets them), else the disk store. */
function objectStoreConfig(e: z.infer<typeof EnvSchema>): ObjectStoreConfig {
  const required = { BUCKET_NAME: e.BUCKET_NAME, AWS_ACCESS_KEY_ID: e.AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: e.AWS_SECRET_ACCESS_KEY };
  // AWS_ENDPOINT_URL_S3 alone also means "use S3": falling back to the disk store would hide the mistake.
  const given = Object.entries({ AWS_ENDPOINT_URL_S3: e.AWS_ENDPOINT_URL_S3, ...required }).filter(([, v]) => v !== undefined).map(([k]) => k);
  if (given.length === 0) {
    return { kind: 'disk', dir: resolve(e.OBJECTS_DIR ?? join(e.DATA_DIR, 'objects')) };
  }
  const missing = Object.entries(required).filter(([, v]) => v === undefined).map(([k]) => k);
  if (missing.length > 0) {
    throw new ConfigError(
      `invalid configuration:\n  object store: ${given.join(', ')} ${given.length === 1 ? 'is' : 'are'} set but ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing. ` +
        'Set BUCKET_NAME, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for S3 (`fly storage create` sets them all), or none of them for the disk store.',
    );
  }
  return {
    kind: 's3',
    endpoint: e.AWS_ENDPOINT_URL_S3,
    bucket: e.BUCKET_NAME!,
    region: e.AWS_REGION,
    accessKeyId: e.AWS_ACCESS_KEY_ID!,
    secretAccessKey: e.AWS_SECRET_ACCESS_KEY!,
    forcePathStyle: flag(e.S3_FORCE_PATH_STYLE),
  };
}

/** A stable machine id from a host name: lower case, anything but letters, digits and dashes → a dash. */
export function machineIdFromHost(host: string): string {
  const id = host
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 64)
    .replace(/-+$/, '');
  return id || 'local';
}

function expandTemplate(template: string, values: Record<string, string>): string {
  return template.replace(/\{(app|port)\}/g, (_, name: string) => values[name]!);
}

/**
 * Where to send a request for `machine`'s volume outside Fly: its MACHINE_URLS entry, else the
 * template, else (correct only while a region runs one machine) its region's REGION_URLS entry.
 */
export function machineBaseUrl(config: Pick<Config, 'machineUrls' | 'machineUrlTemplate' | 'regionUrls'>, machine: string | null, region: string): string | undefined {
  if (machine !== null) {
    const url = config.machineUrls[machine] ?? config.machineUrlTemplate?.replace(/\{machine\}/g, machine).replace(/\{region\}/g, region);
    if (url) return url.replace(/\/+$/, '');
  }
  return config.regionUrls[region];
}

/**
 * This region's read replica: DATABASE_READ_URL with {region} → FLY_REGION. None in PRIMARY_REGION
 * (the primary is the nearest database there) and none without DATABASE_URL (refused: a replica
 * without its primary cannot take appends).
 */
function readReplicaUrl(e: z.infer<typeof EnvSchema>): string | undefined {
  if (!e.DATABASE_READ_URL) return undefined;
  if (!e.DATABASE_URL) throw new ConfigError('invalid configuration:\n  DATABASE_READ_URL: a read replica needs its primary in DATABASE_URL');
  if (e.PRIMARY_REGION !== undefined && e.PRIMARY_REGION === e.FLY_REGION) return undefined;
  const url = e.DATABASE_READ_URL.replace(/\{region\}/g, e.FLY_REGION);
  if (!z.string().url().safeParse(url).success || /[{}]/.test(url)) {
    throw new ConfigError('invalid configuration:\n  DATABASE_READ_URL: a PostgreSQL URL, optionally with {region}, e.g. postgres://user:pass@{region}.my-db.internal:5433/quire');
  }
  return url;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable means "not set": `DATABASE_URL= npm start` selects the embedded database.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = EnvSchema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const onFly = e.FLY_APP_NAME !== undefined;
  // Every machine must sign and check tokens and /files links with the same key: a secret generated
  // per machine under DATA_DIR breaks every link that crosses machines.
  const missing: string[] = [];
  if (!e.AUTH_SECRET && (e.NODE_ENV === 'production' || onFly)) {
    missing.push(
      '  AUTH_SECRET: required when NODE_ENV=production or on Fly (FLY_APP_NAME is set), the same on every machine; ' +
        'e.g. fly secrets set AUTH_SECRET=$(openssl rand -base64 48)',
    );
  }
  // Each machine would encrypt with its own key and no other could read those reports' titles.
  if (!e.DATA_ENCRYPTION_KEY && (e.NODE_ENV === 'production' || onFly)) {
    missing.push(
      '  DATA_ENCRYPTION_KEY: required when NODE_ENV=production or on Fly (FLY_APP_NAME is set), the same on every machine; ' +
        'it encrypts the keys of reports\' personal data: keep a copy (fly secrets set DATA_ENCRYPTION_KEY=$(openssl rand -base64 48))',
    );
  }
  if (e.HTTP_HEADERS_TIMEOUT_MS > e.HTTP_REQUEST_TIMEOUT_MS) {
    throw new ConfigError('invalid configuration:\n  HTTP_HEADERS_TIMEOUT_MS: must not exceed HTTP_REQUEST_TIMEOUT_MS (the headers are part of the request)');
  }
  const clientIpHeader = e.CLIENT_IP_HEADER ?? (onFly ? 'fly-client-ip' : 'none');
  const databaseReadUrl = readReplicaUrl(e);
  // A seal key generated on one machine's disk would let whoever reads that disk forge seals, and
  // every machine would sign with a different key.
  if (!e.SEAL_SIGNING_KEY && flag(e.SEALER_ENABLED) && (e.NODE_ENV === 'production' || onFly)) {
    missing.push(
      '  SEAL_SIGNING_KEY: required when NODE_ENV=production or on Fly (FLY_APP_NAME is set) unless SEALER_ENABLED=false; ' +
        'create one with `npx quire audit keygen` and keep it out of the database (fly secrets set SEAL_SIGNING_KEY=...)',
    );
  }
  const webhookHosts = e.WEBHOOK_ALLOWED_HOSTS?.toLowerCase().split(',') ?? [];
  // Like AUTH_SECRET: every machine delivers and must sign with the one key the receivers know.
  if (!e.WEBHOOK_SECRET && webhookHosts.length > 0 && (e.NODE_ENV === 'production' || onFly)) {
    missing.push(
      '  WEBHOOK_SECRET: required with WEBHOOK_ALLOWED_HOSTS when NODE_ENV=production or on Fly, the same on every machine; ' +
        'e.g. fly secrets set WEBHOOK_SECRET=whsec_$(openssl rand -base64 32)',
    );
  }
  const retention = retentionConfig(e);
  for (const template of Object.keys(retention.byTemplate)) {
    if (!(TEMPLATE_NAMES as readonly string[]).includes(template)) missing.push(`  RETENTION_DEFAULT: no template is called ${template} (templates: ${TEMPLATE_NAMES.join(', ')})`);
  }
  for (const [template, seconds] of [['(every template)', retention.defaultSeconds] as const, ...Object.entries(retention.byTemplate)]) {
    if (seconds !== null && retention.maxSeconds !== null && seconds > retention.maxSeconds) {
      missing.push(`  RETENTION_DEFAULT: the default for ${template} is longer than RETENTION_MAX (${e.RETENTION_MAX})`);
    }
  }
  if (missing.length > 0) throw new ConfigError(`invalid configuration:\n${missing.join('\n')}`);
  return {
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    databasePoolMax: e.DATABASE_POOL_MAX,
    databaseReadUrl,
    dataDir: resolve(e.DATA_DIR),
    region: e.FLY_REGION,
    machineId: e.FLY_MACHINE_ID ?? e.MACHINE_ID ?? machineIdFromHost(hostname()),
    machineUrls: Object.fromEntries(
      (e.MACHINE_URLS?.split(',') ?? []).map((pair) => {
        const [machine, url] = pair.split('=') as [string, string];
        return [machine, url.replace(/\/+$/, '')];
      }),
    ),
    machineUrlTemplate: e.MACHINE_URL_TEMPLATE && expandTemplate(e.MACHINE_URL_TEMPLATE, { app: e.FLY_APP_NAME ?? 'quire', port: String(e.PORT) }),
    logLevel: e.LOG_LEVEL,
    subscriptionPollMs: e.SUBSCRIPTION_POLL_MS,
    reportsDir: resolve(e.REPORTS_DIR ?? join(e.DATA_DIR, 'reports')),
    workersEnabled: flag(e.WORKERS_ENABLED),
    renderConcurrency: e.RENDER_CONCURRENCY,
    maxAttempts: e.MAX_ATTEMPTS,
    retryBaseMs: e.RETRY_BASE_MS,
    leaseMs: e.LEASE_MS,
    workerPollMs: e.WORKER_POLL_MS,
    storageMode: e.STORAGE_MODE,
    objectStore: objectStoreConfig(e),
    authSecret: e.AUTH_SECRET,
    dataEncryptionKey: e.DATA_ENCRYPTION_KEY,
    dataEncryptionKeyPrevious: e.DATA_ENCRYPTION_KEY_PREVIOUS,
    authJwksUrl: e.AUTH_JWKS_URL,
    authIssuer: e.AUTH_ISSUER,
    authAudience: e.AUTH_AUDIENCE,
    tokenRevocationRefreshMs: e.TOKEN_REVOCATION_REFRESH_MS,
    publicUrl: (e.PUBLIC_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, ''),
    regionUrls: Object.fromEntries(
      (e.REGION_URLS?.split(',') ?? []).map((pair) => {
        const [region, url] = pair.split('=') as [string, string];
        return [region, url.replace(/\/+$/, '')];
      }),
    ),
    flyReplay: e.FLY_REPLAY === undefined ? e.FLY_APP_NAME !== undefined : flag(e.FLY_REPLAY),
    downloadTtlSeconds: e.DOWNLOAD_TTL_SECONDS,
    production: e.NODE_ENV === 'production',
    introspection: e.GRAPHQL_INTROSPECTION === undefined ? e.NODE_ENV !== 'production' : flag(e.GRAPHQL_INTROSPECTION),
    persistedDocuments: e.PERSISTED_DOCUMENTS,
    pdfAuthor: e.PDF_AUTHOR,
    maxBodyBytes: e.MAX_BODY_BYTES,
    requestsPerMinute: e.REQUESTS_PER_MINUTE,
    shutdownDrainMs: e.SHUTDOWN_DRAIN_MS,
    // On Fly the scraper reaches a machine over the private network (IPv6 6PN): bind every address.
    // Fly's proxy forwards only [http_service].internal_port, so this port is never public.
    metrics: { port: e.METRICS_PORT ?? (onFly ? 9091 : undefined), host: e.METRICS_HOST ?? (onFly ? '::' : '127.0.0.1') },
    otel: { endpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT },
    http: {
      headersTimeoutMs: e.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
      maxConnectionsPerClient: e.MAX_CONNECTIONS_PER_CLIENT,
      clientIpHeader: clientIpHeader === 'none' ? null : clientIpHeader.toLowerCase(),
    },
    maxSubscriptionsPerSocket: e.MAX_SUBSCRIPTIONS_PER_SOCKET,
    sealer: { enabled: flag(e.SEALER_ENABLED), everyEvents: e.SEAL_EVERY_EVENTS, everySeconds: e.SEAL_EVERY_SECONDS },
    renderTimeoutMs: e.RENDER_TIMEOUT_MS,
    renderMaxHeapMb: e.RENDER_MAX_HEAP_MB,
    orphanGraceMs: e.ORPHAN_GRACE_MS,
    retention,
    databaseMigrateUrl: e.DATABASE_MIGRATE_URL,
    seals: { signingKey: e.SEAL_SIGNING_KEY, publicKeys: e.SEAL_PUBLIC_KEYS?.split(',') ?? [], publish: flag(e.SEAL_PUBLISH) },
    webhooks: {
      allowedHosts: webhookHosts,
      secret: e.WEBHOOK_SECRET,
      maxAttempts: e.WEBHOOK_MAX_ATTEMPTS,
      retryBaseMs: e.WEBHOOK_RETRY_BASE_MS,
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
    },
    idempotencyWindowMs: e.IDEMPOTENCY_WINDOW * 1000,
    legacy: {
      databaseUrl: e.LEGACY_DATABASE_URL,
      table: e.LEGACY_TABLE,
      columns: {
        id: 'id',
        owner: 'user_id',
        title: 'title',
        file_path: 'file_path',
        created_at: 'created_at',
        ...Object.fromEntries((e.LEGACY_COLUMNS?.split(',') ?? []).map((pair) => pair.split('=') as [string, string])),
      },
      pathPrefix: e.LEGACY_PATH_PREFIX,
      migrate: flag(e.LEGACY_MIGRATE),
      migrateConcurrency: e.LEGACY_MIGRATE_CONCURRENCY,
      migrateFilesPerSecond: e.LEGACY_MIGRATE_RATE,
    },
  };
}

function retentionConfig(e: z.infer<typeof EnvSchema>): Config['retention'] {
  const parts = e.RETENTION_DEFAULT?.split(',') ?? [];
  const all = parts.find((p) => !p.includes('='));
  const byTemplate = Object.fromEntries(
    parts.filter((p) => p.includes('=')).map((p) => [p.slice(0, p.indexOf('=')), parseDurationSeconds(p.slice(p.indexOf('=') + 1))!] as const),
  );
  return {
    defaultSeconds: all === undefined ? null : parseDurationSeconds(all),
    byTemplate,
    maxSeconds: e.RETENTION_MAX === undefined ? null : parseDurationSeconds(e.RETENTION_MAX),
  };
}
