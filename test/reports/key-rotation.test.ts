/**
 * DATA_ENCRYPTION_KEY rotation (`quire keys rotate`), as an operator runs it: bin/quire.js in a
 * child process against the same database, killed half-way, run again; the service reads every
 * report throughout and, after it, with the new key alone.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { eraseReport } from '../../src/reports/erase-report.js';
import { ERASED, keyEncryptionKey } from '../../src/reports/personal-data.js';
import { reportStreamId } from '../../src/reports/report-state.js';
import { requestReport } from '../../src/reports/request-report.js';
import { startRuntime, type Runtime } from '../../src/runtime.js';
import { backends, openTestDatabase, type TestDatabase } from '../support/databases.js';
import { countEventsByType, TEST_SEAL_SIGNING_KEY } from '../support/runtime.js';

const OLD = 'rotation-test-old-key-encryption-key-0123456789';
const NEW = 'rotation-test-new-key-encryption-key-9876543210';
const alice = { id: 'alice', role: 'user' } as const;
const admin = { id: 'root', role: 'admin' } as const;
const params = { columns: [{ label: 'A', key: 'a' }], rows: [{ a: 1 }] };
const REPORTS = 21;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** `quire keys rotate …` in a child process; `killAfterFirstBatch`: SIGKILL as soon as it reports its first committed batch. */
function rotate(args: string[], env: Record<string, string>, killAfterFirstBatch = false): Promise<Run> {
  const { DATABASE_URL: _, ...rest } = process.env;
  const child = spawn(process.execPath, ['bin/quire.js', 'keys', 'rotate', ...args], { env: { ...rest, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let [stdout, stderr] = ['', ''];
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => {
    stderr += d;
    if (killAfterFirstBatch && stderr.includes('re-wrapped')) child.kill('SIGKILL');
  });
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

describe.each(backends)('quire keys rotate on %s', (kind) => {
  let dataDir: string;
  let database: TestDatabase | undefined;
  let base: Record<string, string>;
  /** Report id → its title; the erased one's is ERASED. */
  const titles = new Map<string, string>();
  let erasedId = '';
  let eventsBefore: Record<string, number> = {};

  const oldOnly = () => ({ ...base, DATA_ENCRYPTION_KEY: OLD });
  const rolling = () => ({ ...base, DATA_ENCRYPTION_KEY: NEW, DATA_ENCRYPTION_KEY_PREVIOUS: OLD });
  const newOnly = () => ({ ...base, DATA_ENCRYPTION_KEY: NEW });

  /** The service's own wiring on the same DATA_DIR / DATABASE_URL; closed before the CLI runs (PGlite is single-process). */
  async function withRuntime<T>(env: Record<string, string>, fn: (runtime: Runtime) => Promise<T>): Promise<T> {
    const runtime = await startRuntime(loadConfig(env));
    try {
      return await fn(runtime);
    } finally {
      await runtime.close();
    }
  }

  /** Every report's title as the service decrypts it from the log (throws when a key does not open). */
  async function decryptedTitles(runtime: Runtime): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const reportId of titles.keys()) {
      const [requested] = await runtime.store.reveal(await runtime.store.readStream(reportStreamId(reportId)));
      out.set(reportId, (requested!.data as { title: string }).title);
    }
    return out;
  }

  async function keysByKek(runtime: Runtime): Promise<Record<string, number>> {
    const rows = await runtime.store.db.selectFrom('report_data_keys').select((eb) => ['kek_id', eb.fn.countAll<string>().as('n')]).groupBy('kek_id').execute();
    return Object.fromEntries(rows.map((r) => [r.kek_id, Number(r.n)]));
  }

  const oldId = keyEncryptionKey(OLD).id;
  const newId = keyEncryptionKey(NEW).id;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'quire-key-rotation-'));
    if (kind === 'postgres') database = await openTestDatabase('postgres', { poolMax: 2 });
    base = { DATA_DIR: dataDir, FLY_REGION: 'iad', LOG_LEVEL: 'silent', SEAL_SIGNING_KEY: TEST_SEAL_SIGNING_KEY, ...(database?.url ? { DATABASE_URL: database.url } : {}) };
    await withRuntime(oldOnly(), async (runtime) => {
      for (let i = 0; i < REPORTS; i++) {
        const title = `Rotated report ${i}`;
        titles.set((await requestReport(runtime.store, { template: 'table', title, params }, alice)).reportId, title);
      }
      erasedId = [...titles.keys()][0]!;
      await eraseReport(runtime.store, erasedId, 'erasure request 1', admin);
      titles.set(erasedId, ERASED);
    });
    // Mid-deploy: an instance with the new key (the old one still readable) requests a report: wrapped with the new key.
    await withRuntime(rolling(), async (runtime) => {
      const title = 'Requested during the deploy';
      titles.set((await requestReport(runtime.store, { template: 'table', title, params }, alice)).reportId, title);
      expect(await keysByKek(runtime)).toEqual({ [oldId]: REPORTS - 1, [newId]: 1 });
      eventsBefore = await countEventsByType(runtime);
    });
  }, 120_000);

  afterAll(async () => {
    await database?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('during the deploy, before any rotation: an instance with both keys reads every report; one with the old key alone cannot read the new one', async () => {
    await withRuntime(rolling(), async (runtime) => expect(await decryptedTitles(runtime)).toEqual(titles));
    await withRuntime(oldOnly(), async (runtime) => expect(decryptedTitles(runtime)).rejects.toThrow(/DATA_ENCRYPTION_KEY/));
  }, 60_000);

  it('without the old key configured, nothing is re-wrapped: exit 1, every unreadable key named', async () => {
    const run = await rotate(['--json'], newOnly());
    expect(run.code, run.stderr).toBe(1);
    const answer = JSON.parse(run.stdout) as { complete: boolean; rotated: number; unrotated: Array<{ kekId: string }>; keysByKek: Record<string, number> };
    expect(answer).toMatchObject({ complete: false, rotated: 0, keysByKek: { [oldId]: REPORTS - 1, [newId]: 1 } });
    expect(answer.unrotated).toHaveLength(REPORTS - 1);
    expect(answer.unrotated.every((k) => k.kekId === oldId)).toBe(true);
  }, 60_000);

  it('killed half-way, then run again: every key re-wrapped once, none lost; the new key alone reads every report; nothing else changed', async () => {
    // Two keys per batch and a pause between batches: the kill lands with the job half done.
    const killed = await rotate(['--batch-size', '2', '--pause-ms', '500'], rolling(), true);
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    await withRuntime(rolling(), async (runtime) => {
      const half = await keysByKek(runtime);
      expect(half[oldId], JSON.stringify(half)).toBeGreaterThan(0);
      expect(half[newId], JSON.stringify(half)).toBeGreaterThanOrEqual(3);
      expect(half[oldId]! + half[newId]!).toBe(REPORTS);
      // The service, meanwhile, reads every report.
      expect(await decryptedTitles(runtime)).toEqual(titles);
    });

    const again = await rotate(['--json'], rolling());
    expect(again.code, again.stderr).toBe(0);
    const answer = JSON.parse(again.stdout) as { kekId: string; complete: boolean; rotated: number; keysByKek: Record<string, number>; unrotated: unknown[] };
    expect(answer).toEqual({ kekId: newId, complete: true, rotated: expect.any(Number), keysByKek: { [newId]: REPORTS }, unrotated: [] });
    expect(answer.rotated).toBeGreaterThan(0);

    // Idempotent: a third run finds nothing to do.
    const third = await rotate([], rolling());
    expect(third.code, third.stderr).toBe(0);
    expect(third.stdout).toContain(`re-wrapped 0 data key(s) with key-encryption key ${newId}; ${REPORTS} of ${REPORTS} are wrapped with it`);

    // DATA_ENCRYPTION_KEY_PREVIOUS removed: every title still decrypts; the erased report stays erased.
    await withRuntime(newOnly(), async (runtime) => {
      expect(await decryptedTitles(runtime)).toEqual(titles);
      const erasedKey = await runtime.store.db.selectFrom('report_data_keys').select('report_id').where('report_id', '=', erasedId).executeTakeFirst();
      expect(erasedKey).toBeUndefined();
      // The log is untouched: every event accounted for, no report added or lost.
      expect(await countEventsByType(runtime)).toEqual(eventsBefore);
      const reports = await runtime.store.db.selectFrom('report_status').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
      expect(Number(reports.n)).toBe(titles.size);
    });
    // The old key alone reads nothing any more.
    await withRuntime(oldOnly(), async (runtime) => expect(decryptedTitles(runtime)).rejects.toThrow(/DATA_ENCRYPTION_KEY/));
  }, 120_000);

  it('a bad --batch-size is usage: exit 2, nothing on stdout', async () => {
    const run = await rotate(['--batch-size', '0'], rolling());
    expect(run).toMatchObject({ code: 2, stdout: '' });
    expect(run.stderr).toMatch(/batch-size/);
  }, 60_000);
});
