import type { Transaction } from 'kysely';
import type { Database } from '../database/schema.js';
import type { PersonalDataCipher } from '../events/event-store.js';
import type { InlineProjection } from '../events/inline-projection.js';
import { deleteDataKey } from '../reports/personal-data.js';
import type { RecordedEvent } from '../events/recorded-event.js';
import { locationRow, statusRow } from './report-rows.js';
import { loadReportStates } from '../reports/load-report.js';
import { evolve, REPORT_STREAM_PREFIX, type ReportLocation, type ReportState } from '../reports/report-state.js';

const sameLocation = (a: ReportLocation, b: ReportLocation) =>
  a.kind === b.kind &&
  a.place === b.place &&
  a.region === b.region &&
  a.machine === b.machine &&
  a.key === b.key &&
  a.sha256 === b.sha256 &&
  a.bytes === b.bytes &&
  a.storedAt.getTime() === b.storedAt.getTime() &&
  a.verifiedAt.getTime() === b.verifiedAt.getTime();

/** Writes new reports' states: one statement for their rows, one for their locations (a batch of requests is one round trip each). */
async function insertReportStates(trx: Transaction<Database>, states: readonly ReportState[]): Promise<void> {
  if (states.length === 0) return;
  await trx.insertInto('report_status').values(states.map(statusRow)).execute();
  await upsertLocations(trx, states.flatMap((s) => s.locations.map((l) => locationRow(s.reportId, l))));
}

async function upsertLocations(trx: Transaction<Database>, rows: ReturnType<typeof locationRow>[]): Promise<void> {
  if (rows.length === 0) return;
  await trx
    .insertInto('report_locations')
    .values(rows)
    .onConflict((oc) =>
      oc.columns(['report_id', 'kind', 'place']).doUpdateSet((eb) => ({
        region: eb.ref('excluded.region'),
        machine: eb.ref('excluded.machine'),
        key: eb.ref('excluded.key'),
        sha256: eb.ref('excluded.sha256'),
        bytes: eb.ref('excluded.bytes'),
        stored_at: eb.ref('excluded.stored_at'),
        verified_at: eb.ref('excluded.verified_at'),
      })),
    )
    .execute();
}

/** Writes the difference between two states of one report. */
async function saveReportState(trx: Transaction<Database>, before: ReportState | null, after: ReportState): Promise<void> {
  if (!before) return insertReportStates(trx, [after]);
  const { report_id, ...changes } = statusRow(after);
  await trx.updateTable('report_status').set(changes).where('report_id', '=', report_id).execute();
  // A copy on a forgotten volume leaves the state: its row goes too.
  const removed = before.locations.filter((b) => !after.locations.some((l) => l.kind === b.kind && l.place === b.place));
  for (const l of removed) {
    await trx.deleteFrom('report_locations').where('report_id', '=', after.reportId).where('kind', '=', l.kind).where('place', '=', l.place).execute();
  }
  const changed = after.locations.filter((l) => !before.locations.some((b) => sameLocation(b, l)));
  await upsertLocations(trx, changed.map((l) => locationRow(after.reportId, l)));
}

/** The events of one or more appends grouped by stream, each stream's in order. */
function byStream(events: readonly RecordedEvent[]): Map<string, RecordedEvent[]> {
  const streams = new Map<string, RecordedEvent[]>();
  for (const e of events) {
    const list = streams.get(e.streamId);
    if (list) list.push(e);
    else streams.set(e.streamId, [e]);
  }
  return streams;
}

/**
 * report_status and report_locations, kept in step with the log inside every append. The title is
 * kept decrypted here (lists and filenames need it) until the report is erased; the erasure's
 * data key goes in the same transaction as the ReportErased event that records it.
 */
export function reportProjection(personalData: PersonalDataCipher): InlineProjection {
  return {
    name: 'reports',
    async apply(trx, appended: readonly RecordedEvent[]) {
      const reportEvents = appended.filter((e) => e.streamId.startsWith(REPORT_STREAM_PREFIX));
      if (reportEvents.length === 0) return;
      // One query decrypts the batch's requests, one reads its reports' states, one inserts its new reports.
      const streams = byStream(await personalData.reveal(trx, reportEvents));
      const isNew = (events: RecordedEvent[]) => events[0]!.type === 'ReportRequested' && events[0]!.streamVersion === 1;
      const existing = await loadReportStates(
        trx,
        [...streams].filter(([, events]) => !isNew(events)).map(([streamId]) => streamId.slice(REPORT_STREAM_PREFIX.length)),
      );
      const created: ReportState[] = [];
      for (const [streamId, events] of streams) {
        const reportId = streamId.slice(REPORT_STREAM_PREFIX.length);
        const before = isNew(events) ? null : (existing.get(reportId.toLowerCase()) ?? null);
        const after = events.reduce(evolve, before);
        if (after && after !== before) {
          if (before) await saveReportState(trx, before, after);
          else created.push(after);
        }
        if (events.some((e) => e.type === 'ReportErased')) await deleteDataKey(trx, reportId);
      }
      await insertReportStates(trx, created);
    },
  };
}
