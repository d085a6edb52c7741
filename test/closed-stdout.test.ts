/**
 * `quire serve | head -1`, or a log shipper that dies: stdout's reader goes away after the first
 * line. quire must go on serving without logs and still stop on SIGTERM (it used to hang in the
 * log destination's flush, deaf to the signal).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from './support/collect.js';
import { freePort } from './support/instances.js';

const dataDir = mkdtempSync(join(tmpdir(), 'quire-closed-stdout-'));
const started: number[] = [];
afterAll(() => {
  for (const pid of started) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  rmSync(dataDir, { recursive: true, force: true });
});

async function healthy(port: number): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(5_000) })).status === 200;
  } catch {
    return false;
  }
}

describe('quire serve whose stdout reader goes away', () => {
  it('keeps answering after the reader closed on the first line, and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    // No DATABASE_URL: the embedded database; not production, so the dev banner is printed too.
    const { DATABASE_URL: _, ...env } = process.env;
    const child = spawn(process.execPath, ['bin/quire.js', 'serve'], {
      env: { ...env, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    started.push(child.pid!);
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));

    // The reader: one line, then its end of the pipe is closed (as `head -1` does).
    let first = '';
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        first += d;
        if (first.includes('\n')) {
          child.stdout.destroy();
          resolve();
        }
      });
    });
    expect(first).toMatch(/^\{"level":/);

    const early = await Promise.race([waitFor(() => healthy(port), 120_000, 'quire to answer /healthz').then(() => undefined), exited]);
    expect(early, `quire ended instead of serving:\n${stderr}`).toBeUndefined();
    // Every request logs a line into the closed pipe; it still answers each.
    for (let i = 0; i < 20; i++) expect(await healthy(port)).toBe(true);

    child.kill('SIGTERM');
    expect(await exited, stderr).toEqual({ code: 0, signal: null });
  }, 180_000);
});
