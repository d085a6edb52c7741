import { QuireError } from '../errors.js';
import type { ExpectedVersion } from './expected-version.js';

/** The stream was not at the version the caller expected: someone else appended first. */
export class WrongExpectedVersionError extends QuireError {
  readonly code = 'WRONG_EXPECTED_VERSION';
  constructor(
    readonly streamId: string,
    readonly expected: ExpectedVersion,
    readonly actual: number,
  ) {
    super(`stream ${streamId}: expected version ${String(expected)}, but it is at ${actual}`);
    this.name = 'WrongExpectedVersionError';
  }
}

export interface EventIssue {
  /** Index of the offending event in the append call. */
  index: number;
  path: string;
  message: string;
}

/** An event that is not one of quire's types, or whose payload fails its schema. Nothing was written. */
export class InvalidEventError extends QuireError {
  readonly code = 'INVALID_EVENT';
  constructor(readonly issues: EventIssue[]) {
    super(`invalid event: ${issues.map((i) => `#${i.index} ${i.path || '(root)'}: ${i.message}`).join('; ')}`);
    this.name = 'InvalidEventError';
  }
}

/** Event ids already used, but not as exactly this append: a retried append must repeat the original. */
export class IdempotencyConflictError extends QuireError {
  readonly code = 'IDEMPOTENCY_CONFLICT';
  constructor(
    readonly streamId: string,
    readonly eventIds: string[],
  ) {
    super(`stream ${streamId}: event ids ${eventIds.join(', ')} were already appended in a different way`);
    this.name = 'IdempotencyConflictError';
  }
}

export class InvalidStreamIdError extends QuireError {
  readonly code = 'INVALID_STREAM_ID';
  constructor(readonly streamId: string) {
    super(`invalid stream id ${JSON.stringify(streamId)}: use 1–200 characters of [A-Za-z0-9_.:-]`);
    this.name = 'InvalidStreamIdError';
  }
}
