import type { EventData } from '../events/types.js';
import { QuireError } from '../errors.js';
import { nextAttemptAt, type BackoffPolicy } from './backoff.js';
import { ErasureUnsupportedError, GoneError, NotHeldError, NotRetryableError, ReportHeldError } from './errors.js';
import type { ReportEvent } from './report-events.js';
import { isExpiryDue, isGone, isStuckCopy, LEGACY_TEMPLATE, type ReportLocation, type ReportState } from './report-state.js';

/**
 * The report's decider: what each command appends to a report's stream, given the report's state
 * (folded by `evolve`), or the typed error that refuses it. Pure: whoever runs a command loads the
 * state, calls `decide`, and appends what it returns at the version it loaded (the I/O — rendering,
 * copying, hashing — happens before, and its outcome is the command).
 */

/** When and how a failed stage is tried again: the policy, and the clock and jitter of this moment. */
export interface RetryTiming {
  backoff: BackoffPolicy;
  now: Date;
  /** 0..1: spreads the retries of reports that failed together (Math.random() in production). */
  jitter: number;
}

export type ReportCommand =
  | { type: 'RequestReport'; data: EventData<'ReportRequested'> }
  | {
      type: 'RecordRender';
      rendered: EventData<'ReportRendered'>;
      /** Where the file went: this machine's volume, or straight to the object store (object mode). */
      stored: { type: 'ReportStoredLocal'; data: EventData<'ReportStoredLocal'> } | { type: 'ReportReplicated'; data: EventData<'ReportReplicated'> };
    }
  | {
      type: 'RecordRenderFailure';
      stage: 'render' | 'store';
      error: string;
      /** A job that can never render (bad params for its template): not tried again. */
      permanent: boolean;
      /** The object store did not answer (object mode): waited out, not counted against the attempts. */
      outage: boolean;
      timing: RetryTiming;
    }
  | { type: 'RecordAbandonedRender'; error: string; timing: RetryTiming }
  | {
      type: 'RecordCopy';
      copied: { type: 'ReportReplicated'; data: EventData<'ReportReplicated'> } | { type: 'ReportMigrated'; data: EventData<'ReportMigrated'> };
    }
  | {
      type: 'RecordCopyFailure';
      kind: 'replicate' | 'migrate';
      error: string;
      /** The file is not what its record says: an operator has to look, so it is not tried again. */
      mismatch: boolean;
      timing: RetryTiming;
    }
  | { type: 'RetryReport'; reason?: string }
  | { type: 'RecordLegacyFileFound'; found: EventData<'ReportStoredLocal'> }
  | { type: 'ForgetVolumeCopy'; machine: string; reason: string }
  | {
      type: 'RecordWebhookAttempt';
      /** The delivery attempted: it must still be the head of the report's webhook queue. */
      deliveryId: string;
      outcome:
        | { delivered: true; httpStatus: number }
        /** `permanent`: the callback URL is refused now (no longer allowed, a private address): not tried again. */
        | { delivered: false; httpStatus: number | null; error: string; permanent: boolean };
      timing: RetryTiming;
    }
  /** The expiry sweep, at `now`: the report's expiresAt has passed. */
  | { type: 'ExpireReport'; now: Date }
  | { type: 'DeleteReport'; by: string; reason?: string }
  | { type: 'HoldReport'; by: string; reason?: string }
  | { type: 'ReleaseReport'; by: string }
  /** The purge stage deleted these copies' bytes (each named as the state lists it). */
  | { type: 'RecordPurge'; copies: Pick<ReportLocation, 'kind' | 'place'>[] }
  /** An admin erases the report's personal data (its data key goes with the event). */
  | { type: 'EraseReport'; by: string; reason: string }
  /**
   * The webhook stage found deliveries still queued on an erased report (erased before erasures
   * cancelled them): they are cancelled instead of attempted.
   */
  | { type: 'CancelWebhooks' };

/** What a command appends: the report's events, in order (nothing when there is nothing to do). */
export type ReportDecision = ReportEvent[];

/**
 * The command does not apply to the report as it is now: it moved on since the command was formed
 * (another worker finished it, a retry was requested) or never was in that state. Workers drop the
 * command; nothing is appended.
 */
export class ReportMovedOnError extends QuireError {
  readonly code = 'REPORT_MOVED_ON';
  constructor(
    readonly command: ReportCommand['type'],
    readonly status: ReportState['status'] | null,
  ) {
    super(`${command} does not apply to a report that is ${status ?? 'not there'}`);
    this.name = 'ReportMovedOnError';
  }
}

/** A report stream that already exists is not requested again (an idempotent retry is recognised by its event id). */
export class ReportExistsError extends QuireError {
  readonly code = 'REPORT_EXISTS';
  constructor(readonly reportId: string) {
    super(`report ${reportId} exists already`);
    this.name = 'ReportExistsError';
  }
}

