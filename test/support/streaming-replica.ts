import { execFile, execFileSync } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

/**
 * A PostgreSQL primary and a hot standby streaming from it, started for the tests in temp dirs on
 * free ports: the system cluster (5432) is never touched. The servers run as the `postgres` OS
 * user (PostgreSQL refuses to run as root), trust auth on 127.0.0.1 only.
 */
export interface StreamingReplica {
  /** postgres://postgres@127.0.0.1:<port>/quire on the primary. */
  readonly primaryUrl: string;
  /** The same database on the standby (read only, replaying the primary's WAL). */
  readonly standbyUrl: string;
  /** pg_wal_replay_pause() / pg_wal_replay_resume() on the standby: make it lag on purpose. */
  pauseReplay(): Promise<void>;
  resumeReplay(): Promise<void>;
  /** Resolves once the standby has replayed everything the primary has written so far. */
  caughtUp(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** The newest /usr/lib/postgresql/<version>/bin that has the server binaries, or undefined. */
export function findPostgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const bin = join(root, v, 'bin');
    if (['initdb', 'pg_ctl', 'pg_basebackup', 'postgres'].every((b) => existsSync(join(bin, b)))) return bin;
  }
  return undefined;
}

/**
 * Why the replica tests cannot run here, or undefined when they can. Under QUIRE_REQUIRE_REPLICA
 * (CI) the caller fails instead of skipping.
 */
export function replicaUnavailableReason(): string | undefined {
  if (!findPostgresBin()) return 'PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup) not found under /usr/lib/postgresql/<version>/bin';
  if (process.getuid?.() === 0 && !userExists('postgres')) return 'running as root and there is no `postgres` OS user to run the servers as';
  return undefined;
}

function userExists(name: string): boolean {
  try {
    return readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .some((line) => line.split(':')[0] === name);
  } catch {
    return false;
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function query<T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

export async function startStreamingReplica(): Promise<StreamingReplica> {
  const bin = findPostgresBin();
  if (!bin) throw new Error(replicaUnavailableReason());
  const asRoot = process.getuid?.() === 0;
  // As root: run every server binary as `postgres`; the dirs it writes must be its own.
  const pgRun = (cmd: string, args: string[]) =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]) : run(join(bin, cmd), args);
  const root = mkdtempSync(join(tmpdir(), 'quire-replica-'));
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    chownSync(root, Number(stdout.trim()), Number(gid.trim()));
  }
  const primaryDir = join(root, 'primary');
  const standbyDir = join(root, 'standby');
  const started: string[] = [];

  // A test process that dies without its afterAll must not leave servers behind.
  const stopOnExit = () => {
    for (const dir of [...started].reverse()) {
      try {
        const args = ['stop', '-D', dir, '-m', 'immediate', '-w', '-t', '30'];
        if (asRoot) execFileSync('runuser', ['-u', 'postgres', '--', join(bin, 'pg_ctl'), ...args], { stdio: 'ignore' });
        else execFileSync(join(bin, 'pg_ctl'), args, { stdio: 'ignore' });
      } catch {
        // already stopped
      }
    }
    rmSync(root, { recursive: true, force: true });
  };
  process.once('exit', stopOnExit);

  const stopAll = async () => {
    process.off('exit', stopOnExit);
    // Standby first (it would otherwise retry the primary), immediate: nothing here needs a clean shutdown.
    for (const dir of [...started].reverse()) {
      await pgRun('pg_ctl', ['stop', '-D', dir, '-m', 'immediate', '-w', '-t', '30']).catch(() => {});
    }
    started.length = 0;
    rmSync(root, { recursive: true, force: true });
  };

  try {
    const primaryPort = await freePort();
    await pgRun('initdb', ['-D', primaryDir, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
    appendFileSync(
      join(primaryDir, 'postgresql.conf'),
      [
        '',
        `port = ${primaryPort}`,
        "listen_addresses = '127.0.0.1'",
        "unix_socket_directories = ''",
        'wal_level = replica',
        'max_wal_senders = 4',
        'hot_standby = on',
        'fsync = off',
        'synchronous_commit = on',
        'shared_buffers = 16MB',
        'max_connections = 60',
        "log_min_messages = 'warning'",
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(primaryDir, 'pg_hba.conf'),
      ['host all all 127.0.0.1/32 trust', 'host replication all 127.0.0.1/32 trust', ''].join('\n'),
    );
    await pgRun('pg_ctl', ['start', '-D', primaryDir, '-l', join(primaryDir, 'server.log'), '-w', '-t', '60']);
    started.push(primaryDir);
    const admin = `postgres://postgres@127.0.0.1:${primaryPort}/postgres`;
    await query(admin, 'CREATE DATABASE quire');

    const standbyPort = await freePort();
    // -R writes standby.signal and primary_conninfo; -X stream copies the WAL needed to start.
    await pgRun('pg_basebackup', ['-D', standbyDir, '-h', '127.0.0.1', '-p', String(primaryPort), '-U', 'postgres', '-R', '-X', 'stream', '-c', 'fast', '--no-sync']);
    appendFileSync(join(standbyDir, 'postgresql.conf'), `\nport = ${standbyPort}\nhot_standby = on\n`);
    await pgRun('pg_ctl', ['start', '-D', standbyDir, '-l', join(standbyDir, 'server.log'), '-w', '-t', '60']);
    started.push(standbyDir);

    const primaryUrl = `postgres://postgres@127.0.0.1:${primaryPort}/quire`;
    const standbyUrl = `postgres://postgres@127.0.0.1:${standbyPort}/quire`;
    await waitUntil(
      'the standby to accept read-only connections',
      async () => (await query<{ r: boolean }>(standbyUrl, 'SELECT pg_is_in_recovery() AS r'))[0]!.r,
      60_000,
    );

    const replica: StreamingReplica = {
      primaryUrl,
      standbyUrl,
      async pauseReplay() {
        await query(standbyUrl, 'SELECT pg_wal_replay_pause()');
        await waitUntil('replay to pause', async () => (await query<{ s: string }>(standbyUrl, 'SELECT pg_get_wal_replay_pause_state() AS s'))[0]!.s === 'paused', 30_000);
      },
      async resumeReplay() {
        await query(standbyUrl, 'SELECT pg_wal_replay_resume()');
      },
      async caughtUp(timeoutMs = 30_000) {
        const [{ lsn }] = (await query<{ lsn: string }>(primaryUrl, 'SELECT pg_current_wal_lsn()::text AS lsn')) as [{ lsn: string }];
        await waitUntil(
          `the standby to replay up to ${lsn}`,
          async () => (await query<{ ok: boolean }>(standbyUrl, `SELECT pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn AS ok`))[0]!.ok,
          timeoutMs,
        );
      },
      stop: stopAll,
    };
    return replica;
  } catch (err) {
    await stopAll();
    throw err;
  }
}
