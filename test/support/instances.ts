import { createServer } from 'node:net';
import { startHttpServer, type HttpServer } from '../../src/api/http-server.js';
import type { DatabaseKind } from '../../src/database/connect.js';
import { RenderPool } from '../../src/render/render-pool.js';
import { createWorkers, type Workers } from '../../src/workers/start-workers.js';
import type { TestDatabase } from './databases.js';
import { startTestRuntime, type TestRuntime } from './runtime.js';

/** A free loopback port (released again, so an instance's PUBLIC_URL can be known before it starts). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface Instance {
  readonly region: string;
  /** Its machine id (MACHINE_ID / FLY_MACHINE_ID in `env`, else `<region>-1`). */
  readonly machine: string;
  readonly runtime: TestRuntime;
  readonly http: HttpServer;
  readonly workers: Workers;
  close(): Promise<void>;
}

/**
 * One quire instance (one machine) of a multi-region deployment, in this process: its own region,
 * machine id, volume and HTTP server, sharing `database` (and the object store named in `env`) with the others.
 */
export async function startInstance(
  kind: DatabaseKind,
  database: TestDatabase,
  region: string,
  port: number,
  env: Record<string, string>,
  pool: RenderPool,
): Promise<Instance> {
  const runtime = await startTestRuntime(
    kind,
    { FLY_REGION: region, MACHINE_ID: `${region}-1`, PUBLIC_URL: `http://127.0.0.1:${port}`, WORKER_POLL_MS: '100', ...env },
    { database },
  );
  const http = await startHttpServer(runtime, port, '127.0.0.1');
  const machine = runtime.config.machineId;
  const workers = createWorkers(runtime, { pool, owner: `worker-${machine}` });
  return {
    region,
    machine,
    runtime,
    http,
    workers,
    async close() {
      await http.close();
      await workers.stop();
      await runtime.close();
    },
  };
}
