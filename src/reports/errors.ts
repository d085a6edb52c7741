import { QuireError } from '../errors.js';

export class UnknownTemplateError extends QuireError {
  readonly code = 'UNKNOWN_TEMPLATE';
  constructor(
    readonly template: string,
    readonly known: readonly string[],
  ) {
    super(`unknown template ${JSON.stringify(template)}; known templates: ${known.join(', ')}`);
    this.name = 'UnknownTemplateError';
  }
}

export class ParamsTooLargeError extends QuireError {
  readonly code = 'PARAMS_TOO_LARGE';
  constructor(
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(`params are ${bytes} bytes as JSON; the limit is ${limit}`);
    this.name = 'ParamsTooLargeError';
  }
}

/** Also what a user gets for a report that exists but is not theirs: existence is not leaked. */
export class ReportNotFoundError extends QuireError {
  readonly code = 'NOT_FOUND';
  constructor(readonly reportId: string) {
    super(`report ${reportId} not found`);
    this.name = 'ReportNotFoundError';
  }
}

export class NotRetryableError extends QuireError {
  readonly code = 'NOT_RETRYABLE';
  constructor(
    readonly reportId: string,
    readonly status: string,
  ) {
    super(`report ${reportId} is ${status}; only a FAILED report, or a copy that was given up on, can be retried`);
    this.name = 'NotRetryableError';
  }
}

/**
 * The report's title and params are in the append-only log in clear — requested before personal
 * data was encrypted, or imported from the legacy application — so they cannot be erased without
 * rewriting the log (which its hash chain and seals exist to prevent). Nothing is changed.
 */
export class ErasureUnsupportedError extends QuireError {
  readonly code = 'ERASURE_UNSUPPORTED';
  constructor(
    readonly reportId: string,
    readonly why: 'plaintext' | 'legacy',
  ) {
    super(
      `report ${reportId} cannot be erased: its title and params are in the append-only log in clear ` +
        (why === 'legacy' ? '(imported from the legacy application)' : '(requested before personal data was encrypted)') +
        ', and rewriting the log would break its hash chain and seals; see README, Erasure',
    );
    this.name = 'ErasureUnsupportedError';
  }
}

/**
 * The report existed but is gone (expired, deleted, erased): nothing of it is served any more. Only ever
 * answered to someone who may read the report; to anyone else it is NOT_FOUND like any other.
 */
export class GoneError extends QuireError {
  readonly code = 'GONE';
  constructor(
    readonly reportId: string,
    readonly status: string,
  ) {
    super(`report ${reportId} is gone (${status})`);
    this.name = 'GoneError';
  }
}

/** Under legal hold: it cannot be deleted, expire, or be held a second time until it is released. */
export class ReportHeldError extends QuireError {
  readonly code = 'HELD';
  constructor(readonly reportId: string) {
    super(`report ${reportId} is under legal hold; release it first`);
    this.name = 'ReportHeldError';
  }
}

/** releaseReport on a report that is not held. */
export class NotHeldError extends QuireError {
  readonly code = 'NOT_HELD';
  constructor(readonly reportId: string) {
    super(`report ${reportId} is not under legal hold`);
    this.name = 'NotHeldError';
  }
}

/** A report's data key is there but cannot be opened: the wrong DATA_ENCRYPTION_KEY, or a damaged row. */
export class DataKeyUnavailableError extends QuireError {
  readonly code = 'DATA_KEY_UNAVAILABLE';
  constructor(
    readonly reportId: string,
    why: string,
  ) {
    super(`the data key of report ${reportId} cannot be opened: ${why}`);
    this.name = 'DataKeyUnavailableError';
  }
}
