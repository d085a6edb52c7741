import type { AppendMetadata } from '../events/append.js';
import { WrongExpectedVersionError } from '../events/errors.js';
import type { EventStore } from '../events/event-store.js';
import { decide, ReportMovedOnError, type ReportCommand, type ReportDecision, type RetryTiming } from '../reports/decide.js';
import type { ReportState } from '../reports/report-state.js';
import type { BackoffPolicy } from '../reports/backoff.js';
import { GoneError, ReportHeldError } from '../reports/errors.js';

/**
 * A worker's "decide → append": the events `decide` gives for the command, appended at the version
 * the worker read. If the report moved on meanwhile (another worker finished it, a retry was
 * requested, it was deleted or held), the command is stale and nothing is written. Returns the events
 * appended, or null when nothing was.
 */
export async function appendDecision(store: EventStore, state: ReportState, command: ReportCommand, meta: AppendMetadata): Promise<ReportDecision | null> {
  let events;
  try {
    events = decide(command, state);
  } catch (err) {
    if (err instanceof ReportMovedOnError || err instanceof GoneError || err instanceof ReportHeldError) return null;
    throw err;
  }
  if (events.length === 0) return null;
  try {
    await store.append(state.streamId, state.version, events, meta);
    return events;
  } catch (err) {
    if (err instanceof WrongExpectedVersionError) return null;
    throw err;
  }
}

/** The retry timing of this moment (the clock and Math.random jitter), for failure commands. */
export function timingNow(backoff: BackoffPolicy): RetryTiming {
  return { backoff, now: new Date(), jitter: Math.random() };
}
