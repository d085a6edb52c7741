import { createServer } from 'node:net';
import { afterAll, beforeAll } from 'vitest';
import { startHttpServer, type HttpServer } from '../../src/api/http-server.js';
import type { DatabaseKind } from '../../src/database/connect.js';
import { RenderPool } from '../../src/render/render-pool.js';
import { createWorkers, type Workers } from '../../src/workers/start-workers.js';
import { openTestDatabase, type TestDatabase } from './databases.js';
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

/** An API-only machine: a runtime and its HTTP server, no workers. */
export interface ApiMachine {
  readonly runtime: TestRuntime;
  readonly http: HttpServer;
}

export interface TwoApiMachines {
  readonly database: TestDatabase;
  readonly iad: ApiMachine;
  readonly lax: ApiMachine;
  readonly machines: readonly ApiMachine[];
}

/**
 * For a describe block: two machines (iad, lax) on one fresh database, started before its tests and
 * closed after them. No workers, so reports stay REQUESTED: for tests about who may ask and what
 * gets appended, whichever machine is asked.
 */
export function useTwoApiMachines(kind: DatabaseKind, env: Record<string, string>): TwoApiMachines {
  let database: TestDatabase | undefined;
  const machines: ApiMachine[] = [];
  beforeAll(async () => {
    database = await openTestDatabase(kind);
    for (const region of ['iad', 'lax']) {
      const runtime = await startTestRuntime(kind, { FLY_REGION: region, ...env }, { database });
      machines.push({ runtime, http: await startHttpServer(runtime, 0, '127.0.0.1') });
    }
  });
  afterAll(async () => {
    for (const m of machines) {
      await m.http.close();
      await m.runtime.close();
    }
    await database?.close();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the machines start in beforeAll');
    return value;
  };
  return {
    get database() {
      return started(database);
    },
    get iad() {
      return started(machines[0]);
    },
    get lax() {
      return started(machines[1]);
    },
    machines,
  };
}
