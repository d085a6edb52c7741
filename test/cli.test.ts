import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { deriveKey } from '../src/auth/secret.js';
import { UserTokens } from '../src/auth/user-tokens.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { requestReport } from '../src/reports/request-report.js';
import { startRuntime } from '../src/runtime.js';
import { closedWith, gqlWs } from './graphql/client.js';
import { waitFor } from './support/collect.js';
import { freePort } from './support/instances.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function newDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'quire-cli-'));
  dirs.push(dir);
  return dir;
}

function run(args: string[], env: Record<string, string>, dataDir = newDataDir()) {
  // No DATABASE_URL: the embedded default, as on a fresh machine.
  const { DATABASE_URL: _, ...rest } = process.env;
  const child = spawn(process.execPath, ['bin/quire.js', ...args], {
    env: { ...rest, DATA_DIR: dataDir, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, output: () => output };
}

describe('quire CLI', () => {
  it('serve migrates the embedded database, answers /healthz and stops cleanly on SIGTERM', async () => {
    const port = 40_000 + Math.floor(Math.random() * 20_000);
    const proc = run(['serve'], { PORT: String(port), HOST: '127.0.0.1', FLY_REGION: 'lax' });
    await waitFor(() => proc.output().includes('quire listening'), 120_000, 'the server to listen');
    expect(proc.output()).toContain('0002_events_append_only');
    // One JSON key once: the logger's base already carries the region.
    const listening = proc.output().split('\n').find((l) => l.includes('quire listening'))!;
    expect(listening.match(/"region":/g)).toHaveLength(1);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', region: 'lax' });
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(await ready.json()).toEqual({ status: 'ready', database: 'pglite', objectStore: { kind: 'disk', bucket: expect.any(String), state: 'up' } });
    expect((await fetch(`http://127.0.0.1:${port}/nope`)).status).toBe(404);
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
  }, 180_000);

  it('serve on SIGTERM: WebSockets closed with 1012 (a code clients retry), metrics on their own port, exit 0', async () => {
    const [port, metricsPort] = [await freePort(), await freePort()];
    const secret = 'cli-test-secret-cli-test-secret-0123456789';
    const proc = run(['serve'], { PORT: String(port), HOST: '127.0.0.1', AUTH_SECRET: secret, METRICS_PORT: String(metricsPort), SHUTDOWN_DRAIN_MS: '500' });
    await waitFor(() => proc.output().includes('quire listening'), 120_000, 'the server to listen');
    // Metrics: no token on the internal port; nothing on the public one.
    const metrics = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/^process_cpu_user_seconds_total /m);
    expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(404);

    const token = await new UserTokens({ key: deriveKey(secret, 'user-token') }).sign({ id: 'alice', role: 'user' }, 600);
    const client = gqlWs(`http://127.0.0.1:${port}`, token);
    await new Promise<void>((resolve) => client.on('connected', () => resolve()));
    const closed = closedWith(client, 20_000);
    proc.child.kill('SIGTERM');
    expect(await closed).toMatchObject({ code: 1012 });
    expect(await proc.exited).toBe(0);
    expect(proc.output()).toMatch(/"msg":"shut down"/);
    await client.dispose();
  }, 180_000);

  it('refuses to start without AUTH_SECRET in production or on Fly', async () => {
    for (const env of [{ NODE_ENV: 'production' }, { FLY_APP_NAME: 'quire' }] as Array<Record<string, string>>) {
      const proc = run(['serve'], { ...env, AUTH_SECRET: '' });
      expect(await proc.exited).toBe(2);
      expect(proc.output()).toMatch(/AUTH_SECRET: required when NODE_ENV=production or on Fly \(FLY_APP_NAME is set\)/);
    }
  }, 150_000);

  it('db migrate is idempotent', async () => {
    const dataDir = newDataDir();
    const first = run(['db', 'migrate'], {}, dataDir);
    expect(await first.exited).toBe(0);
    expect(first.output()).toMatch(/0001_events success/);
    const second = run(['db', 'migrate'], {}, dataDir);
    expect(await second.exited).toBe(0);
    expect(second.output()).toMatch(/already at the latest migration/);
  });

  it('refuses an invalid configuration with a clear message', async () => {
    const proc = run(['serve'], { PORT: 'eighty', FLY_REGION: 'Not A Region' });
    expect(await proc.exited).toBe(2);
    expect(proc.output()).toMatch(/PORT: .*number/);
    expect(proc.output()).toMatch(/FLY_REGION: a region is lower-case letters/);
  });

  it('volumes forget refuses this machine’s own volume and machines never seen, with clear messages and exit 2', async () => {
    const dataDir = newDataDir();
    const own = run(['volumes', 'forget', 'box-1'], { MACHINE_ID: 'box-1' }, dataDir);
    expect(await own.exited).toBe(2);
    expect(own.output()).toMatch(/box-1 is this machine: its volume is here; pass force/);
    const unknown = run(['volumes', 'forget', 'box-9', '--reason', 'typo'], { MACHINE_ID: 'box-1' }, dataDir);
    expect(await unknown.exited).toBe(2);
    expect(unknown.output()).toMatch(/no copy was ever recorded on the volume of machine box-9/);
  });

  it('token prints a jti; token revoke --jti / --subject revokes it for the deployment; bad use exits 2', async () => {
    const dataDir = newDataDir();
    const env = { LOG_LEVEL: 'silent' };
    const signed = run(['token', '--sub', 'alice', '--ttl', '600'], env, dataDir);
    expect(await signed.exited).toBe(0);
    const token = /^(\S+\.\S+\.\S+)$/m.exec(signed.output())![1]!;
    const jti = /^jti (\S+)$/m.exec(signed.output())![1]!;
    const other = run(['token', '--sub', 'bob', '--ttl', '600'], env, dataDir);
    expect(await other.exited).toBe(0);
    const bobs = /^(\S+\.\S+\.\S+)$/m.exec(other.output())![1]!;
    const partner = run(['token', '--sub', 'partner', '--ttl', '600', '--arbitrary-documents'], env, dataDir);
    expect(await partner.exited).toBe(0);
    const claims = (t: string) => JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
    expect(claims(/^(\S+\.\S+\.\S+)$/m.exec(partner.output())![1]!)).toMatchObject({ sub: 'partner', arbitrary_documents: true });
    expect(claims(token).arbitrary_documents).toBeUndefined();

    for (const args of [['token', 'revoke'], ['token', 'revoke', '--jti', 'a', '--subject', 'b'], ['token']]) {
      const bad = run(args, env, dataDir);
      expect(await bad.exited, args.join(' ')).toBe(2);
      expect(bad.output()).toContain('usage: quire token');
    }
    const byJti = run(['token', 'revoke', '--jti', jti], env, dataDir);
    expect(await byJti.exited).toBe(0);
    expect(byJti.output()).toContain(`revoked: the token ${jti}`);
    const bySubject = run(['token', 'revoke', '--subject', 'bob'], env, dataDir);
    expect(await bySubject.exited).toBe(0);
    expect(bySubject.output()).toContain('revoked: every token of bob issued up to');

    // The deployment (same DATA_DIR: same database and secret) refuses both.
    const runtime = await startRuntime(loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent' }), createLogger('silent'));
    try {
      for (const t of [token, bobs]) await expect(runtime.userTokens.verify(t)).rejects.toThrow('the bearer token has been revoked');
      const fresh = await runtime.userTokens.sign({ id: 'alice', role: 'user' }, 600);
      await expect(runtime.userTokens.verify(fresh)).resolves.toMatchObject({ actor: { id: 'alice', role: 'user' } });
    } finally {
      await runtime.close();
    }
  }, 300_000);

  it('reports delete: an operator deletes a report (GONE at once, recorded as cli:reports); twice, or an unknown id, exits 2', async () => {
    const dataDir = newDataDir();
    const env = { LOG_LEVEL: 'silent' };
    const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent' });
    let runtime = await startRuntime(config, createLogger('silent'));
    let reportId: string;
    try {
      ({ reportId } = await requestReport(runtime.store, { template: 'table', title: 'To go', params: { columns: [{ label: 'A', key: 'a' }], rows: [] } }, { id: 'alice', role: 'user' }));
    } finally {
      await runtime.close();
    }
    const deleted = run(['reports', 'delete', reportId, '--reason', 'asked by support'], env, dataDir);
    expect(await deleted.exited).toBe(0);
    expect(deleted.output()).toContain(`deleted: ${reportId}`);
    const twice = run(['reports', 'delete', reportId], env, dataDir);
    expect(await twice.exited).toBe(2);
    expect(twice.output()).toMatch(/is gone \(DELETED\)/);
    const unknown = run(['reports', 'delete', '00000000-0000-4000-8000-000000000000'], env, dataDir);
    expect(await unknown.exited).toBe(2);
    expect(unknown.output()).toMatch(/not found/);

    runtime = await startRuntime(config, createLogger('silent'));
    try {
      const events = await runtime.store.readStream(`report-${reportId}`);
      expect(events.map((e) => [e.type, e.metadata.actor])).toEqual([
        ['ReportRequested', 'alice'],
        ['ReportDeleted', 'cli:reports'],
      ]);
      expect(events[1]!.data).toEqual({ by: 'cli:reports', reason: 'asked by support' });
    } finally {
      await runtime.close();
    }
  }, 300_000);
});
