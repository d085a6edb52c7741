/**
 * The start-up mistakes a newcomer makes, each run as `quire serve` would be: one or two lines that
 * name the variable and what to do, no stack trace, and an exit code of its own (README "Exit codes").
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EXIT, explainStartupFailure } from '../src/startup-errors.js';
import { waitFor } from './support/collect.js';
import { freePort } from './support/instances.js';

const dirs: string[] = [];
const servers: Server[] = [];
afterAll(async () => {
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

function serve(env: Record<string, string>) {
  const dataDir = mkdtempSync(join(tmpdir(), 'quire-startup-'));
  dirs.push(dataDir);
  const { DATABASE_URL: _, ...rest } = process.env;
  const child = spawn(process.execPath, ['bin/quire.js', 'serve'], {
    env: { ...rest, DATA_DIR: dataDir, HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, stdout: () => stdout, stderr: () => stderr };
}

/** Runs to the end; the message must be short, plain and free of a stack trace. */
async function failure(env: Record<string, string>): Promise<{ code: number | null; message: string }> {
  const proc = serve(env);
  const code = await proc.exited;
  const message = proc.stderr().trim();
  expect(message.split('\n').length, message).toBeLessThanOrEqual(3);
  expect(message).not.toMatch(/^\s+at /m);
  return { code, message };
}

/** The environment of an S3 object store (bucket "reports") on a loopback port. */
const s3StoreAt = (port: number) => ({
  AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${port}`,
  BUCKET_NAME: 'reports',
  AWS_ACCESS_KEY_ID: 'key',
  AWS_SECRET_ACCESS_KEY: 'secret',
  S3_FORCE_PATH_STYLE: 'true',
});

async function occupy(): Promise<number> {
  const port = await freePort();
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  servers.push(server);
  return port;
}

describe('start-up failures', () => {
  it('PORT in use: names the port and the variable, exit 6, before touching the database', async () => {
    const port = await occupy();
    const { code, message } = await failure({ PORT: String(port) });
    expect(code).toBe(EXIT.portUnavailable);
    expect(message).toBe(`PORT: another process listens on ${port}. Stop it, or set PORT to a free port (e.g. PORT=${port + 1}).`);
  });

  it('METRICS_PORT in use is told apart from PORT', async () => {
    const [port, metricsPort] = [await freePort(), await occupy()];
    const { code, message } = await failure({ PORT: String(port), METRICS_PORT: String(metricsPort) });
    expect(code).toBe(EXIT.portUnavailable);
    expect(message).toMatch(new RegExp(`^METRICS_PORT: another process listens on ${metricsPort}\\.`));
  });

  it('DATABASE_URL naming a server that is down: exit 3, says to start it or unset the variable', async () => {
    const port = await freePort();
    const { code, message } = await failure({ PORT: String(await freePort()), DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/quire` });
    expect(code).toBe(EXIT.databaseUnreachable);
    expect(message).toContain(`DATABASE_URL: no PostgreSQL server answers at 127.0.0.1:${port} (ECONNREFUSED)`);
    expect(message).toContain('unset DATABASE_URL to use the embedded database');
  });

  if (process.env.DATABASE_URL) {
    it('DATABASE_URL naming a database that does not exist: exit 4 and the createdb line', async () => {
      const url = new URL(process.env.DATABASE_URL!);
      const name = `quire_missing_${process.pid}`;
      url.pathname = `/${name}`;
      const { code, message } = await failure({ PORT: String(await freePort()), DATABASE_URL: url.toString() });
      expect(code).toBe(EXIT.databaseMissing);
      expect(message).toContain(`has no database "${name}"`);
      expect(message).toContain(`createdb -h ${url.hostname} -p ${url.port || '5432'} -U ${url.username || 'postgres'} ${name}`);
    });
  }

  it('a partial object-store configuration is refused, naming what is missing (exit 2), not silently the disk store', async () => {
    const { code, message } = await failure({ PORT: String(await freePort()), AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9', BUCKET_NAME: 'reports' });
    expect(code).toBe(EXIT.config);
    expect(message).toContain('object store: AWS_ENDPOINT_URL_S3, BUCKET_NAME are set but AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY are missing');
  });

  it('a bad value still names its variable (exit 2)', async () => {
    const { code, message } = await failure({ PORT: 'eighty' });
    expect(code).toBe(EXIT.config);
    expect(message).toMatch(/^invalid configuration:\n\s+PORT: /);
  });

  it('an object store that does not answer: quire starts anyway, says so, and /readyz shows it without failing', async () => {
    const port = await freePort();
    const deadStore = await freePort();
    const proc = serve({ PORT: String(port), ...s3StoreAt(deadStore), WORKERS_ENABLED: 'false' });
    try {
      await waitFor(() => proc.stderr().includes('object store:'), 90_000, 'the object-store warning');
      expect(proc.stderr()).toContain(`object store: http://127.0.0.1:${deadStore} bucket "reports" does not answer`);
      expect(proc.stderr()).toContain('quire serves on');
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(ready.status).toBe(200);
      const body = (await ready.json()) as { status: string; objectStore: { kind: string; state: string } };
      expect(body.status).toBe('ready');
      expect(body.objectStore).toMatchObject({ kind: 's3', bucket: 'reports', state: 'unreachable' });
    } finally {
      proc.child.kill('SIGTERM');
      expect(await proc.exited).toBe(0);
    }
  });

  it('a SIGTERM as soon as quire says it listens is drained, even while the object-store probe still waits', async () => {
    const port = await freePort();
    // Accepts connections and never answers: the start-up probe waits its full timeout (3 s).
    const silentStore = await occupy();
    const proc = serve({ PORT: String(port), ...s3StoreAt(silentStore), WORKERS_ENABLED: 'false', LOG_LEVEL: 'info' });
    await waitFor(() => proc.stdout().includes('quire listening on'), 90_000, 'quire to say it listens');
    proc.child.kill('SIGTERM');
    // Exit code 0 from the drain (a process killed by the signal has none).
    expect(await proc.exited).toBe(0);
    expect(proc.stdout()).toContain('"signal":"SIGTERM"');
    expect(proc.stdout()).toMatch(/"msg":"shut down"/);
  });

  it('explains refused credentials (exit 5) and leaves unknown errors alone', () => {
    const refused = Object.assign(new Error('password authentication failed for user "app"'), { code: '28P01' });
    expect(explainStartupFailure(refused, { databaseUrl: 'postgres://app:pw@db.internal:6543/quire' })).toEqual({
      exitCode: EXIT.databaseAuth,
      message: 'DATABASE_URL: the server at db.internal:6543 refused user "app" (wrong password). Fix the user or password in DATABASE_URL.',
    });
    expect(explainStartupFailure(new Error('boom'), { databaseUrl: 'postgres://x@y/z' })).toBeUndefined();
    // Node's "happy eyeballs" wraps connection errors in an AggregateError: its code is found inside.
    const aggregate = new AggregateError([Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })]);
    expect(explainStartupFailure(aggregate, { databaseUrl: 'postgres://x@localhost/z' })?.exitCode).toBe(EXIT.databaseUnreachable);
    // The password never appears in a message.
    expect(explainStartupFailure(refused, { databaseUrl: 'postgres://app:s3cret@db/quire' })!.message).not.toContain('s3cret');
  });
});