/** Copy stages give up only on a mismatch; an unreachable store is retried until it is back. */
const UNTIL_BACK = Number.POSITIVE_INFINITY;

/**
 * The longest a copy waits between attempts. A copy fails because the store is down, not because
 * of the report, so its backoff must not grow like a render's (10 min): the backlog of an outage
 * then lands within a minute of the store coming back instead of each copy's own long wait.
 */
export const COPY_RETRY_MAX_MS = 60_000;

/** The copy of a report's file that this machine may take: its own volume's, else a region-level one of its region. */
export function copyFor(state: ReportState, region: string, machine: string): ReportLocation | undefined {
  const volumes = state.locations.filter((l) => l.kind === 'volume');
  return volumes.find((l) => l.machine === machine) ?? volumes.find((l) => l.machine === null && l.region === region);
}

/**
 * An erased report says nothing more about itself to anyone: every delivery still queued is
 * cancelled, in queue order (each event settles the head of the queue).
 */
function cancelledWebhooks(state: ReportState): ReportEvent[] {
  return (state.webhook?.pending ?? []).map(({ deliveryId, status }) => ({ type: 'WebhookCancelled' as const, data: { deliveryId, status, reason: 'erased' as const } }));
}

/** A FAILED report goes back to the render queue; a copy that was given up on, back to the copy queue. */
export function isRetryable(state: ReportState): boolean {
  return state.status === 'FAILED' || isStuckCopy(state);
}

function failure(
  state: ReportState,
  stage: EventData<'ReportFailed'>['stage'],
  error: string,
  retry: { timing: RetryTiming; maxAttempts?: number; maxDelayMs?: number } | null,
): ReportDecision {
  const attempt = state.attempts + 1;
  const backoff = retry?.timing.backoff;
  const policy = retry &&
    backoff && {
      ...backoff,
      ...(retry.maxAttempts === undefined ? {} : { maxAttempts: retry.maxAttempts }),
      ...(retry.maxDelayMs === undefined ? {} : { maxDelayMs: Math.min(backoff.maxDelayMs ?? retry.maxDelayMs, retry.maxDelayMs) }),
    };
  const retryAt = retry && policy ? nextAttemptAt(attempt, policy, retry.timing.now, () => retry.timing.jitter) : null;
  return [{ type: 'ReportFailed', data: { stage, error: error.slice(0, 4000), attempt, retryAt: retryAt?.toISOString() ?? null } }];
}

