import { assertAdmin, type Actor } from '../actor.js';
import type { EventStore } from '../events/event-store.js';
import { InvalidParamsError } from '../errors.js';
import { checkedReason, runReportCommand } from './report-command.js';
import type { ReportState } from './report-state.js';

/**
 * Erases a report's personal data (admins): appends ReportErased — who and why, nothing of what —
 * and, in the same transaction, the inline projection deletes the report's data key and writes
 * ERASED where the title was. The log keeps the ciphertext: `audit verify` and every seal still
 * pass. The report is then gone (GONE to downloads) and the purge stage deletes every copy of its
 * file. Refused while held (ReportHeldError) and for a report whose personal data is in the log
 * in clear (ErasureUnsupportedError); a report erased already answers as it is.
 */
export async function eraseReport(
  store: EventStore,
  reportId: string,
  reason: string,
  actor: Actor,
  options: { requestId?: string } = {},
): Promise<ReportState> {
  // The reason goes into the log for good: required, so that an erasure always says which request it answers.
  const why = reason.trim();
  if (why.length === 0) throw new InvalidParamsError([{ path: 'reason', message: 'say why (e.g. the erasure request it answers); never the personal data itself' }]);
  return runReportCommand(store, reportId, actor, () => assertAdmin(actor, 'erase reports'), { type: 'EraseReport', by: actor.id, reason: checkedReason(why).reason! }, options);
}
