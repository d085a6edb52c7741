import { spawn, type ChildProcess } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdirSync, rmSync, renameSync, mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startHttpServer, type HttpServer } from '../api/http-server.js';
import { loadConfig, type StorageMode } from '../config.js';
import type { DatabaseHandle } from '../database/connect.js';
import { createLogger, type Logger } from '../log.js';
import { Metrics } from '../metrics.js';
import { loadReportState } from '../reports/load-report.js';
import { RenderPool } from '../render/render-pool.js';
import { isUuid } from '../reports/uuid.js';
import { assembleRuntime, type Runtime } from '../runtime.js';
import { Volume } from '../storage/volume.js';
import { createWorkers, type Workers } from '../workers/start-workers.js';
import type { EdgeTarget } from './edge.js';

export const REGIONS = ['iad', 'lax', 'syd'] as const;

/** A Fly-like machine id for the `index`-th machine of a region: iad01, iad02, … */
export const machineIdOf = (region: string, index: number): string => `${region}${String(index + 1).padStart(2, '0')}`;

export type SimMode = 'legacy' | 'mirror' | 'object';

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createNetServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolvePort(port));
    });
  });
}

export interface ClusterOptions {
  mode: SimMode;
  /** The shared database (in-process instances use it directly; processes connect to `databaseUrl`). */
  database: DatabaseHandle;
  /** PostgreSQL URL of `database`: set → one `quire serve` process per machine. */
  databaseUrl?: string;
  /** Env for the object store: S3 variables or OBJECTS_DIR. */
  storeEnv: Record<string, string>;
  edgeUrl: string;
  authSecret: string;
  /** SEAL_SIGNING_KEY, the same for every region (seals are signed by whichever region seals). */
  sealSigningKey: string;
  /** Every machine decrypts every report's title and params: one key-encryption key. */
  dataEncryptionKey: string;
  workDir: string;
  renderConcurrency: number;
  /**
   * In-process machines share this render pool (warmed up before the run): a pool per machine would
   * spend the first seconds of every start loading pdfmake into threads that compete for the same CPUs.
   */
  pool?: RenderPool;
  log: Logger;
}

/**
 * One machine of a region: its own volume (REPORTS_DIR) and machine id, its quire instance (in
 * this process or a child), and in legacy mode the seed-style app. Killed and restarted, it comes
 * back on the same volume with the same id, as a Fly machine does.
 */
export class SimMachine implements EdgeTarget {
  port = 0;
  seedPort?: number;
  live = false;
  starts = 0;
  readonly reportsDir: string;
  readonly dataDir: string;
  #runtime?: Runtime;
  #http?: HttpServer;
  #workers?: Workers;
  #pool?: RenderPool;
  #child?: ChildProcess;
  #seed?: Server;

  constructor(
    readonly region: string,
    readonly machine: string,
    readonly options: ClusterOptions,
  ) {
    this.dataDir = join(options.workDir, options.mode, region, machine);
    this.reportsDir = join(this.dataDir, 'reports');
    mkdirSync(this.reportsDir, { recursive: true });
  }

  env(): Record<string, string> {
    const o = this.options;
    return {
      FLY_REGION: this.region,
      // What the edge's `fly-replay: instance=` names (Fly sets FLY_MACHINE_ID; MACHINE_ID elsewhere).
      MACHINE_ID: this.machine,
      PORT: String(this.port),
      HOST: '127.0.0.1',
      DATA_DIR: this.dataDir,
      REPORTS_DIR: this.reportsDir,
      AUTH_SECRET: o.authSecret,
      SEAL_SIGNING_KEY: o.sealSigningKey,
      DATA_ENCRYPTION_KEY: o.dataEncryptionKey,
      // On Fly every region answers at the app's one hostname: links are signed for the edge.
      PUBLIC_URL: o.edgeUrl,
      STORAGE_MODE: o.mode === 'legacy' ? 'volume' : (o.mode satisfies StorageMode),
      // The seed's behaviour: no replay, no region URLs.
      FLY_REPLAY: o.mode === 'legacy' ? 'false' : 'true',
      // Behind the edge, as behind Fly's proxy: the client is the one it names.
      CLIENT_IP_HEADER: 'fly-client-ip',
      LOG_LEVEL: process.env.SIM_LOG_LEVEL ?? 'silent',
      WORKER_POLL_MS: '100',
      SUBSCRIPTION_POLL_MS: '250',
      RETRY_BASE_MS: '250',
      MAX_ATTEMPTS: '12',
      LEASE_MS: '3000',
      REQUESTS_PER_MINUTE: '100000',
      RENDER_CONCURRENCY: String(o.renderConcurrency),
      ...(o.databaseUrl ? { DATABASE_URL: o.databaseUrl, DATABASE_POOL_MAX: '10' } : {}),
      ...o.storeEnv,
    };
  }

  async start(): Promise<void> {
    if (this.live) return;
    if (!this.port) this.port = await freePort();
    if (this.options.databaseUrl) await this.#spawn();
    else await this.#startInProcess();
    if (this.options.mode === 'legacy') await this.#startSeedApp();
    this.live = true;
    this.starts++;
  }

