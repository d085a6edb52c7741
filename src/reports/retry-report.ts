import { assertMayChange, type Actor } from '../actor.js';
import { WrongExpectedVersionError } from '../events/errors.js';
import type { EventStore } from '../events/event-store.js';
import { loadReportState } from './load-report.js';
import type { ReportState } from './report-state.js';
import { decide } from './decide.js';
import { NotRetryableError } from './errors.js';
import { readableReport } from './report-access.js';
import { isUuid } from './uuid.js';

/** Puts a FAILED report back in the render queue, or a copy that was given up on back in the copy queue. */
export async function retryReport(
  store: EventStore,
  reportId: string,
  actor: Actor,
  options: { requestId?: string } = {},
): Promise<ReportState> {
  const state = readableReport(actor, reportId, isUuid(reportId) ? await loadReportState(store.db, reportId) : null);
  assertMayChange(actor, 'retry reports');
  const events = decide({ type: 'RetryReport' }, state);
  // The expected version makes a double click (or two admins) one retry, not two.
  try {
    await store.append(state.streamId, state.version, events, {
      actor: actor.id,
      ...(options.requestId ? { requestId: options.requestId } : {}),
    });
  } catch (err) {
    if (!(err instanceof WrongExpectedVersionError)) throw err;
    const now = await loadReportState(store.db, reportId);
    throw new NotRetryableError(reportId, now?.status ?? state.status);
  }
  return (await loadReportState(store.db, reportId))!;
}
