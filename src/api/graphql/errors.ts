import { WrongExpectedVersionError } from '../../events/errors.js';
import { storableJsonIssues } from '../../events/storable-json.js';
import { ConflictError, InvalidParamsError, QuireError } from '../../errors.js';

export { ConflictError };
import { ForbiddenError } from '../../actor.js';
import {
  ErasureUnsupportedError,
  GoneError,
  NotHeldError,
  NotRetryableError,
  ReportHeldError,
  ParamsTooLargeError,
  ReportNotFoundError,
  UnknownTemplateError,
} from '../../reports/errors.js';
import { InvalidTtlError, NotReadyError, ReportFailedError, UnavailableError } from '../../storage/download-errors.js';
import { ObjectStoreUnavailableError } from '../../storage/object-store.js';
import { builder } from './builder.js';
import { REPORT_STATUS } from './enums.js';

/** Every expected failure is a typed result implementing Error; `code` is stable for clients. */
export const ErrorInterface = builder.interfaceRef<QuireError>('Error').implement({
  fields: (t) => ({
    message: t.exposeString('message'),
    code: t.exposeString('code'),
  }),
});

const ParamIssue = builder.objectRef<{ path: string; message: string }>('ParamIssue').implement({
  fields: (t) => ({
    path: t.exposeString('path', { description: 'Dotted path into the input, e.g. params.columns.0.key' }),
    message: t.exposeString('message'),
  }),
});

builder.objectType(ReportNotFoundError, {
  name: 'NotFoundError',
  description: 'No such report, or not one you may see (the two are indistinguishable on purpose).',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof ReportNotFoundError,
  fields: (t) => ({ reportId: t.exposeString('reportId') }),
});

builder.objectType(NotReadyError, {
  name: 'NotReadyError',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof NotReadyError,
  fields: (t) => ({ reportId: t.exposeString('reportId'), status: t.field({ type: REPORT_STATUS, resolve: (e) => e.status as never }) }),
});

builder.objectType(ReportFailedError, {
  name: 'FailedError',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof ReportFailedError,
  fields: (t) => ({ reportId: t.exposeString('reportId'), reason: t.exposeString('reason') }),
});

builder.objectType(UnavailableError, {
  name: 'UnavailableError',
  description: 'The file exists only on volumes this instance cannot route to.',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof UnavailableError,
  fields: (t) => ({ reportId: t.exposeString('reportId'), regions: t.exposeStringList('regions') }),
});

builder.objectType(ObjectStoreUnavailableError, {
  name: 'ObjectStoreUnavailableError',
  description: 'The only copy is in the object store, which does not answer right now: retry later.',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof ObjectStoreUnavailableError,
  fields: () => ({}),
});

builder.objectType(ForbiddenError, {
  name: 'ForbiddenError',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof ForbiddenError,
  fields: () => ({}),
});

builder.objectType(NotRetryableError, {
  name: 'NotRetryableError',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof NotRetryableError,
  fields: (t) => ({ reportId: t.exposeString('reportId'), status: t.field({ type: REPORT_STATUS, resolve: (e) => e.status as never }) }),
});

builder.objectType(ErasureUnsupportedError, {
  name: 'ErasureUnsupportedError',
  description: 'The report’s title and params are in the append-only log in clear (requested before encryption, or a legacy import): they cannot be erased.',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof ErasureUnsupportedError,
  fields: (t) => ({ reportId: t.exposeString('reportId') }),
});

builder.objectType(GoneError, {
  name: 'GoneError',
  description: 'The report expired, was deleted or was erased: nothing of it is served any more.',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof GoneError,
  fields: (t) => ({ reportId: t.exposeString('reportId'), status: t.field({ type: REPORT_STATUS, resolve: (e) => e.status as never }) }),
});

builder.objectType(ReportHeldError, {
  name: 'HeldError',
  description: 'The report is under legal hold: it cannot be deleted (or held again) until an admin releases it.',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof ReportHeldError,
  fields: (t) => ({ reportId: t.exposeString('reportId') }),
});

builder.objectType(NotHeldError, {
  name: 'NotHeldError',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof NotHeldError,
  fields: (t) => ({ reportId: t.exposeString('reportId') }),
});

/** The domain's other bad-input errors as the one InvalidParamsError, with the input path they are about. */
export function asInvalidParams(err: unknown): InvalidParamsError | null {
  if (err instanceof InvalidParamsError) return err;
  if (err instanceof UnknownTemplateError) return new InvalidParamsError([{ path: 'template', message: err.message }], err.message);
  if (err instanceof ParamsTooLargeError) return new InvalidParamsError([{ path: 'params', message: err.message }], err.message);
  if (err instanceof InvalidTtlError) return new InvalidParamsError([{ path: 'ttlSeconds', message: err.message }], err.message);
  return null;
}

builder.objectType(InvalidParamsError, {
  name: 'InvalidParamsError',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof InvalidParamsError,
  fields: (t) => ({ issues: t.field({ type: [ParamIssue], resolve: (e) => e.issues }) }),
});

builder.objectType(ConflictError, {
  name: 'ConflictError',
  description:
    'The request conflicts with what is already there: someone else changed the report at the same moment (read it again and retry), or an idempotency key was already used for a different request.',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof ConflictError,
  fields: () => ({}),
});

/**
 * A text argument that goes to SQL as a parameter: PostgreSQL refuses NUL in text (and jsonb lone
 * surrogates), which would surface as an internal error; refuse it as the caller's.
 */
export function textArg(value: string, path: string): string {
  const issues = storableJsonIssues(value);
  if (issues.length > 0) throw new InvalidParamsError([{ path, message: issues[0]!.message }], `invalid ${path}: ${issues[0]!.message}`);
  return value;
}

/** Runs a command and turns its domain errors into the typed results the schema declares. */
export async function asResult<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    const invalid = asInvalidParams(err);
    if (invalid) throw invalid;
    if (err instanceof WrongExpectedVersionError) throw new ConflictError(err.message);
    throw err;
  }
}
