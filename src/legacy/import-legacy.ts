import { v5 as uuidv5 } from 'uuid';
import { WrongExpectedVersionError } from '../events/errors.js';
import type { EventStore } from '../events/event-store.js';
import { reportStreamId } from '../reports/report-state.js';
import { legacyReportId, type LegacyRow } from './legacy-row.js';
import type { RejectedRow, SourceItem } from './legacy-source.js';

export interface ImportResult {
  imported: number;
  /** Already imported by an earlier run (or another instance): nothing written. */
  alreadyImported: number;
  rejected: RejectedRow[];
}

const EVENT_NAMESPACE = 'b0f7d6a2-3f3c-4e55-8f0d-1f2e3d4c5b6a';

/**
 * Phase 1: one LegacyReportImported per legacy row, in a stream whose id derives from the legacy
 * id. Re-running imports nothing twice: the stream already exists (and the event id is the same).
 */
export async function importLegacyRows(
  store: EventStore,
  rows: AsyncIterable<SourceItem>,
  options: { actor: string; onRow?: (result: ImportResult) => void } = { actor: 'legacy-import' },
): Promise<ImportResult> {
  const result: ImportResult = { imported: 0, alreadyImported: 0, rejected: [] };
  for await (const item of rows) {
    if ('rejected' in item) result.rejected.push(item.rejected);
    else if (await importOne(store, item.row, options.actor)) result.imported++;
    else result.alreadyImported++;
    options.onRow?.(result);
  }
  return result;
}

async function importOne(store: EventStore, row: LegacyRow, actor: string): Promise<boolean> {
  const reportId = legacyReportId(row.legacyId);
  try {
    const appended = await store.append(
      reportStreamId(reportId),
      'no_stream',
      [
        {
          eventId: uuidv5(`imported:${row.legacyId}`, EVENT_NAMESPACE),
          type: 'LegacyReportImported',
          data: {
            reportId,
            legacyId: row.legacyId,
            owner: row.owner,
            title: row.title,
            filePath: row.filePath,
            createdAt: row.createdAt.toISOString(),
          },
        },
      ],
      { actor },
    );
    return !appended.idempotent;
  } catch (err) {
    if (err instanceof WrongExpectedVersionError) return false;
    throw err;
  }
}
