import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { sql } from 'kysely';
import { EventHub } from '../events/event-hub.js';
import { probeObjectStore } from '../storage/probe-object-store.js';
import type { Runtime } from '../runtime.js';
import { openLiveSubscriptions } from './graphql/live-subscription.js';
import { attachWebSocketServer } from './graphql/websocket.js';
import { createGraphQLServer } from './graphql/yoga.js';
import { QuireError } from '../errors.js';
import { limitConnectionsPerClient } from './client-connections.js';
import { BadRequestError, decodePathParam, sendError, sendJson } from './http-errors.js';
import { downloadReport } from './routes/report-download.js';
import { serveFile } from './routes/files.js';
import { uiRoutes, type UiOptions } from './routes/ui.js';
import { GRAPHIQL_CSP, graphiqlRoutes } from './routes/graphiql.js';
import { logRequest, metricsRoute } from './request-log.js';
import { withRequestSpan } from '../telemetry/spans.js';

export interface HttpServer {
  readonly server: Server;
  /** The bound address, e.g. http://127.0.0.1:4000 */
  readonly url: string;
  /** This server's in-memory fan-out of the log (its listener count shows open live subscriptions). */
  readonly hub: EventHub;
  /**
   * Shutdown begins: /readyz answers 503 at once (the health check takes this machine out of
   * rotation), WebSockets close with 1012 and SSE streams end so clients reconnect elsewhere, new
   * sockets of either kind are refused. Ordinary requests are still answered meanwhile.
   */
  drain(): void;
  /** Stops accepting, lets in-flight requests finish (at most `graceMs`, then cuts them), closes idle sockets. */
  close(graceMs?: number): Promise<void>;
}

type Handler = (runtime: Runtime, req: IncomingMessage, res: ServerResponse, param: string) => Promise<void>;

const health: Handler = async (runtime, _req, res) => sendJson(res, 200, { status: 'ok', region: runtime.config.region });

/**
 * Readiness: false while shutting down (whatever the database says), else whether the database
 * answers. The object store's state is in the body but never fails readiness: without it quire
 * still serves (downloads from volumes, copies wait).
 */
const readiness = (isDraining: () => boolean): Handler => async (runtime, _req, res) => {
  if (isDraining()) return sendJson(res, 503, { status: 'draining', database: runtime.database.kind });
  const objectStore = probeObjectStore(runtime.objectStore, 2000);
  try {
    await sql`SELECT 1`.execute(runtime.database.db);
    sendJson(res, 200, { status: 'ready', database: runtime.database.kind, objectStore: await objectStore });
  } catch {
    sendJson(res, 503, { status: 'unavailable', database: runtime.database.kind, objectStore: await objectStore });
  }
};

/**
 * GET (and HEAD) routes: a path pattern with at most one parameter. /readyz is added per server.
 * Metrics are not here: they are served on METRICS_PORT (./metrics-server.ts), with no token.
 */
const ROUTES: Array<[RegExp, Handler]> = [
  [/^\/healthz$/, health],
  [/^\/files\/([A-Za-z0-9_.-]{1,4096})$/, serveFile],
  [/^\/reports\/([^/]{1,100})\/download$/, downloadReport],
];

/**
 * A body over the limit is refused before anyone reads it; so is a body of unknown length (no
 * Content-Length), which could otherwise stream without end.
 */
function bodyRefusal(req: IncomingMessage, maxBytes: number): [number, string, string] | null {
  if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return null;
  const length = req.headers['content-length'];
  if (length === undefined) return [411, 'a Content-Length is required', 'BAD_REQUEST'];
  if (!/^\d+$/.test(length) || Number(length) > maxBytes) return [413, `the request body is over the limit of ${maxBytes} bytes`, 'BAD_REQUEST'];
  // What yoga reads; it answers anything else with an empty 415, which says nothing to the client.
  if (!GRAPHQL_MEDIA_TYPES.test(req.headers['content-type'] ?? '')) {
    return [415, 'send application/json (or application/graphql, multipart/form-data, application/x-www-form-urlencoded)', 'UNSUPPORTED_MEDIA_TYPE'];
  }
  return null;
}

const GRAPHQL_MEDIA_TYPES = /^\s*(application\/(json|graphql\+json|graphql-response\+json|graphql|x-www-form-urlencoded)|multipart\/form-data)\s*(;|$)/i;

/**
 * A request Node's parser refused (malformed, headers too large) or that took too long to arrive:
 * answered as Node would (400, 431, 408), but with a typed JSON body, then the socket is closed.
 */
