import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkPublishedSeals } from '../../src/audit/published-seals.js';
import { startSealer } from '../../src/audit/sealer.js';
import { latestSeal, sealPending } from '../../src/audit/seal.js';
import { verifyLog } from '../../src/audit/verify.js';
import { loadConfig } from '../../src/config.js';
import { openDatabase, type DatabaseHandle } from '../../src/database/connect.js';
import { applyServiceGrants, migrateForService, serviceGrantStatements } from '../../src/database/roles.js';
import { rebuildAndVerifyProjections } from '../../src/projections/rebuild-verify.js';
import { loadReportState } from '../../src/reports/load-report.js';
import { RenderPool } from '../../src/render/render-pool.js';
import { requestReport } from '../../src/reports/request-report.js';
import { startRuntime, type Runtime } from '../../src/runtime.js';
import { createWorkers, type Workers } from '../../src/workers/start-workers.js';
import { openTestDatabase, silentLog, type TestDatabase } from '../support/databases.js';
import { TEST_DATA_ENCRYPTION_KEY, TEST_SECRET } from '../support/runtime.js';
import { untilAllSafe } from '../support/safe-log.js';
import { newReportStream, requested } from '../support/fixtures.js';
import { EventStore } from '../../src/events/event-store.js';
import { reportProjection } from '../../src/projections/report-projection.js';
import { configuredPersonalData } from '../../src/reports/personal-data.js';

/**
 * The service's PostgreSQL role (src/database/roles.ts) on a real server: privileges, not only
 * triggers, keep it from rewriting the log, and the service still does all its work as it.
 * PostgreSQL only: the embedded PGlite database has one role by design.
 */
