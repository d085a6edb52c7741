import { QuireError } from '../errors.js';

/** The report exists but has no file yet. */
export class NotReadyError extends QuireError {
  readonly code = 'NOT_READY';
  constructor(
    readonly reportId: string,
    readonly status: string,
  ) {
    super(`report ${reportId} is not ready yet (status ${status})`);
    this.name = 'NotReadyError';
  }
}

/** The report failed for good; `reason` is its last error. */
export class ReportFailedError extends QuireError {
  readonly code = 'FAILED';
  constructor(
    readonly reportId: string,
    readonly reason: string,
  ) {
    super(`report ${reportId} failed: ${reason}`);
    this.name = 'ReportFailedError';
  }
}

/**
 * The file exists, but only where this instance cannot send the caller: no route to that machine
 * or region, or a replayed request that reached a machine other than the holder (gone, stopped).
 * `regions` lists the places (machines, or regions for region-level copies) that hold it.
 */
export class UnavailableError extends QuireError {
  readonly code = 'UNAVAILABLE';
  constructor(
    readonly reportId: string,
    readonly regions: string[],
    detail = 'which cannot be reached from here',
  ) {
    super(`report ${reportId} is only on the volume of ${regions.join(', ')}, ${detail}`);
    this.name = 'UnavailableError';
  }
}

export class InvalidTtlError extends QuireError {
  readonly code = 'INVALID_PARAMS';
  constructor(
    readonly ttlSeconds: number,
    readonly max: number,
  ) {
    super(`ttlSeconds must be an integer from 1 to ${max}, got ${ttlSeconds}`);
    this.name = 'InvalidTtlError';
  }
}
