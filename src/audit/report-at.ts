import { sql, type Kysely } from 'kysely';
import type { Database } from '../database/schema.js';
import type { PersonalDataCipher } from '../events/event-store.js';
import { readStream, toRecordedEvent } from '../events/read.js';
import { EVENT_COLUMNS, TRANSACTION_ID } from '../events/safe-read.js';
import type { EventRow } from '../events/recorded-event.js';
import { foldReport, reportStreamId, type ReportState } from '../reports/report-state.js';
import { EventNotFoundError } from './proof.js';

export type PointInTime = { position: number } | { at: Date };

/**
 * A report as it was at a point of the log: folded (report-state.ts, the projection's own fold)
 * from the events that came before it. `position`: every event at or before that global
 * position's place in commit order; `at`: every event recorded at or before that instant. Null
 * when the report did not exist yet (or does not exist). Its title is decrypted with today's data
 * key: once the report is erased, every point in time shows ERASED where the title was.
 */
export async function reportAt(db: Kysely<Database>, personalData: PersonalDataCipher, reportId: string, point: PointInTime): Promise<ReportState | null> {
  const streamId = reportStreamId(reportId);
  if ('at' in point) {
    const events = (await readStream(db, streamId)).filter((e) => e.recordedAt.getTime() <= point.at.getTime());
    return foldReport(await personalData.reveal(db, events));
  }
  const target = await db
    .selectFrom('events')
    .select(TRANSACTION_ID)
    .where('global_position', '=', point.position)
    .executeTakeFirst();
  if (!target) throw new EventNotFoundError(point.position);
  const rows = (await db
    .selectFrom('events')
    .select(EVENT_COLUMNS)
    .where('stream_id', '=', streamId)
    .where(sql<boolean>`(transaction_id, global_position) <= (${target.transaction_id}::xid8, ${point.position}::bigint)`)
    .orderBy('stream_version')
    .execute()) as EventRow[];
  return foldReport(await personalData.reveal(db, rows.map(toRecordedEvent)));
}
