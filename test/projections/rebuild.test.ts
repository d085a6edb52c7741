import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresPoolOf } from '../../src/database/pool-of.js';
import type { Database } from '../../src/database/schema.js';
import { CorruptEventError } from '../../src/events/read.js';
import type { NewEvent } from '../../src/events/append.js';
import type { Alongside } from '../../src/events/alongside.js';
import { rebuildProjections, replayReports } from '../../src/projections/rebuild.js';
import { rebuildAndVerifyProjections } from '../../src/projections/rebuild-verify.js';
import type { ReportStreamsOptions } from '../../src/projections/report-streams.js';
import { ERASED } from '../../src/reports/personal-data.js';
import { webhookDeliveryId } from '../../src/reports/report-state.js';
import { backends } from '../support/databases.js';
import { startTestRuntime, type TestRuntime } from '../support/runtime.js';

/**
 * The rebuild against the projection the appends kept, and its two reads (COPY on PostgreSQL,
 * pages of streams everywhere) against each other, over a log with what a replay can get wrong:
 * encrypted titles (and one erased), locations added and removed, failures and retries, a
 * webhook queue, v1 events that are upcast, text that COPY escapes, microsecond timestamps.
 */

/** Every text COPY escapes (backslash, tab, newline, carriage return), quotes, `\N`, and non-ASCII. */
const AWKWARD = 'Q3 "revenue" \\ back\\slash\ttab\nline\r\\N — ünïcødé 🎉';
const SHA = 'ab'.repeat(32);
const LATER = '2030-01-01T00:00:00.000Z';

const orderedRows = async (db: Kysely<any>, tables = { status: 'report_status', locations: 'report_locations' }) => ({
  status: await db.selectFrom(tables.status).selectAll().orderBy('report_id').execute(),
  locations: await db.selectFrom(tables.locations).selectAll().orderBy('report_id').orderBy('kind').orderBy('place').execute(),
});

/** A replay into temporary tables, read back: what `read` makes of the log, nothing live touched. */
async function replayed(runtime: TestRuntime, read: Omit<ReportStreamsOptions, 'pool'> & { copy: boolean }) {
  const db = runtime.store.db;
  return db.transaction().execute(async (trx) => {
    await sql`CREATE TEMPORARY TABLE t_status (LIKE report_status INCLUDING DEFAULTS) ON COMMIT DROP`.execute(trx);
    await sql`CREATE TEMPORARY TABLE t_locations (LIKE report_locations INCLUDING DEFAULTS) ON COMMIT DROP`.execute(trx);
    const pool = read.copy ? postgresPoolOf(db) : undefined;
    const result = await replayReports(trx, { status: 't_status', locations: 't_locations' }, runtime.store.personalData, { ...read, ...(pool ? { pool } : {}) });
    return { result, rows: await orderedRows(trx as unknown as Kysely<any>, { status: 't_status', locations: 't_locations' }) };
  });
}

