import { assertMayChange, ForbiddenError, type Actor } from '../actor.js';
import type { EventStore } from '../events/event-store.js';
import { checkedReason, runReportCommand } from './report-command.js';
import type { ReportState } from './report-state.js';

/**
 * deleteReport: the owner or an admin deletes a report (refused while held; GONE when it already
 * is). ReportDeleted makes it gone at once — nothing serves it any more — and the purge stage then
 * deletes every copy. An auditor is FORBIDDEN; any other user gets NOT_FOUND, as for reading it.
 */
export function deleteReport(
  store: EventStore,
  reportId: string,
  actor: Actor,
  options: { reason?: string; requestId?: string } = {},
): Promise<ReportState> {
  return runReportCommand(
    store,
    reportId,
    actor,
    (state) => {
      assertMayChange(actor, 'delete reports');
      if (actor.role !== 'admin' && actor.id !== state.owner) throw new ForbiddenError('only its owner or an admin can delete a report');
    },
    { type: 'DeleteReport', by: actor.id, ...checkedReason(options.reason) },
    options,
  );
}