  async #startInProcess(): Promise<void> {
    const config = loadConfig(this.env());
    const runtime = assembleRuntime(config, this.options.log.child({ region: this.region, machine: this.machine }), this.options.database, new Metrics({ defaultMetrics: false }));
    this.#runtime = runtime;
    this.#pool = this.options.pool ?? new RenderPool({ size: this.options.renderConcurrency });
    this.#http = await startHttpServer(runtime, this.port, '127.0.0.1');
    this.#workers = createWorkers(runtime, { pool: this.#pool, owner: `sim-${this.machine}-${this.starts}` });
    this.#workers.start();
  }

  async #spawn(): Promise<void> {
    const child = spawn(process.execPath, [resolve('bin/quire.js'), 'serve'], {
      env: { ...process.env, ...this.env(), LOG_LEVEL: process.env.SIM_LOG_LEVEL ?? 'info', NODE_ENV: 'development' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    await new Promise<void>((ready, fail) => {
      const timer = setTimeout(() => fail(new Error(`${this.machine}: quire serve did not start in 60 s\n${stderr}`)), 60_000);
      let buffer = '';
      const onData = (d: Buffer) => {
        buffer += d.toString();
        if (buffer.includes('quire listening on')) {
          clearTimeout(timer);
          child.stdout!.off('data', onData);
          child.stdout!.resume();
          ready();
        }
        buffer = buffer.slice(-2000);
      };
      child.stdout!.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        fail(new Error(`${this.machine}: quire serve exited with ${code}\n${stderr}`));
      });
    });
  }

  /**
   * The seed's `download_report`, literally: look the report up, `os.path.exists(file_path)` on
   * THIS machine's volume, else 404 "Report file not found". It knows nothing of regions or machines.
   */
  async #startSeedApp(): Promise<void> {
    const db = this.options.database.db;
    const volume = new Volume(this.reportsDir);
    const server = createHttpServer((req, res) => {
      const id = /^\/seed\/reports\/([^/]+)\/download$/.exec(req.url ?? '')?.[1] ?? '';
      (async () => {
        const state = isUuid(id) ? await loadReportState(db, id) : null;
        const filePath = state?.locations.find((l) => l.kind === 'volume')?.key;
        if (!state || !filePath) {
          res.writeHead(404, { 'content-type': 'application/json' });
          return void res.end(JSON.stringify({ detail: 'Report not found' }));
        }
        const path = volume.pathOf(filePath);
        const exists = await stat(path).then(
          (s) => s.isFile(),
          () => false,
        );
        if (!exists) {
          res.writeHead(404, { 'content-type': 'application/json' });
          return void res.end(JSON.stringify({ detail: 'Report file not found' }));
        }
        res.writeHead(200, { 'content-type': 'application/pdf' });
        createReadStream(path).pipe(res);
      })().catch((err) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ detail: String(err) }));
      });
    });
    if (!this.seedPort) this.seedPort = await freePort();
    await new Promise<void>((r) => server.listen(this.seedPort, '127.0.0.1', r));
    this.#seed = server;
  }

  /** Kills the machine: its instance (a SIGKILL for a process) and its seed app. Its volume stays. */
  async kill(): Promise<void> {
    if (!this.live) return;
    this.live = false;
    if (this.#seed) {
      const seed = this.#seed;
      this.#seed = undefined;
      const closed = new Promise<void>((r) => seed.close(() => r()));
      seed.closeAllConnections();
      await closed;
    }
    if (this.#child) {
      const child = this.#child;
      this.#child = undefined;
      const exited = new Promise<void>((r) => (child.exitCode !== null ? r() : child.once('exit', () => r())));
      child.kill('SIGKILL');
      await exited;
      return;
    }
    const http = this.#http!;
    const closed = http.close();
    // Open SSE streams and keep-alive sockets die with the instance.
    http.server.closeAllConnections();
    await closed;
    await this.#workers!.stop(0);
    if (this.#pool !== this.options.pool) await this.#pool!.close();
    this.#http = undefined;
    this.#workers = undefined;
    this.#runtime = undefined;
  }

  /** A graceful stop at the end of the run (a SIGTERM for a process). */
  async stop(): Promise<void> {
    if (this.#child && this.live) {
      const child = this.#child;
      const exited = new Promise<void>((r) => (child.exitCode !== null ? r() : child.once('exit', () => r())));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      this.#child = undefined;
    }
    await this.kill();
  }
}

export interface ObjectStoreFaults {
  down(): Promise<void>;
  up(): Promise<void>;
}

/** The disk object store's outage: its directory becomes a file (every access fails), and back. */
export function diskStoreFaults(dir: string): ObjectStoreFaults {
  const aside = `${dir}.aside`;
  return {
    async down() {
      if (existsSync(aside)) return;
      renameSync(dir, aside);
      writeFileSync(dir, 'the object store is down');
    },
    async up() {
      if (!existsSync(aside)) return;
      rmSync(dir, { force: true });
      renameSync(aside, dir);
    },
  };
}

export function tempWorkDir(): string {
  return mkdtempSync(join(tmpdir(), 'quire-sim-'));
}

export const simLog = (level = process.env.SIM_LOG_LEVEL ?? 'silent'): Logger => createLogger(level);
