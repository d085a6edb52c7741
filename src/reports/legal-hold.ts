import { assertAdmin, type Actor } from '../actor.js';
import type { EventStore } from '../events/event-store.js';
import { checkedReason, runReportCommand } from './report-command.js';
import type { ReportState } from './report-state.js';

/** holdReport (admins): the report can neither expire nor be deleted until it is released. */
export function holdReport(store: EventStore, reportId: string, actor: Actor, options: { reason?: string; requestId?: string } = {}): Promise<ReportState> {
  return runReportCommand(
    store,
    reportId,
    actor,
    () => assertAdmin(actor, 'put a report under legal hold'),
    { type: 'HoldReport', by: actor.id, ...checkedReason(options.reason) },
    options,
  );
}

/** releaseReport (admins): ends the hold; a report whose expiry passed meanwhile expires at the next sweep. */
export function releaseReport(store: EventStore, reportId: string, actor: Actor, options: { requestId?: string } = {}): Promise<ReportState> {
  return runReportCommand(store, reportId, actor, () => assertAdmin(actor, 'release a legal hold'), { type: 'ReleaseReport', by: actor.id }, options);
}
