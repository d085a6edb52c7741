import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.js';

/** The header a request id is echoed in (and taken from, after Fly's own). */
export const REQUEST_ID_HEADER = 'x-request-id';

/** An id a client or Fly's proxy sent is kept only if it is short and harmless to log. */
const SAFE_ID = /^[A-Za-z0-9._:-]{1,100}$/;

/** A GraphQL operation name (its grammar), short enough for a log line and a span name. */
const OPERATION_NAME = /^[_A-Za-z][_0-9A-Za-z]{0,99}$/;

/**
 * The operation name a log line (and a span) shows: the document's, else the one the client sent
 * if it is a name at all, else `invalid` — a client's operationName is free text until the
 * document confirms it, and must not put 1 MB or a forged line into the log.
 */
export function operationLabel(documentName: string | undefined, clientName: string | null | undefined): string {
  if (documentName !== undefined) return documentName;
  if (clientName == null) return 'anonymous';
  return OPERATION_NAME.test(clientName) ? clientName : 'invalid';
}

/** What one request's log line says, filled in as the request goes (the route, GraphQL, auth). */
export interface RequestRecord {
  readonly id: string;
  /** The GraphQL operation's name (or `anonymous`), for /graphql. */
  operation?: string;
  /** Who asked, once their token was checked. */
  viewer?: string;
}

const records = new WeakMap<IncomingMessage, RequestRecord>();

/** Fly's request id, else the client's x-request-id, else a new one. */
export function requestIdFrom(headers: IncomingHttpHeaders): string {
  for (const name of ['fly-request-id', REQUEST_ID_HEADER]) {
    const value = headers[name];
    if (typeof value === 'string' && SAFE_ID.test(value)) return value;
  }
  return randomUUID();
}

/**
 * What the log shows of a path: never a /files link's token (it is a credential until it
 * expires), never a query string (a redirected link's `via`, GraphQL's GET parameters).
 */
export function loggedPath(url: string | undefined): string {
  const pathname = (url ?? '/').split('?')[0]!.slice(0, 200);
  return pathname.startsWith('/files/') ? '/files/:token' : pathname;
}

/** This request's record, for the parts of the server that learn who asked or what it was. */
export function requestRecord(req: IncomingMessage | undefined): RequestRecord | undefined {
  return req ? records.get(req) : undefined;
}

/**
 * Starts the one log line of an HTTP request: its id is echoed in x-request-id at once, and the
 * line is written when the response is done (or the connection dropped: `aborted`).
 */
export function logRequest(log: Logger, req: IncomingMessage, res: ServerResponse, onDone?: (record: RequestRecord, status: number, seconds: number) => void): RequestRecord {
  const record: RequestRecord = { id: requestIdFrom(req.headers) };
  records.set(req, record);
  res.setHeader(REQUEST_ID_HEADER, record.id);
  const start = performance.now();
  res.once('close', () => {
    const durationMs = Math.round((performance.now() - start) * 10) / 10;
    const status = res.statusCode;
    log.info(
      {
        requestId: record.id,
        method: req.method,
        path: loggedPath(req.url),
        ...(record.operation ? { operation: record.operation } : {}),
        status,
        durationMs,
        ...(record.viewer ? { viewer: record.viewer } : {}),
        ...(res.writableFinished ? {} : { aborted: true }),
      },
      'request',
    );
    onDone?.(record, status, durationMs / 1000);
  });
  return record;
}

/** One WebSocket operation's log line (graphql-ws), written when it completes or fails. */
export function logOperation(
  log: Logger,
  line: { requestId: string; operationId: string; operation: string; viewer?: string | undefined; status: 'ok' | 'error'; startedAt: number },
): void {
  const { startedAt, viewer, ...rest } = line;
  log.info({ ...rest, method: 'WS', path: '/graphql', ...(viewer ? { viewer } : {}), durationMs: Math.round((performance.now() - startedAt) * 10) / 10 }, 'request');
}

/** A bounded label for metrics: the route, without ids or tokens. */
export function metricsRoute(url: string | undefined): string {
  const path = loggedPath(url);
  if (path === '/graphql' || path === '/files/:token' || path === '/healthz' || path === '/readyz') return path;
  if (/^\/reports\/[^/]+\/download$/.test(path)) return '/reports/:id/download';
  if (path === '/' || path.startsWith('/ui')) return '/ui';
  return 'other';
}
