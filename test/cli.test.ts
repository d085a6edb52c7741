import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from './support/collect.js';

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
    await waitFor(() => proc.output().includes('quire listening'), 45_000, 'the server to listen');
    expect(proc.output()).toContain('0002_events_append_only');
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', region: 'lax' });
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(await ready.json()).toEqual({ status: 'ready', database: 'pglite' });
    expect((await fetch(`http://127.0.0.1:${port}/nope`)).status).toBe(404);
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
  });

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
});
