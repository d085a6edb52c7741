import type { Config } from '../config.js';
import { InvalidParamsError } from '../errors.js';
import { DURATION_HINT, formatDuration, parseDurationSeconds } from '../shared/duration.js';

/** How long a report may be kept: RETENTION_DEFAULT (per template) and RETENTION_MAX. */
export type RetentionPolicy = Config['retention'];

/** The last instant an expiry may name: beyond it a Date is invalid or its ISO form has six digits of year (neither the DateTime scalar nor the page read it). */
const LAST_EXPIRY = Date.parse('9999-12-31T23:59:59.999Z');

export const NO_RETENTION_LIMITS: RetentionPolicy = { defaultSeconds: null, byTemplate: {}, maxSeconds: null };

export interface RetentionInput {
  /** An ISO-8601 duration from now (P30D, PT12H): see shared/duration.ts. */
  retainFor?: string | null | undefined;
  /** An instant (ISO-8601 with an offset, or a Date). */
  expiresAt?: string | Date | null | undefined;
}

/**
 * When a requested report expires: the request's retainFor or expiresAt (at most one), else the
 * template's default, else the policy's default; null: kept until deleted. Bad input — both given,
 * an unreadable duration or date, a time in the past, longer than RETENTION_MAX — is an
 * InvalidParamsError naming the field, before anything is appended.
 */
export function expiryFor(input: RetentionInput, template: string, policy: RetentionPolicy, now: Date): Date | null {
  const { retainFor, expiresAt } = input;
  if (retainFor != null && expiresAt != null) {
    throw new InvalidParamsError([{ path: 'retainFor', message: 'give retainFor or expiresAt, not both' }]);
  }
  let at: Date | null = null;
  let path: 'retainFor' | 'expiresAt' = 'retainFor';
  if (retainFor != null) {
    const seconds = parseDurationSeconds(retainFor);
    if (seconds === null) throw new InvalidParamsError([{ path, message: `not ${DURATION_HINT}` }]);
    at = new Date(now.getTime() + seconds * 1000);
  } else if (expiresAt != null) {
    path = 'expiresAt';
    at = expiresAt instanceof Date ? expiresAt : new Date(expiresAt);
    if (Number.isNaN(at.getTime()) || (typeof expiresAt === 'string' && !/^\d{4}-\d\d-\d\dT[\d:.]+(Z|[+-]\d\d:\d\d)$/.test(expiresAt))) {
      throw new InvalidParamsError([{ path, message: 'not an ISO-8601 date and time with an offset, e.g. 2027-01-31T00:00:00Z' }]);
    }
    if (at.getTime() <= now.getTime()) throw new InvalidParamsError([{ path, message: 'must be in the future' }]);
  } else {
    const seconds = policy.byTemplate[template] ?? policy.defaultSeconds;
    // The defaults are checked against the maximum at start-up (config.ts).
    return seconds === null ? null : new Date(now.getTime() + seconds * 1000);
  }
  if (!(at.getTime() <= LAST_EXPIRY)) throw new InvalidParamsError([{ path, message: 'must be before the year 10000' }]);
  if (policy.maxSeconds !== null && at.getTime() - now.getTime() > policy.maxSeconds * 1000) {
    throw new InvalidParamsError([{ path, message: `reports are kept at most ${formatDuration(policy.maxSeconds)} (RETENTION_MAX)` }]);
  }
  return at;
}
