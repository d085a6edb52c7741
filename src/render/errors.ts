import { QuireError } from '../errors.js';

/**
 * Why a render did not produce a PDF:
 * - `invalid_job`: unknown template or params that fail its schema (retrying will not help);
 * - `failed`: the template or pdfmake threw;
 * - `crashed`: the worker died (exit, uncaught error) — it has been replaced;
 * - `out_of_memory`: the render needed more heap than the worker's resourceLimits — it has been replaced;
 * - `timeout`: the render ran past the pool's deadline; its worker was terminated and replaced;
 * - `abandoned`: the process rendering it died or stopped renewing its lease (seen by the next claim);
 * - `aborted`: the caller's AbortSignal fired (the worker was terminated);
 * - `closed`: the pool was closed first.
 */
export type RenderFailure = 'invalid_job' | 'failed' | 'crashed' | 'out_of_memory' | 'timeout' | 'abandoned' | 'aborted' | 'closed';

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
