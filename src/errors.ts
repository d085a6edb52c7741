/**
 * Base of every error quire reports to a caller on purpose. `code` is stable and machine-readable;
 * the API layer maps codes to typed GraphQL results and HTTP statuses.
 */
export abstract class QuireError extends Error {
  abstract readonly code: string;
}

export interface ParamIssue {
  /** Dotted path from the input root, e.g. `params.columns.0.key`. */
  path: string;
  message: string;
}

/**
 * Bad input of any kind, with what is wrong where: the one invalid-input error, end to end (the
 * GraphQL result type has the same name). Domain errors that are bad input too (an unknown
 * template, params too large, a bad TTL) become one at the API edge.
 */
export class InvalidParamsError extends QuireError {
  readonly code = 'INVALID_PARAMS';
  constructor(
    readonly issues: ParamIssue[],
    message = `invalid input: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
  ) {
    super(message);
    this.name = 'InvalidParamsError';
  }
}

/**
 * The request conflicts with the state it met: the report changed at the same moment (retry after
 * reading it again), or an idempotency key already names a different request (use a new key).
 */
export class ConflictError extends QuireError {
  readonly code = 'CONFLICT';
  constructor(message: string) {
    super(message);
    this.name = 'ConflictError';
  }
}
