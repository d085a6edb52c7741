import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../database/schema.js';
import type { PersonalDataCipher } from '../events/event-store.js';
import { readStreams } from '../events/read.js';
import type { RecordedEvent } from '../events/recorded-event.js';
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
  // Each report stream starts at version 1: walk those through the (stream_id, version) index,
  // then read the page's streams in one statement (readStreams, not one per stream).
  const readPage = (after: string) => {
    const ids = trx
      .selectFrom('events')
      .select('stream_id')
      .where('stream_version', '=', 1)
      .where('stream_id', '>', after)
      .where('stream_id', 'like', `${REPORT_STREAM_PREFIX}%`)
      .orderBy('stream_id')
      .limit(pageSize)
      .execute()
      .then((rows) => rows.map((r) => r.stream_id));
    const events = ids.then((ids) => (ids.length > 0 ? readStreams(trx, ids) : new Map<string, RecordedEvent[]>()));
    // Awaited below, unless this page failed the replay first.
    ids.catch(() => undefined);
    events.catch(() => undefined);
    return { ids, events };
  };
  let page = readPage(REPORT_STREAM_PREFIX);
  for (;;) {
    const ids = await page.ids;
    if (ids.length === 0) return result;
    const byStream = await page.events;
    // The next page's reads go out now: the database runs them while this page is decrypted,
    // folded and inserted (one connection: the statements queue; the work overlaps).
    page = readPage(ids.at(-1)!);
    const read = ids.map((id) => byStream.get(id)!);
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