export function decide(command: ReportCommand, state: ReportState | null): ReportDecision {
  if (command.type === 'RequestReport') {
    if (state) throw new ReportExistsError(command.data.reportId);
    return [{ type: 'ReportRequested', data: command.data }];
  }
  if (!state) throw new ReportMovedOnError(command.type, null);
  const movedOn = () => new ReportMovedOnError(command.type, state.status);
  // Gone is terminal: only what happens to its copies is still recorded — purged, or lost with a
  // forgotten volume (which no purge will ever reach) — an erasure (a deleted or expired report's
  // request is still in the log, encrypted, until its key goes), and its webhooks: a delivery
  // announces a transition made before it went (deleted, expired), unless it was erased.
  const stillRecorded: ReportCommand['type'][] = ['RecordPurge', 'ForgetVolumeCopy', 'EraseReport', 'CancelWebhooks', 'RecordWebhookAttempt'];
  if (isGone(state) && !stillRecorded.includes(command.type)) {
    // What a person asked for is answered GONE; a worker's stale command is just moved on.
    if (['ExpireReport', 'DeleteReport', 'HoldReport', 'ReleaseReport', 'RetryReport'].includes(command.type)) {
      throw new GoneError(state.reportId, state.status);
    }
    throw movedOn();
  }
  switch (command.type) {
    case 'RecordRender':
      if (state.status !== 'REQUESTED') throw movedOn();
      return [{ type: 'ReportRendered', data: command.rendered }, command.stored];
    case 'RecordRenderFailure':
      if (state.status !== 'REQUESTED') throw movedOn();
      return failure(state, command.stage, command.error, command.permanent ? null : { timing: command.timing, ...(command.outage ? { maxAttempts: UNTIL_BACK } : {}) });
    case 'RecordAbandonedRender':
      // The last claimer died or hung at this very state: that was an attempt, with backoff, so a
      // report that kills every process that renders it ends FAILED instead of crash-looping the fleet.
      if (state.status !== 'REQUESTED') throw movedOn();
      return failure(state, 'render', command.error, { timing: command.timing });
    case 'RecordCopy':
      if (state.status !== 'STORED') throw movedOn();
      return [command.copied];
    case 'RecordCopyFailure':
      // Never makes the report FAILED (evolve): the file on the volume stays usable.
      if (state.status !== 'STORED') throw movedOn();
      return failure(state, command.kind, command.error, command.mismatch ? null : { timing: command.timing, maxAttempts: UNTIL_BACK, maxDelayMs: COPY_RETRY_MAX_MS });
    case 'RetryReport':
      if (!isRetryable(state)) throw new NotRetryableError(state.reportId, state.status);
      return [{ type: 'ReportRetryRequested', data: command.reason === undefined ? {} : { reason: command.reason } }];
    case 'RecordLegacyFileFound':
      // Already recorded on this machine (a scan run twice): nothing new.
      if (state.locations.some((l) => l.kind === 'volume' && l.machine === command.found.machine)) return [];
      return [{ type: 'ReportStoredLocal', data: command.found }];
    case 'EraseReport':
      // Erased already (a retried command): nothing new to record.
      if (state.status === 'ERASED') return [];
      // A legal hold keeps the report as it is until an admin releases it (then it can be erased).
      if (state.held) throw new ReportHeldError(state.reportId);
      // In clear in the append-only log: deleting a key would erase nothing, so say so.
      if (!state.encrypted) throw new ErasureUnsupportedError(state.reportId, state.template === LEGACY_TEMPLATE ? 'legacy' : 'plaintext');
      // Its deliveries still queued end with it, in the same append: none is attempted after it.
      return [{ type: 'ReportErased', data: { by: command.by, reason: command.reason } }, ...cancelledWebhooks(state)];
    case 'CancelWebhooks':
      if (state.status !== 'ERASED') throw movedOn();
      return cancelledWebhooks(state);
    case 'ForgetVolumeCopy': {
      const copy = state.locations.find((l) => l.kind === 'volume' && l.machine === command.machine);
      if (!copy) return [];
      return [{ type: 'ReportVolumeForgotten', data: { machine: command.machine, region: copy.region!, reason: command.reason } }];
    }
    case 'RecordWebhookAttempt': {
      // Whatever the report's status (deleted and expired too): a delivery announces a transition
      // already made. Not an erased report's: its queue was cancelled (an attempt that was in
      // flight when it was erased is not recorded).
      const head = state.webhook?.pending[0];
      if (state.status === 'ERASED' || !head || head.deliveryId !== command.deliveryId) throw movedOn();
      const { deliveryId, status } = head;
      const attempt = head.attempts + 1;
      const { outcome, timing } = command;
      if (outcome.delivered) return [{ type: 'WebhookDelivered', data: { deliveryId, status, attempt, httpStatus: outcome.httpStatus } }];
      const error = outcome.error.slice(0, 1000);
      const retryAt = outcome.permanent ? null : nextAttemptAt(attempt, timing.backoff, timing.now, () => timing.jitter);
      const failed: ReportEvent = {
        type: 'WebhookAttemptFailed',
        data: { deliveryId, status, attempt, httpStatus: outcome.httpStatus, error, retryAt: retryAt?.toISOString() ?? null },
      };
      return retryAt ? [failed] : [failed, { type: 'WebhookFailed', data: { deliveryId, status, attempts: attempt, error } }];
    }
    case 'ExpireReport':
      if (state.held) throw new ReportHeldError(state.reportId);
      // Not due (no expiry, or later than now): the sweep read a row that changed since.
      if (!isExpiryDue(state, command.now)) throw movedOn();
      return [{ type: 'ReportExpired', data: { at: state.expiresAt!.toISOString() } }];
    case 'DeleteReport':
      if (state.held) throw new ReportHeldError(state.reportId);
      return [{ type: 'ReportDeleted', data: { by: command.by, ...(command.reason === undefined ? {} : { reason: command.reason }) } }];
    case 'HoldReport':
      if (state.held) throw new ReportHeldError(state.reportId);
      return [{ type: 'ReportHeld', data: { by: command.by, ...(command.reason === undefined ? {} : { reason: command.reason }) } }];
    case 'ReleaseReport':
      if (!state.held) throw new NotHeldError(state.reportId);
      return [{ type: 'ReportReleased', data: { by: command.by } }];
    case 'RecordPurge': {
      if (!isGone(state)) throw movedOn();
      // A copy already recorded as purged (a purge run twice) is not recorded again.
      const copies = state.locations.filter((l) => command.copies.some((c) => c.kind === l.kind && c.place === l.place));
      return copies.map((l) => ({
        type: 'ReportPurged' as const,
        data: {
          location:
            l.kind === 'object'
              ? { kind: 'object' as const, bucket: l.place, key: l.key }
              : { kind: 'volume' as const, region: l.region!, machine: l.machine, key: l.key },
        },
      }));
    }
  }
}
