import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../database/schema.js';
import type { PersonalDataCipher } from '../events/event-store.js';
import { readStreams } from '../events/read.js';
import { locationRow, statusRow } from './report-rows.js';
import { foldReport, REPORT_STREAM_PREFIX } from '../reports/report-state.js';

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

/**
 * Folds every report stream with the projection's own fold and inserts the states into `tables`,
 * `pageSize` streams at a time (the live rebuild and `rebuild --verify` both use it).
 */
export async function replayReports(trx: Transaction<Database>, tables: ProjectionTables, personalData: PersonalDataCipher, pageSize: number): Promise<RebuildResult> {
  const result: RebuildResult = { reports: 0, events: 0 };
  const into = trx as unknown as Kysely<any>;
  let after = REPORT_STREAM_PREFIX;
  for (;;) {
    // Each report stream starts at version 1: walk those through the (stream_id, version) index.
    const streams = await trx
      .selectFrom('events')
      .select('stream_id')
      .where('stream_version', '=', 1)
      .where('stream_id', '>', after)
      .where('stream_id', 'like', `${REPORT_STREAM_PREFIX}%`)
      .orderBy('stream_id')
      .limit(pageSize)
      .execute();
    if (streams.length === 0) return result;
    // The page's streams in one statement, not one per stream (that was a round trip per report).
    const byStream = await readStreams(trx, streams.map((s) => s.stream_id));
    const read = streams.map((s) => byStream.get(s.stream_id)!);
    // Decrypted as the inline projection does (the same title, or ERASED once the key is gone): one key query a page.
    const revealed = await personalData.reveal(trx, read.flat());
    const states = [];
    let at = 0;
    for (const events of read) {
      const state = foldReport(revealed.slice(at, at + events.length));
      at += events.length;
      result.events += events.length;
      if (state) states.push(state);
    }
    if (states.length > 0) {
      await into.insertInto(tables.status).values(states.map(statusRow)).execute();
      const locations = states.flatMap((s) => s.locations.map((l) => locationRow(s.reportId, l)));
      if (locations.length > 0) await into.insertInto(tables.locations).values(locations).execute();
    }
    result.reports += states.length;
    after = streams.at(-1)!.stream_id;
  }
}

/**
 * Drops every projection row and replays the log into them, in one transaction: readers see the
 * old tables or the new ones. The tables are locked for writing meanwhile, so appends wait and
 * then fold their events onto the rebuilt rows.
 */
export async function rebuildProjections(db: Kysely<Database>, personalData: PersonalDataCipher, pageSize = 500): Promise<RebuildResult> {
  return db.transaction().execute(async (trx) => {
    await sql`LOCK TABLE report_status, report_locations IN EXCLUSIVE MODE`.execute(trx);
    await trx.deleteFrom('report_locations').execute();
    await trx.deleteFrom('report_status').execute();
    return replayReports(trx, LIVE, personalData, pageSize);
  });
}
