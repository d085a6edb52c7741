import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHttpServer } from '../../src/api/http-server.js';
import { loadConfig } from '../../src/config.js';
import { openScratchDatabase } from '../../src/database/scratch-database.js';
import { createLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics.js';
import { assembleRuntime } from '../../src/runtime.js';

/**
 * quire wired like `quire serve` for a benchmark, on a free port: NODE_ENV=production, silent,
 * PostgreSQL when DATABASE_URL is set (a scratch database, dropped by the caller), else embedded
 * PGlite. `env` adds or overrides settings (what the bench must switch off).
 */
export async function startBenchQuire(name: string, env: Record<string, string> = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), `quire-bench-${name}-`));
  const log = createLogger('silent');
  const config = loadConfig({
    DATA_DIR: dataDir,
    FLY_REGION: 'iad',
    LOG_LEVEL: 'silent',
    AUTH_SECRET: 'bench-secret-bench-secret-bench-secret-0123456789',
    NODE_ENV: 'production',
    // Production refuses to start without it; a throwaway key, as every report's data is encrypted in production.
    DATA_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    // The sealer is not what a bench measures (and production would want its signing key).
    SEALER_ENABLED: 'false',
    // Every client of the bench comes from 127.0.0.1: no per-client connection cap.
    MAX_CONNECTIONS_PER_CLIENT: '0',
    ...env,
  });
  const backend = process.env.DATABASE_URL ? ('postgres' as const) : ('pglite' as const);
  const database = await openScratchDatabase(backend, { prefix: 'quire_bench' });
  const runtime = assembleRuntime(config, log, database, new Metrics({ defaultMetrics: false }));
  const http = await startHttpServer(runtime, 0, '127.0.0.1');
  return { dataDir, log, config, backend, database, runtime, http };
}
