import type { Logger } from 'pino';
import type { EventStore } from '../events/event-store.js';
import { foldReport, isGone } from '../reports/report-state.js';

/**
 * After a worker's append was refused because the report moved on: if it moved on to gone (deleted
 * or expired while it was rendered or copied), the bytes the worker just wrote are recorded nowhere
 * and no purge would ever find them, so they are removed here. A report that moved on otherwise
 * (another worker stored the same file under the same key) keeps them.
 */
export async function discardIfGone(store: EventStore, streamId: string, what: string, remove: () => Promise<void>, log: Logger): Promise<void> {
  const now = foldReport(await store.readStream(streamId));
  if (!now || !isGone(now)) return;
  try {
    await remove();
    log.info({ reportId: now.reportId, what }, 'report gone meanwhile; the file just written was removed');
  } catch (err) {
    log.warn({ err, reportId: now.reportId, what }, 'report gone meanwhile; removing the file just written failed');
  }
}
