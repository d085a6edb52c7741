import { QuireError } from '../errors.js';

/**
 * Why a render did not produce a PDF:
 * - `invalid_job`: unknown template or params that fail its schema (retrying will not help);
 * - `failed`: the template or pdfmake threw;
 * - `crashed`: the worker died (exit, uncaught error, out of memory) — it has been replaced;
 * - `aborted`: the caller's AbortSignal fired (the worker was terminated);
 * - `closed`: the pool was closed first.
 */
export type RenderFailure = 'invalid_job' | 'failed' | 'crashed' | 'aborted' | 'closed';

export class RenderError extends QuireError {
  readonly code = 'RENDER_FAILED';
  constructor(
    readonly reason: RenderFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`render ${reason}: ${message}`, options);
    this.name = 'RenderError';
  }
}
