import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/database/schema.js';
import { EventStore } from '../../src/events/event-store.js';
import { reportProjection } from '../../src/projections/report-projection.js';
import { loadReportState } from '../../src/reports/load-report.js';
import { configuredPersonalData } from '../../src/reports/personal-data.js';
import { backends, openTestDatabase, silentLog, type TestDatabase } from '../support/databases.js';
import { newReportStream, requested } from '../support/fixtures.js';
import { TEST_DATA_ENCRYPTION_KEY } from '../support/runtime.js';

const personalData = configuredPersonalData({ dataEncryptionKey: TEST_DATA_ENCRYPTION_KEY, dataDir: '' });

/**
 * report(id)'s read is a named prepared statement on PostgreSQL (src/database/prepared-statements.ts).
 * It must keep working on a live pool when the schema changes under it, as in a rolling deploy.
 */
describe.each(backends)('the hot report read on %s, across schema changes', (kind) => {
  let database: TestDatabase;
  let reportId: string;

  beforeAll(async () => {
    // Two connections, both held at once below: each prepares the statement of its own.
    database = await openTestDatabase(kind, { poolMax: 2 });
    const store = new EventStore({ db: database.db, notifier: database.notifier, region: 'iad', log: silentLog, projections: [reportProjection(personalData)] });
    const stream = newReportStream();
    reportId = stream.reportId;
    await store.append(stream.streamId, 'no_stream', [requested(reportId)]);
  });
  afterAll(() => database?.close());

  /** Runs `read` on both pooled connections at the same time, each held for the whole call (PGlite has one: twice on it). */
  const onBothConnections = async <T>(read: (conn: Kysely<Database>) => Promise<T>): Promise<T[]> => {
    if (kind === 'pglite') return [await read(database.db), await read(database.db)];
    let arrived = 0;
    let release!: () => void;
    const together = new Promise<void>((resolve) => (release = resolve));
    return Promise.all(
      [0, 1].map(() =>
        database.db.connection().execute(async (conn) => {
          // Hold this connection until the other one is taken too.
          if (++arrived === 2) release();
          await together;
          return read(conn);
        }),
      ),
    );
  };
  const preparedOn = async (conn: Kysely<Database>) =>
    kind === 'postgres'
      ? Number((await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_prepared_statements WHERE name LIKE 'quire\\_%'`.execute(conn)).rows[0]!.n)
      : 0;
  const readOn = async (conn: Kysely<Database>) => {
    const state = await loadReportState(conn, reportId);
    return { reportId: state?.reportId, status: state?.status, prepared: await preparedOn(conn) };
  };
  let expected: { reportId: string; status: string; prepared: number };
  beforeAll(() => {
    expected = { reportId, status: 'REQUESTED', prepared: kind === 'postgres' ? 1 : 0 };
  });

  it('straight on the pool (executeHot, no Kysely executor) it is the same prepared read; a transaction still reads on its own connection', async () => {
    // More reads at once than connections: each connection prepares the statement once.
    const states = await Promise.all(Array.from({ length: 10 }, () => loadReportState(database.db, reportId)));
    expect(states.map((s) => s?.status)).toEqual(Array(10).fill('REQUESTED'));
    expect(await onBothConnections(preparedOn)).toEqual([expected.prepared, expected.prepared]);
    await database.db.transaction().execute(async (trx) => {
      await trx.updateTable('report_status').set({ title: 'changed, not committed' }).where('report_id', '=', reportId).execute();
      expect((await loadReportState(trx, reportId))?.title).toBe('changed, not committed');
      // PGlite has one connection, held by the transaction: only PostgreSQL reads beside it.
      if (kind === 'postgres') expect((await loadReportState(database.db, reportId))?.title).not.toBe('changed, not committed');
      throw new Error('roll back');
    }).catch((err: Error) => expect(err.message).toBe('roll back'));
    expect((await loadReportState(database.db, reportId))?.title).not.toBe('changed, not committed');
  });

  it('is prepared once per connection, and still reads after a migration adds a column to report_status', async () => {
    expect(await onBothConnections(readOn)).toEqual([expected, expected]);
    await sql`ALTER TABLE report_status ADD COLUMN added_live text NOT NULL DEFAULT 'added live'`.execute(database.db);
    // The same prepared statement on each connection (none added), with the same result.
    expect(await onBothConnections(readOn)).toEqual([expected, expected]);
    expect(await onBothConnections(readOn)).toEqual([expected, expected]);
    // And straight on the pool (executeHot: the path report(id) takes), on every connection.
    expect((await Promise.all(Array.from({ length: 10 }, () => loadReportState(database.db, reportId)))).map((s) => s?.status)).toEqual(Array(10).fill('REQUESTED'));
  });

  it('still reads after a migration changes a selected column’s type (the prepared plan’s result type changes)', async () => {
    await sql`ALTER TABLE report_status ALTER COLUMN title TYPE varchar(500)`.execute(database.db);
    // Inside a transaction first: a failed prepared statement there would abort it.
    expect((await database.db.transaction().execute((trx) => loadReportState(trx, reportId)))?.status).toBe('REQUESTED');
    // Each connection prepares it anew under another name (the stale one stays: two in all).
    const again = { ...expected, prepared: kind === 'postgres' ? 2 : 0 };
    expect(await onBothConnections(readOn)).toEqual([again, again]);
    expect(await onBothConnections(readOn)).toEqual([again, again]);
  });

  it('straight on the pool too, after the result type changed again: the stale plan is retried under a new name, not failed', async () => {
    await sql`ALTER TABLE report_status ALTER COLUMN title TYPE text`.execute(database.db);
    // The pool's connections still hold the plan prepared before this change: the reads below meet it.
    const states = await Promise.all(Array.from({ length: 10 }, () => loadReportState(database.db, reportId)));
    expect(states.map((s) => s?.status)).toEqual(Array(10).fill('REQUESTED'));
    const thrice = { ...expected, prepared: kind === 'postgres' ? 3 : 0 };
    expect(await onBothConnections(readOn)).toEqual([thrice, thrice]);
  });
});