describe.runIf(process.env.DATABASE_URL)('the service role on postgres', () => {
  let owner: TestDatabase;
  let role: string;
  let serviceUrl: string;
  let service: DatabaseHandle;

  /** Runs `statement` as the service role and returns the SQLSTATE it failed with (or 'ok'). */
  const asService = async (statement: string): Promise<string> => {
    try {
      await sql.raw(statement).execute(service.db);
      return 'ok';
    } catch (err) {
      return (err as { code?: string }).code ?? String(err);
    }
  };

  beforeAll(async () => {
    owner = await openTestDatabase('postgres');
    role = `quire_svc_${randomBytes(6).toString('hex')}`;
    await sql.raw(`CREATE ROLE ${role} LOGIN`).execute(owner.db);
    await applyServiceGrants(owner.db, role);
    const url = new URL(owner.url!);
    url.username = role;
    url.password = '';
    serviceUrl = url.toString();
    service = await openDatabase({ kind: 'postgres', url: serviceUrl, poolMax: 4, log: silentLog });
    // Something to rewrite.
    const stream = newReportStream();
    await new EventStore({ db: owner.db, notifier: owner.notifier, region: 'iad', log: silentLog, projections: [reportProjection(configuredPersonalData({ dataEncryptionKey: TEST_DATA_ENCRYPTION_KEY, dataDir: '' }))] }).append(stream.streamId, 'no_stream', [requested(stream.reportId)]);
  }, 60_000);

  afterAll(async () => {
    await service?.close();
    await owner?.close();
    if (role) {
      const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
      await admin.connect();
      await admin.query(`DROP ROLE IF EXISTS ${role}`);
      await admin.end();
    }
  });

  it('cannot UPDATE, DELETE, TRUNCATE or ALTER the log and its seals: permission denied (42501), not a trigger', async () => {
    for (const table of ['events', 'log_seals']) {
      expect(await asService(`UPDATE ${table} SET ${table === 'events' ? 'type' : 'merkle_root'} = 'x'`), `UPDATE ${table}`).toBe('42501');
      expect(await asService(`DELETE FROM ${table}`), `DELETE ${table}`).toBe('42501');
      expect(await asService(`TRUNCATE ${table}`), `TRUNCATE ${table}`).toBe('42501');
      expect(await asService(`ALTER TABLE ${table} DISABLE TRIGGER ${table}_append_only`), `ALTER ${table}`).toBe('42501');
      expect(await asService(`ALTER TABLE ${table} ADD COLUMN x int`), `ALTER ${table} ADD`).toBe('42501');
      expect(await asService(`DROP TABLE ${table}`), `DROP ${table}`).toBe('42501');
      expect(await asService(`CREATE TRIGGER t BEFORE INSERT ON ${table} FOR EACH ROW EXECUTE FUNCTION quire_reject_mutation()`), `TRIGGER ${table}`).toBe('42501');
    }
    // Nor can it grant itself more (PostgreSQL only warns "no privileges were granted") or migrate the schema.
    await asService(`GRANT UPDATE, DELETE, TRUNCATE ON events TO ${role}`);
    expect(await asService(`UPDATE events SET type = 'x'`)).toBe('42501');
    expect(await asService(`CREATE TABLE sneaky (x int)`)).toBe('42501');
    expect(await asService(`DELETE FROM kysely_migration`)).toBe('42501');
    // It appends only where the database says: position and commit order are not its to choose.
    const row = `'report-y', 1, 'ReportRequested', 1, '{}', '{}', now(), '${'0'.repeat(64)}', '${'1'.repeat(64)}'`;
    const columns = 'stream_id, stream_version, type, schema_version, data, metadata, recorded_at, prev_hash, hash';
    expect(await asService(`INSERT INTO events (global_position, event_id, ${columns}) OVERRIDING SYSTEM VALUE VALUES (1000000, gen_random_uuid(), ${row})`)).toBe('42501');
    expect(await asService(`INSERT INTO events (transaction_id, event_id, ${columns}) VALUES ('1'::xid8, gen_random_uuid(), ${row})`)).toBe('42501');
    // It reads and appends.
    expect(await asService(`SELECT count(*) FROM events`)).toBe('ok');
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM events`.execute(owner.db);
    expect(rows[0]!.n).toBe(1);
  });

  it('the grants refuse a role that owns the tables', async () => {
    const me = (await sql<{ r: string }>`SELECT current_user AS r`.execute(owner.db)).rows[0]!.r;
    await expect(applyServiceGrants(owner.db, me)).rejects.toThrow(/owns .*events.*DISABLE TRIGGER/);
    const statements = await serviceGrantStatements(owner.db, role);
    expect(statements).toContain(`GRANT SELECT ON "public"."events" TO "${role}"`);
    expect(statements).toContainEqual(expect.stringMatching(/^GRANT INSERT \("event_id", "stream_id", .*"hash"\) ON "public"\."events"/));
    expect(statements.find((s) => s.startsWith('GRANT INSERT (') && /global_position|transaction_id/.test(s))).toBeUndefined();
    expect(statements).toContain(`GRANT SELECT, INSERT ON "public"."log_seals" TO "${role}"`);
    expect(statements.filter((s) => /events|log_seals/.test(s) && /UPDATE|DELETE|TRUNCATE/.test(s))).toEqual([]);
  });

  it('`quire db grants --role` prints the same statements', async () => {
    const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['bin/quire.js', 'db', 'grants', '--role', role], {
        env: { ...process.env, DATABASE_URL: owner.url!, DATABASE_MIGRATE_URL: '', LOG_LEVEL: 'silent' },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(out.stdout.trim().split('\n')).toEqual((await serviceGrantStatements(owner.db, role)).map((s) => `${s};`));
  }, 60_000);

  it('with a migration pending, the service role cannot migrate and says what to do', async () => {
    const name = `quire_test_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    try {
      const url = new URL(serviceUrl);
      url.pathname = `/${name}`;
      const fresh = await openDatabase({ kind: 'postgres', url: url.toString(), poolMax: 2, log: silentLog });
      try {
        await expect(migrateForService({ databaseUrl: url.toString(), databaseMigrateUrl: undefined }, fresh, silentLog)).rejects.toThrow(
          /may not migrate the schema .*DATABASE_MIGRATE_URL/,
        );
      } finally {
        await fresh.close();
      }
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    }
  }, 60_000);

  describe('the whole service as that role', () => {
    let runtime: Runtime;
    let workers: Workers;
    let pool: RenderPool;
    let dataDir: string;

    beforeAll(async () => {
      dataDir = mkdtempSync(join(tmpdir(), 'quire-roles-'));
      const config = loadConfig({
        DATABASE_URL: serviceUrl,
        DATABASE_MIGRATE_URL: owner.url!,
        DATA_DIR: dataDir,
        FLY_REGION: 'iad',
        MACHINE_ID: 'iad-1',
        LOG_LEVEL: 'silent',
        AUTH_SECRET: TEST_SECRET,
        RETRY_BASE_MS: '10',
      });
      // Migrates as the owner (nothing pending) and re-applies the grants, then serves as the role.
      runtime = await startRuntime(config, silentLog);
      pool = new RenderPool({ size: 1 });
      workers = createWorkers(runtime, { pool, owner: 'roles-test' });
    }, 60_000);
    afterAll(async () => {
      await workers?.stop();
      await runtime?.close();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    });

    it('serves as the restricted role', async () => {
      const me = (await sql<{ r: string }>`SELECT current_user AS r`.execute(runtime.database.db)).rows[0]!.r;
      expect(me).toBe(role);
    });

    it('appends, projects, claims, renders, replicates, seals, publishes and verifies', async () => {
      const { reportId } = await requestReport(
        runtime.store,
        { template: 'table', title: 'As the service role', params: { columns: [{ label: 'A', key: 'a' }], rows: [{ a: 'x' }] } },
        { id: 'alice', role: 'user' },
      );
      // This report, and the owner's above (its fixture params may fail to render: fine, it is appended too).
      expect(await workers.render.drain()).toBeGreaterThanOrEqual(1);
      expect(await workers.replicate!.drain()).toBeGreaterThanOrEqual(1);
      expect((await loadReportState(runtime.database.db, reportId))!.status).toBe('REPLICATED');

      // As `quire audit seal` does (no minimum age), with the runtime's key, once every event is
      // below the safe horizon (a shared server's other transactions can hold it back).
      await untilAllSafe(runtime.database.db);
      const seals = await sealPending(runtime.database.db, { signer: runtime.sealKeys.signer });
      expect(seals.length).toBeGreaterThan(0);
      const report = await verifyLog(runtime.database.db, { cursor: true, publicKeys: runtime.sealKeys.trusted });
      expect(report.problems).toEqual([]);
      const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM events`.execute(runtime.database.db);
      expect(report).toMatchObject({ ok: true, events: rows[0]!.n, sealedEvents: rows[0]!.n });
      expect((await latestSeal(runtime.database.db))!.keyId).toBe(runtime.sealKeys.signer.keyId);
      // The projections rebuild check runs as the role too (temporary tables only).
      expect((await rebuildAndVerifyProjections(runtime.database.db, runtime.store.personalData)).differenceCount).toBe(0);
      // Publishing is the sealer's; the tick publishes what is unpublished.
      const tick = startSealer(runtime, { enabled: false, everyEvents: 1000, everySeconds: 3600, pollMs: 60_000 });
      await tick.tick();
      await tick.stop();
      const published = await checkPublishedSeals(runtime.database.db, runtime.objectStore, { publicKeys: runtime.sealKeys.trusted });
      expect(published).toMatchObject({ problems: [], unpublished: [], matched: seals.length });
    }, 120_000);
  });
});
