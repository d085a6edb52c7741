/**
 * `npm start` as a user (or a process manager) runs it, stopped by a signal to npm itself: npm
 * forwards SIGTERM and SIGINT to its child only, so the child must be quire (the script `exec`s it)
 * rather than a shell that drops the signal and leaves quire running. Linux: processes are found
 * through /proc.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from './support/collect.js';
import { freePort } from './support/instances.js';

const dataDir = mkdtempSync(join(tmpdir(), 'quire-npm-start-'));
/** Every process a test started (npm's process groups, quire servers): none outlives the file, even when a test failed. */
const groups: number[] = [];
const servers: number[] = [];
afterAll(() => {
  for (const pid of servers) if (alive(pid)) process.kill(pid, 'SIGKILL');
  for (const pgid of groups) if (alive(pgid)) process.kill(-pgid, 'SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

/** Every live descendant of `pid`, with its command line. */
function descendants(pid: number): { pid: number; cmdline: string }[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The command name is in parentheses and may hold spaces: the parent id is the second field after it.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // Gone meanwhile.
    }
  }
  const found: { pid: number; cmdline: string }[] = [];
  const walk = (parent: number) => {
    for (const [child, ppid] of parents) {
      if (ppid !== parent) continue;
      let cmdline = '';
      try {
        cmdline = readFileSync(`/proc/${child}/cmdline`, 'utf8').replaceAll('\0', ' ');
      } catch {
        continue;
      }
      found.push({ pid: child, cmdline });
      walk(child);
    }
  };
  walk(pid);
  return found;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** `npm start` in its own process group (as a terminal's job is), until quire listens; then its server's pid. */
async function npmStart(port: number) {
  const { DATABASE_URL: _, ...env } = process.env;
  const npm = spawn('npm', ['start'], {
    env: { ...env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, REPORTS_DIR: join(dataDir, 'reports'), npm_config_update_notifier: 'false' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  groups.push(npm.pid!);
  let out = '';
  npm.stdout.on('data', (d) => (out += d));
  npm.stderr.on('data', (d) => (out += d));
  // 'close', not 'exit': the last lines ("shut down") may still be in the pipe when npm exits.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => npm.on('close', (code, signal) => r({ code, signal })));
  const early = await Promise.race([waitFor(() => out.includes('quire listening'), 100_000, 'quire to listen').then(() => undefined), exited]);
  expect(early, `npm start ended before quire listened:\n${out}`).toBeUndefined();
  // The node process itself, not a shell whose command line names it.
  const server = descendants(npm.pid!).find((p) => /^(\S*\/)?node bin\/quire\.js serve/.test(p.cmdline));
  expect(server, `no quire process under npm:\n${JSON.stringify(descendants(npm.pid!))}`).toBeDefined();
  servers.push(server!.pid);
  return { npm, server: server!.pid, exited, out: () => out };
}

/** The server is gone and its port free (within the drain's bound), whatever happened to npm. */
async function expectStopped(started: Awaited<ReturnType<typeof npmStart>>, port: number): Promise<void> {
  await waitFor(() => !alive(started.server), 30_000, `quire (pid ${started.server}) to exit`);
  await waitFor(() => portFree(port), 5_000, `port ${port} to be free`);
  await started.exited;
}

describe.runIf(existsSync('/proc/self/stat'))('npm start stopped by a signal to npm', () => {
  it('SIGTERM to npm: quire drains and exits 0, then npm exits 0; the port is free', async () => {
    const port = await freePort();
    const started = await npmStart(port);
    // The server is npm's own child: no shell in between to swallow the signal.
    expect(descendants(started.npm.pid!)[0]!.pid).toBe(started.server);
    started.npm.kill('SIGTERM');
    await expectStopped(started, port);
    expect(await started.exited).toEqual({ code: 0, signal: null });
    expect(started.out()).toContain('"signal":"SIGTERM"');
    expect(started.out()).toMatch(/"msg":"shut down"/);
  }, 180_000);

  it('Ctrl-C (SIGINT to the whole process group: quire may get it twice, from the terminal and from npm): one clean drain', async () => {
    const port = await freePort();
    const started = await npmStart(port);
    process.kill(-started.npm.pid!, 'SIGINT');
    await expectStopped(started, port);
    expect(started.out()).toMatch(/"msg":"shut down"/);
    expect(started.out().match(/"msg":"shutting down"/g)).toHaveLength(1);
  }, 180_000);
});
