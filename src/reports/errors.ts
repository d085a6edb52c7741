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
