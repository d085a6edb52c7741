import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';

/** Every environment variable quire reads, validated once at start-up. */
const EnvSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  HOST: z.string().default('0.0.0.0'),
  DATABASE_URL: z.string().url().optional(),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(500).default(20),
  DATA_DIR: z.string().default('./data'),
  FLY_REGION: z
    .string()
    .regex(/^[a-z0-9-]{1,32}$/, 'a region is lower-case letters, digits and dashes')
    .default('local'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  SUBSCRIPTION_POLL_MS: z.coerce.number().int().min(50).default(1000),
  REPORTS_DIR: z.string().optional(),
  WORKERS_ENABLED: z.enum(['true', 'false', '1', '0']).default('true'),
  RENDER_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(availableParallelism()),
  MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(5),
  RETRY_BASE_MS: z.coerce.number().int().min(10).default(2000),
  LEASE_MS: z.coerce.number().int().min(500).default(60_000),
  WORKER_POLL_MS: z.coerce.number().int().min(50).default(1000),
});

export type Config = {
  port: number;
  host: string;
  /** PostgreSQL connection string; when absent quire runs on embedded PGlite under dataDir. */
  databaseUrl: string | undefined;
  databasePoolMax: number;
  dataDir: string;
  /** The region this instance runs in, stamped on every event it appends. */
  region: string;
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
};

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
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
  return {
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    databasePoolMax: e.DATABASE_POOL_MAX,
    dataDir: resolve(e.DATA_DIR),
    region: e.FLY_REGION,
    logLevel: e.LOG_LEVEL,
    subscriptionPollMs: e.SUBSCRIPTION_POLL_MS,
    reportsDir: resolve(e.REPORTS_DIR ?? join(e.DATA_DIR, 'reports')),
    workersEnabled: e.WORKERS_ENABLED === 'true' || e.WORKERS_ENABLED === '1',
    renderConcurrency: e.RENDER_CONCURRENCY,
    maxAttempts: e.MAX_ATTEMPTS,
    retryBaseMs: e.RETRY_BASE_MS,
    leaseMs: e.LEASE_MS,
    workerPollMs: e.WORKER_POLL_MS,
  };
}
