import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { holdReport } from '../src/reports/legal-hold.js';
import { requestReport } from '../src/reports/request-report.js';
import { startRuntime, type Runtime } from '../src/runtime.js';
import { backends, openTestDatabase, type TestDatabase } from './support/databases.js';
import { countEventsByType, TEST_DATA_ENCRYPTION_KEY, TEST_SEAL_SIGNING_KEY } from './support/runtime.js';

const alice = { id: 'alice', role: 'user' } as const;
const admin = { id: 'root', role: 'admin' } as const;
const params = { columns: [{ label: 'A', key: 'a' }], rows: [{ a: 1 }] };

/** `quire reports …` as an operator runs it: bin/quire.js in a child process, against env's database. */
function quire(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { DATABASE_URL: _, ...rest } = process.env;
  const child = spawn(process.execPath, ['bin/quire.js', 'reports', ...args], { env: { ...rest, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let [stdout, stderr] = ['', ''];
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

describe.each(backends)('quire reports delete / erase on %s', (kind) => {
  let dataDir: string;
  let database: TestDatabase | undefined;
  let env: Record<string, string>;
  const ids: Record<'deleted' | 'erased' | 'held', string> = { deleted: '', erased: '', held: '' };

  /** The CLI's own wiring on the same DATA_DIR / DATABASE_URL; closed before the CLI runs (PGlite is single-process). */
  async function withRuntime<T>(fn: (runtime: Runtime) => Promise<T>): Promise<T> {
    const runtime = await startRuntime(loadConfig(env));
    try {
      return await fn(runtime);
    } finally {
      await runtime.close();
    }
  }

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'quire-cli-reports-'));
    if (kind === 'postgres') database = await openTestDatabase('postgres', { poolMax: 2 });
    env = {
      DATA_DIR: dataDir,
      FLY_REGION: 'iad',
      LOG_LEVEL: 'silent',
      DATA_ENCRYPTION_KEY: TEST_DATA_ENCRYPTION_KEY,
      SEAL_SIGNING_KEY: TEST_SEAL_SIGNING_KEY,
      ...(database?.url ? { DATABASE_URL: database.url } : {}),
    };
    await withRuntime(async (runtime) => {
      for (const key of Object.keys(ids) as Array<keyof typeof ids>) {
        ids[key] = (await requestReport(runtime.store, { template: 'table', title: `Report to be ${key}`, params }, alice)).reportId;
      }
      await holdReport(runtime.store, ids.held, admin, { reason: 'litigation' });
    });
  }, 60_000);

  afterAll(async () => {
    await database?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('delete: ReportDeleted by cli:reports with the reason, exit 0, --json says DELETED', async () => {
    const done = await quire(['delete', ids.deleted, '--reason', 'ticket 7', '--json'], env);
    expect(done.stderr).toBe('');
    expect(done.code).toBe(0);
    expect(JSON.parse(done.stdout)).toEqual({ reportId: ids.deleted, status: 'DELETED', copiesToPurge: 0 });
    await withRuntime(async (runtime) => {
      const deleted = (await runtime.store.readStream(`report-${ids.deleted}`)).at(-1)!;
      expect(deleted).toMatchObject({ type: 'ReportDeleted', data: { by: 'cli:reports', reason: 'ticket 7' }, metadata: { actor: 'cli:reports' } });
    });
  }, 60_000);

  it('erase: ReportErased with the reason, the id in any case, a line for people, exit 0', async () => {
    const done = await quire(['erase', ids.erased.toUpperCase(), '--reason', 'GDPR request 42'], env);
    expect(done.code).toBe(0);
    expect(done.stdout).toContain(`erased: ${ids.erased}`);
    await withRuntime(async (runtime) => {
      const erased = (await runtime.store.readStream(`report-${ids.erased}`)).at(-1)!;
      expect(erased).toMatchObject({ type: 'ReportErased', data: { by: 'cli:reports', reason: 'GDPR request 42' }, metadata: { actor: 'cli:reports' } });
      // The title is gone from the projection with the key.
      const row = await runtime.store.db.selectFrom('report_status').select(['status']).where('report_id', '=', ids.erased).executeTakeFirstOrThrow();
      expect(row.status).toBe('ERASED');
    });
  }, 60_000);

  it('refusals exit 2 and change nothing: no --reason, unknown id, not a UUID, held, already gone', async () => {
    const unknown = '00000000-0000-4000-8000-000000000000';
    const noReason = await quire(['erase', ids.held], env);
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toContain('--reason');
    const cases: Array<[string[], string]> = [
      [['delete', unknown, '--json'], 'NOT_FOUND'],
      [['delete', 'not-a-report', '--json'], 'NOT_FOUND'],
      [['delete', ids.held, '--json'], 'HELD'],
      [['erase', ids.held, '--reason', 'asked', '--json'], 'HELD'],
      [['delete', ids.deleted, '--json'], 'GONE'],
    ];
    for (const [args, code] of cases) {
      const refused = await quire(args, env);
      expect(refused.code, args.join(' ')).toBe(2);
      expect(JSON.parse(refused.stdout), args.join(' ')).toMatchObject({ error: { code, message: expect.any(String) } });
    }
    const plain = await quire(['delete', unknown], env);
    expect(plain.code).toBe(2);
    expect(plain.stderr).toMatch(/^quire reports delete: /);

    // Every event accounted for: the three requests, the hold, one deletion, one erasure; nothing from the refusals.
    await withRuntime(async (runtime) => {
      expect(await countEventsByType(runtime)).toEqual({ ReportRequested: 3, ReportHeld: 1, ReportDeleted: 1, ReportErased: 1 });
    });
  }, 180_000);
});
