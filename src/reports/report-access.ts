import type { Actor } from '../actor.js';
import { ReportNotFoundError } from './errors.js';

/** Auditors and admins read every report. */
export function readsEveryReport(actor: Actor): boolean {
  return actor.role === 'auditor' || actor.role === 'admin';
}

/** The one rule of who may read a report: auditors and admins every one, a user only their own. */
export function mayReadReport(actor: Actor, report: { owner: string }): boolean {
  return readsEveryReport(actor) || actor.id === report.owner;
}

/**
 * The report, if the actor may read it; otherwise ReportNotFoundError — someone else's report is
 * indistinguishable from a missing one, so its existence is not leaked.
 */
export function readableReport<T extends { owner: string }>(actor: Actor, reportId: string, report: T | null | undefined): T {
  if (!report || !mayReadReport(actor, report)) throw new ReportNotFoundError(reportId);
  return report;
}
