import type { Actor } from '../actor.js';
import { WrongExpectedVersionError } from '../events/errors.js';
import type { EventStore } from '../events/event-store.js';
import { storableJsonIssues } from '../events/storable-json.js';
import { InvalidParamsError } from '../errors.js';
import { loadReportState } from '../reports/load-report.js';
import { decide, type ReportCommand } from './decide.js';
import { readableReport } from './report-access.js';
import type { ReportState } from './report-state.js';
import { isUuid } from './uuid.js';

/**
 * A user's command on one report: load (only a report the actor may read: anyone else's is NOT_FOUND)
 * → check the role (`authorize`, after the read so existence is not leaked) → decide → append at the
 * version loaded. When another append got in between, the command is decided once more on the new
 * state: it then succeeds or answers the typed refusal that state calls for (a double click on
 * delete answers GONE, not a conflict). Returns the state after.
 */
export async function runReportCommand(
  store: EventStore,
  reportId: string,
  actor: Actor,
  authorize: (state: ReportState) => void,
  command: ReportCommand,
  options: { requestId?: string } = {},
): Promise<ReportState> {
  for (let attempt = 0; ; attempt++) {
    const state = readableReport(actor, reportId, isUuid(reportId) ? await loadReportState(store.db, reportId) : null);
    authorize(state);
    const events = decide(command, state);
    try {
      if (events.length > 0) {
        await store.append(state.streamId, state.version, events, { actor: actor.id, ...(options.requestId ? { requestId: options.requestId } : {}) });
      }
      return (await loadReportState(store.db, reportId))!;
    } catch (err) {
      if (!(err instanceof WrongExpectedVersionError) || attempt >= 2) throw err;
    }
  }
}

/** A command's free-text reason as the log takes it (at most 500 storable characters), or a typed refusal. */
export function checkedReason(reason: string | undefined): { reason?: string } {
  if (reason === undefined) return {};
  const issues = [...(reason.length > 500 ? [{ path: 'reason', message: 'at most 500 characters' }] : []), ...storableJsonIssues(reason).map((i) => ({ path: 'reason', message: i.message }))];
  if (issues.length > 0) throw new InvalidParamsError(issues);
  return { reason };
}