function answerClientError(err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable || (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent) return void socket.destroy();
  const [status, reason, code] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'HEADERS_TOO_LARGE']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'REQUEST_TIMEOUT']
        : [400, 'Bad Request', 'BAD_REQUEST'];
  const body = JSON.stringify({ error: { code, message: status === 400 ? 'the request could not be parsed as HTTP' : reason.toLowerCase() } });
  socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

/** `options.devToken`: the dev token `quire serve` printed, prefilled in the progress page for loopback browsers outside production. */
export async function startHttpServer(runtime: Runtime, port: number, host: string, options: UiOptions = {}): Promise<HttpServer> {
  let draining = false;
  const routes: Array<[RegExp, Handler]> = [...ROUTES, [/^\/readyz$/, readiness(() => draining)], ...uiRoutes(options), ...graphiqlRoutes(!runtime.config.production)];
  // Open SSE streams (graphql over text/event-stream), ended when shutdown begins.
  const streams = new Set<ServerResponse>();
  const hub = new EventHub(runtime.store, runtime.log, (seconds) => runtime.metrics.eventDelivered(seconds));
  await hub.start();
  runtime.metrics.watchLive(() => ({ subscriptions: openLiveSubscriptions(), listeners: hub.listenerCount }));
  const yoga = createGraphQLServer(runtime, hub, options);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let path: string;
    try {
      path = new URL(req.url ?? '/', 'http://x').pathname;
    } catch {
      throw new BadRequestError('the request target is not a valid URL');
    }
    // While draining, every answer asks the client to reconnect (to another machine) for its next request.
    if (draining) res.setHeader('connection', 'close');
    if (path === '/graphql') {
      if (/text\/event-stream/i.test(req.headers.accept ?? '')) {
        if (draining) return void res.destroy();
        streams.add(res);
        res.once('close', () => streams.delete(res));
      }
      const refusal = bodyRefusal(req, runtime.config.maxBodyBytes);
      if (refusal) {
        req.resume();
        return sendJson(res, refusal[0], { errors: [{ message: refusal[1], extensions: { code: refusal[2] } }] }, { connection: 'close' });
      }
      // GraphiQL (a browser's GET for HTML) gets its own policy: every asset from this origin.
      if (req.method === 'GET' && /text\/html/i.test(req.headers.accept ?? '')) res.setHeader('content-security-policy', GRAPHIQL_CSP);
      return yoga(req, res);
    }
    for (const [pattern, handler] of routes) {
      const match = pattern.exec(path);
      if (!match) continue;
      if (req.method !== 'GET' && req.method !== 'HEAD') return sendJson(res, 405, { error: { code: 'METHOD_NOT_ALLOWED', message: 'use GET' } }, { allow: 'GET, HEAD' });
      return handler(runtime, req, res, decodePathParam(match[1] ?? ''));
    }
    sendJson(res, 404, { error: { code: 'NOT_FOUND', message: `no route ${path}` } });
  };

  const { http: limits } = runtime.config;
  const server = createServer(
    {
      // Node's defaults (60 s for headers, 300 s for the whole request) let a client that sends its
      // body a byte at a time hold a socket for five minutes; checked every second, not every 30.
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
    },
    (req, res) => {
      const route = metricsRoute(req.url);
      logRequest(runtime.log, req, res, (_record, status, seconds) => runtime.metrics.httpRequest(route, status, seconds));
      if (!clients.admit(req, res)) return;
      withRequestSpan(req, res, route, () => handle(req, res)).catch((err) => {
        // A typed error is the caller's mistake, answered as such; anything else is ours.
        if (!(err instanceof QuireError)) runtime.log.error({ err, url: req.url }, 'request failed');
        if (!res.headersSent) sendError(res, err);
        else res.destroy();
      });
    },
  );
  const clients = limitConnectionsPerClient(server, { max: limits.maxConnectionsPerClient, header: limits.clientIpHeader, log: runtime.log });
  server.on('clientError', answerClientError);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const ws = attachWebSocketServer(server, yoga, runtime);
  clients.guardUpgrades();
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    server,
    hub,
    url: `http://${shownHost === '0.0.0.0' ? '127.0.0.1' : shownHost}:${address.port}`,
    drain() {
      if (draining) return;
      draining = true;
      ws.drain();
      // Destroyed, not ended: ending would leave yoga's subscription running (it stops on 'close'),
      // and a stream cut short is what makes EventSource and graphql-sse clients reconnect.
      for (const stream of streams) stream.destroy();
    },
    async close(graceMs = 10_000) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      for (const stream of streams) stream.destroy();
      await ws.close();
      await hub.stop();
      const cut = setTimeout(() => server.closeAllConnections(), graceMs);
      await closed;
      clearTimeout(cut);
    },
  };
}
