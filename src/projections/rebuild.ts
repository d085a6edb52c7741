import { sql, type Kysely, type Transaction } from 'kysely';
import { postgresPoolOf } from '../database/pool-of.js';
import type { Database } from '../database/schema.js';
import type { PersonalDataCipher } from '../events/event-store.js';
import { locationRow, statusRecord } from './report-rows.js';
import { REPLAY_PAGE_SIZE, reportStreams, type ReportStreamsOptions } from './report-streams.js';
import { foldReport } from '../reports/report-state.js';

export interface RebuildResult {
  reports: number;
  events: number;
}

/** Where a replay writes: the live projection tables, or scratch tables with the same columns. */
export interface ProjectionTables {
  status: string;
  locations: string;
}

const LIVE: ProjectionTables = { status: 'report_status', locations: 'report_locations' };

/** Inserts sent and not yet awaited at most: the next streams are folded while the database writes these. */
const WRITES_IN_FLIGHT = 2;

/**
 * `rows` inserted into `table` by one statement with one parameter, the rows as a JSON array that
 * the database takes apart: a page of a multi-row VALUES would send (and Kysely compile) a
 * parameter per column of every row. The columns are the rows' keys, as with `values(rows)`.
 */
function insertJsonRows(trx: Transaction<Database>, table: string, rows: readonly object[]): Promise<unknown> {
  const columns = Object.keys(rows[0]!);
  return (trx as unknown as Kysely<any>)
    .insertInto(table)
    .columns(columns)
    .expression(sql`SELECT ${sql.join(columns.map((c) => sql.ref(c)))} FROM json_populate_recordset(NULL::${sql.table(table)}, ${JSON.stringify(rows)}::json)`)
    .execute();
}

/**
 * Folds every report stream with the projection's own fold and inserts the states into `tables`
 * (the live rebuild and `rebuild --verify` both use it): the streams come whole, in batches of
 * about `read.pageSize` (report-streams.ts; by COPY when `read.pool` is PostgreSQL's), and each batch's
 * rows are written while the next batch is read and folded. A write that fails fails the replay.
 */
export async function replayReports(trx: Transaction<Database>, tables: ProjectionTables, personalData: PersonalDataCipher, read: ReportStreamsOptions): Promise<RebuildResult> {
  const result: RebuildResult = { reports: 0, events: 0 };
  const writes: Promise<unknown>[] = [];
  // The first write that failed: what the replay throws, not the "transaction is aborted" of a
  // statement sent after it on the same connection.
  let failed: { error: unknown } | null = null;
  const write = async (w: Promise<unknown>) => {
    w.catch((error: unknown) => (failed ??= { error }));
    writes.push(w);
    while (writes.length > WRITES_IN_FLIGHT) await writes.shift();
  };
  try {
    for await (const streams of reportStreams(trx, read)) {
      // Decrypted as the inline projection does (the same title, or ERASED once the key is gone): one key query a batch.
      const revealed = await personalData.reveal(trx, streams.flat());
      const states = [];
      let at = 0;
      for (const events of streams) {
        const state = foldReport(revealed.slice(at, at + events.length));
        at += events.length;
        result.events += events.length;
        if (state) states.push(state);
      }
      if (states.length > 0) {
        await write(insertJsonRows(trx, tables.status, states.map(statusRecord)));
        const locations = states.flatMap((s) => s.locations.map((l) => locationRow(s.reportId, l)));
        if (locations.length > 0) await write(insertJsonRows(trx, tables.locations, locations));
      }
      result.reports += states.length;
    }
    while (writes.length > 0) await writes.shift();
  } catch (error) {
    throw failed ? (failed as { error: unknown }).error : error;
  }
  return result;
}

/**
 * Drops every projection row and replays the log into them, in one transaction: readers see the
 * old tables or the new ones. The tables are locked for writing meanwhile, so appends wait and
 * then fold their events onto the rebuilt rows.
 */
export async function rebuildProjections(db: Kysely<Database>, personalData: PersonalDataCipher, pageSize = REPLAY_PAGE_SIZE): Promise<RebuildResult> {
  return db.transaction().execute(async (trx) => {
    await sql`LOCK TABLE report_status, report_locations IN EXCLUSIVE MODE`.execute(trx);
    await trx.deleteFrom('report_locations').execute();
    await trx.deleteFrom('report_status').execute();
    return replayReports(trx, LIVE, personalData, { pageSize, pool: postgresPoolOf(db) });
  });
}
