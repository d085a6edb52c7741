import { z } from 'zod';
import { assertAdmin, type Actor } from '../actor.js';
import { InvalidParamsError } from '../errors.js';
import { WrongExpectedVersionError } from '../events/errors.js';
import type { EventStore } from '../events/event-store.js';
import { loadReportState } from '../projections/report-rows.js';
import { decide } from './decide.js';
import { readableReport } from './report-access.js';
import type { ReportState } from './report-state.js';
import { isUuid } from './uuid.js';

const Reason = z
  .string()
  .trim()
  .min(1, 'say why (e.g. the erasure request it answers); never the personal data itself')
  .max(500, 'at most 500 characters')
  .regex(/^[^\p{Cc}]*$/u, 'no control characters');

/** Appends racing with the erasure (a render finishing) are waited out: erasure is a duty, not a race to lose. */
const ATTEMPTS = 5;

/**
 * Erases a report's personal data (admins): appends ReportErased — who and why, nothing of what —
 * and, in the same transaction, the inline projection deletes the report's data key and writes
 * ERASED where the title was. The log keeps the ciphertext: `audit verify` and every seal still
 * pass. The report is then gone: its copies are purged like a deleted report's.
 * ErasureUnsupportedError for a report whose personal data is in the log in clear.
 */
export async function eraseReport(
  store: EventStore,
  reportId: string,
  reason: string,
  actor: Actor,
  options: { requestId?: string } = {},
): Promise<ReportState> {
  assertAdmin(actor, 'erase reports');
  const why = Reason.safeParse(reason);
  if (!why.success) throw new InvalidParamsError(why.error.issues.map((i) => ({ path: 'reason', message: i.message })));
  for (let attempt = 1; ; attempt++) {
    const state = readableReport(actor, reportId, isUuid(reportId) ? await loadReportState(store.db, reportId) : null);
    const events = decide({ type: 'EraseReport', by: actor.id, reason: why.data }, state);
    if (events.length === 0) return state;
    try {
      await store.append(state.streamId, state.version, events, { actor: actor.id, ...(options.requestId ? { requestId: options.requestId } : {}) });
      return (await loadReportState(store.db, reportId))!;
    } catch (err) {
      if (!(err instanceof WrongExpectedVersionError) || attempt === ATTEMPTS) throw err;
    }
  }
}
