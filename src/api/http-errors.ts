import type { ServerResponse } from 'node:http';
import { QuireError } from '../errors.js';

const STATUS: Record<string, number> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  INVALID_PARAMS: 400,
  INVALID_STORAGE_KEY: 400,
  INVALID_LSN: 400,
  NOT_READY: 409,
  FAILED: 409,
  NOT_RETRYABLE: 409,
  GONE: 410,
  HELD: 409,
  NOT_HELD: 409,
  RANGE_NOT_SATISFIABLE: 416,
  BAD_REQUEST: 400,
  UNAVAILABLE: 503,
  OBJECT_STORE_UNAVAILABLE: 503,
};

/** A request that cannot be read as one: a malformed URL or percent-encoding, say. */
export class BadRequestError extends QuireError {
  readonly code = 'BAD_REQUEST';
  constructor(message: string) {
    super(message);
    this.name = 'BadRequestError';
  }
}

/** A URL path component, percent-decoded; malformed encoding (`%ZZ`, a lone `%`, invalid UTF-8) is a BadRequestError. */
export function decodePathParam(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new BadRequestError(`malformed percent-encoding in the URL path: ${JSON.stringify(raw.slice(0, 100))}`);
  }
}

/** The HTTP status for a typed error; anything else is a 500 that says nothing about internals. */
export function statusFor(err: unknown): number {
  return err instanceof QuireError ? (STATUS[err.code] ?? 400) : 500;
}

/** `{ error: { code, message, ...details } }`: the same typed errors GraphQL returns, as JSON. */
export function sendError(res: ServerResponse, err: unknown, extraHeaders: Record<string, string> = {}): void {
  const status = statusFor(err);
  const body =
    err instanceof QuireError
      ? { error: { ...publicDetails(err), code: err.code, message: err.message } }
      : { error: { code: 'INTERNAL', message: 'internal error' } };
  sendJson(res, status, body, extraHeaders);
}

export function sendJson(res: ServerResponse, status: number, body: unknown, extraHeaders: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...extraHeaders });
  res.end(JSON.stringify(body));
}

/** Own enumerable fields of the error (reportId, status, regions…), never the stack or a cause. */
function publicDetails(err: QuireError): Record<string, unknown> {
  const details: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(err)) if (k !== 'cause' && k !== 'stack') details[k] = v;
  return details;
}