describe.each(backends)('projections rebuild on %s', (kind) => {
  let runtime: TestRuntime;
  const ids = { stored: randomUUID(), failed: randomUUID(), deleted: randomUUID(), erased: randomUUID(), clear: randomUUID(), v1: randomUUID() };
  const stream = (id: string) => `report-${id}`;

  /** Each encrypted request's data key, written alongside its append (as requestReport does). */
  const dataKeys = new Map<string, Alongside>();
  const request = async (reportId: string, extra: { callbackUrl?: string; expiresAt?: string } = {}): Promise<NewEvent> => {
    const { data, dataKey } = runtime.store.personalData.encrypt({ reportId, template: 'table', title: `${AWKWARD} ${reportId.slice(0, 4)}`, params: { note: AWKWARD }, owner: 'alice', ...extra });
    dataKeys.set(reportId, dataKey);
    return { type: 'ReportRequested', data };
  };
  const append = (reportId: string, version: number, events: NewEvent[]) => {
    const dataKey = version === 0 ? dataKeys.get(reportId) : undefined;
    return runtime.store.append(stream(reportId), version === 0 ? 'no_stream' : version, events, { actor: 'alice' }, { alongside: dataKey ? [dataKey] : [] });
  };
  const rendered: NewEvent = { type: 'ReportRendered', data: { sha256: SHA, bytes: 1234, pages: 2, renderMs: 5, rendererVersion: 'test' } };
  const storedOn = (machine: string): NewEvent => ({ type: 'ReportStoredLocal', data: { region: 'iad', machine, key: `reports/${machine}.pdf`, sha256: SHA, bytes: 1234 } });

  beforeAll(async () => {
    runtime = await startTestRuntime(kind);
    const { stored, failed, deleted, erased, clear } = ids;
    // Stored on two volumes and the object store, a webhook attempt failed, then one volume forgotten.
    await append(stored, 0, [await request(stored, { callbackUrl: 'https://hooks.example.com/q' }), rendered, storedOn('m1')]);
    await append(stored, 3, [
      storedOn('m2'),
      { type: 'ReportReplicated', data: { bucket: 'b', key: 'reports/o.pdf', sha256: SHA, bytes: 1234, etag: '"e"' } },
      { type: 'WebhookAttemptFailed', data: { deliveryId: webhookDeliveryId(stored, 3), status: 'STORED', attempt: 1, httpStatus: 500, error: AWKWARD, retryAt: LATER } },
      { type: 'ReportVolumeForgotten', data: { machine: 'm1', region: 'iad', reason: AWKWARD } },
    ]);
    // Failed for good, retried, failing again with a retry due.
    await append(failed, 0, [await request(failed), { type: 'ReportFailed', data: { stage: 'render', error: AWKWARD, attempt: 3, retryAt: null } }]);
    await append(failed, 2, [{ type: 'ReportRetryRequested', data: {} }, { type: 'ReportFailed', data: { stage: 'render', error: 'again', attempt: 1, retryAt: LATER } }]);
    // Held, released, deleted, one copy purged.
    await append(deleted, 0, [await request(deleted, { expiresAt: LATER }), rendered, storedOn('m1'), storedOn('m2')]);
    await append(deleted, 4, [
      { type: 'ReportHeld', data: { by: 'admin', reason: 'audit' } },
      { type: 'ReportReleased', data: { by: 'admin' } },
      { type: 'ReportDeleted', data: { by: 'alice' } },
      { type: 'ReportPurged', data: { location: { kind: 'volume', region: 'iad', machine: 'm1', key: 'reports/m1.pdf' } } },
    ]);
    // Erased: its data key goes with the event, so its title reads ERASED.
    await append(erased, 0, [await request(erased), rendered, storedOn('m1')]);
    await append(erased, 3, [{ type: 'ReportErased', data: { by: 'admin', reason: 'request' } }]);
    // In clear (requested before encryption), and a stream that is not a report's.
    await append(clear, 0, [{ type: 'ReportRequested', data: { reportId: clear, template: 'table', title: AWKWARD, params: {}, owner: 'bob' } }]);
    await runtime.store.append('volume-m9', 'no_stream', [{ type: 'VolumeForgotten', data: { machine: 'm9', region: 'iad', reason: 'gone' } }]);
  }, 60_000);
  afterAll(() => runtime?.close());

  it('rebuilds exactly the rows the appends kept, in one transaction', async () => {
    const live = await orderedRows(runtime.store.db);
    expect(live.status.find((r) => r.report_id === ids.erased)).toMatchObject({ title: ERASED, status: 'ERASED' });
    expect(live.locations.filter((r) => r.report_id === ids.stored).map((r) => r.place)).toEqual(['b', 'm2']);
    expect(await rebuildProjections(runtime.store.db, runtime.store.personalData, 2)).toEqual({ reports: 5, events: 24 });
    expect(await orderedRows(runtime.store.db)).toEqual(live);
    expect(await rebuildAndVerifyProjections(runtime.store.db, runtime.store.personalData, { pageSize: 1 })).toMatchObject({ reports: 5, events: 24, differenceCount: 0 });
  });

  it('both reads replay v1 events, escaped text and microsecond timestamps into the same rows, whatever the batches', async () => {
    // Written before machines and encryption (schema v1), straight into the log: upcast on read.
    const v1 = ids.v1;
    const row = (version: number, type: string, data: unknown) => ({
      event_id: randomUUID(),
      stream_id: stream(v1),
      stream_version: version,
      type,
      schema_version: 1,
      data: JSON.stringify(data),
      metadata: JSON.stringify({ region: 'iad', actor: AWKWARD }),
      recorded_at: `2026-01-02 03:04:05.12345${version}+00`,
      prev_hash: '0'.repeat(64),
      hash: String(version).repeat(64),
    });
    await runtime.store.db
      .insertInto('events')
      .values([
        row(1, 'ReportRequested', { reportId: v1, template: 'table', title: AWKWARD, params: { a: AWKWARD }, owner: 'carol' }),
        row(2, 'ReportStoredLocal', { region: 'iad', key: 'reports/v1.pdf', sha256: SHA, bytes: 99 }),
      ])
      .execute();
    const paged = await replayed(runtime, { pageSize: 2, copy: false });
    expect(paged.result).toEqual({ reports: 6, events: 26 });
    expect(paged.rows.status.find((r) => r.report_id === v1)).toMatchObject({ title: AWKWARD, status: 'STORED', last_version: 2, updated_at: new Date('2026-01-02T03:04:05.123Z') });
    expect(paged.rows.locations.find((r) => r.report_id === v1)).toMatchObject({ kind: 'volume', place: 'iad', region: 'iad', machine: null });
    // The rows of the other reports are still the live ones.
    const live = await orderedRows(runtime.store.db);
    expect(paged.rows.status.filter((r) => r.report_id !== v1)).toEqual(live.status);
    // COPY (PostgreSQL: its pool has room for the second connection): streams straddling batches
    // of one row, of a few rows, and one batch for all.
    if (kind === 'postgres') expect(postgresPoolOf(runtime.store.db)!.options.max).toBeGreaterThan(1);
    for (const copyBatchBytes of [1, 2_000, 1 << 20]) {
      for (const pageSize of [1, 3, 500]) expect(await replayed(runtime, { pageSize, copyBatchBytes, copy: true })).toEqual(paged);
    }
  });

  it('a write that fails fails the replay', async () => {
    const db = runtime.store.db;
    const failing = db.transaction().execute(async (trx: Transaction<Database>) => {
      // Refuses the erased report's row, written after others were.
      await sql`CREATE TEMPORARY TABLE t_status (LIKE report_status INCLUDING DEFAULTS, CHECK (title <> ${sql.lit(ERASED)})) ON COMMIT DROP`.execute(trx);
      await sql`CREATE TEMPORARY TABLE t_locations (LIKE report_locations INCLUDING DEFAULTS) ON COMMIT DROP`.execute(trx);
      const pool = postgresPoolOf(db);
      return replayReports(trx, { status: 't_status', locations: 't_locations' }, runtime.store.personalData, { pageSize: 1, ...(pool ? { pool } : {}) });
    });
    await expect(failing).rejects.toThrow(/t_status/);
  });

  it('a write that fails while rows are still being read gives the read connection up', async () => {
    const db = runtime.store.db;
    const pool = postgresPoolOf(db);
    const eventHashes = () => db.selectFrom('events').select(['global_position', 'hash']).orderBy('global_position').execute();
    const before = { rows: await orderedRows(db), events: await eventHashes() };
    const failing = db.transaction().execute(async (trx: Transaction<Database>) => {
      // Refuses every row: the first batch's write fails, the streams after it still unread.
      await sql`CREATE TEMPORARY TABLE t_status (LIKE report_status INCLUDING DEFAULTS, CHECK (report_id IS NULL)) ON COMMIT DROP`.execute(trx);
      await sql`CREATE TEMPORARY TABLE t_locations (LIKE report_locations INCLUDING DEFAULTS) ON COMMIT DROP`.execute(trx);
      return replayReports(trx, { status: 't_status', locations: 't_locations' }, runtime.store.personalData, { pageSize: 1, copyBatchBytes: 1, ...(pool ? { pool } : {}) });
    });
    await expect(failing).rejects.toThrow(/t_status/);
    // On PostgreSQL the rows came by COPY on a second connection: none is left checked out.
    if (pool) expect(pool.totalCount - pool.idleCount).toBe(0);
    // Nothing lost or changed: every event and every live projection row as it was.
    expect(await eventHashes()).toEqual(before.events);
    expect(await orderedRows(db)).toEqual(before.rows);
  });

  // Last: the corrupt row stays in the (append-only) log.
  it('a rebuild that fails leaves the projection as it was', async () => {
    const db = runtime.store.db;
    const before = await orderedRows(db);
    // A report stream ordered last whose second event does not match its schema.
    const last = 'ffffffff-ffff-4fff-bfff-ffffffffffff';
    await append(last, 0, [await request(last)]);
    await db
      .insertInto('events')
      .values({
        event_id: randomUUID(),
        stream_id: stream(last),
        stream_version: 2,
        type: 'ReportRendered',
        schema_version: 1,
        data: JSON.stringify({ sha256: 'not a hash' }),
        metadata: JSON.stringify({ region: 'iad', actor: null }),
        recorded_at: new Date(),
        prev_hash: '0'.repeat(64),
        hash: '1'.repeat(64),
      })
      .execute();
    const withLast = await orderedRows(db);
    expect(withLast.status.length).toBe(before.status.length + 1);
    await expect(rebuildProjections(db, runtime.store.personalData, 1)).rejects.toThrow(CorruptEventError);
    expect(await orderedRows(db)).toEqual(withLast);
    await expect(rebuildAndVerifyProjections(db, runtime.store.personalData, { pageSize: 1 })).rejects.toThrow(CorruptEventError);
    // The connections are usable after the failed COPY: the next statement runs.
    expect(await orderedRows(db)).toEqual(withLast);
  });
});
