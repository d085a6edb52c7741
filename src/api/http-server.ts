import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'kysely';
import { EventHub } from '../events/event-hub.js';
import { ForbiddenError } from '../reports/errors.js';
import type { Runtime } from '../runtime.js';
import { attachWebSocketServer } from './graphql/websocket.js';
import { createGraphQLServer } from './graphql/yoga.js';
import { sendError, sendJson } from './http-errors.js';
import { downloadReport } from './routes/report-download.js';
import { serveFile } from './routes/files.js';
import { uiRoutes, type UiOptions } from './routes/ui.js';

export interface HttpServer {
  readonly server: Server;
  /** The bound address, e.g. http://127.0.0.1:4000 */
  readonly url: string;
  /** Stops accepting, lets in-flight requests finish, then closes idle sockets. */
  close(): Promise<void>;
}

type Handler = (runtime: Runtime, req: IncomingMessage, res: ServerResponse, param: string) => Promise<void>;

const health: Handler = async (runtime, _req, res) => sendJson(res, 200, { status: 'ok', region: runtime.config.region });

const ready: Handler = async (runtime, _req, res) => {
  try {
    await sql`SELECT 1`.execute(runtime.database.db);
    sendJson(res, 200, { status: 'ready', database: runtime.database.kind });
  } catch {
    sendJson(res, 503, { status: 'unavailable', database: runtime.database.kind });
  }
};

/** Prometheus scrapes with a bearer token of an auditor or admin (`quire token --role auditor`). */
const metrics: Handler = async (runtime, req, res) => {
  try {
    const actor = await runtime.userTokens.fromHeader(req.headers.authorization);
    if (actor.role === 'user') throw new ForbiddenError('metrics are for auditors and admins');
  } catch (err) {
    return sendError(res, err, { 'www-authenticate': 'Bearer' });
  }
  res.writeHead(200, { 'content-type': runtime.metrics.registry.contentType, 'cache-control': 'no-store' });
  res.end(await runtime.metrics.registry.metrics());
};

/** GET (and HEAD) routes: a path pattern with at most one parameter. */
const ROUTES: Array<[RegExp, Handler]> = [
  [/^\/healthz$/, health],
  [/^\/readyz$/, ready],
  [/^\/metrics$/, metrics],
  [/^\/files\/([A-Za-z0-9_.-]{1,4096})$/, serveFile],
  [/^\/reports\/([^/]{1,100})\/download$/, downloadReport],
];

/**
 * A body over the limit is refused before anyone reads it; so is a body of unknown length (no
 * Content-Length), which could otherwise stream without end.
 */
function bodyRefusal(req: IncomingMessage, maxBytes: number): [number, string] | null {
  if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return null;
  const length = req.headers['content-length'];
  if (length === undefined) return [411, 'a Content-Length is required'];
  if (!/^\d+$/.test(length) || Number(length) > maxBytes) return [413, `the request body is over the limit of ${maxBytes} bytes`];
  return null;
}

/** `options.devToken`: the dev token `quire serve` printed, prefilled in the progress page for loopback browsers outside production. */
export async function startHttpServer(runtime: Runtime, port: number, host: string, options: UiOptions = {}): Promise<HttpServer> {
  const routes = [...ROUTES, ...uiRoutes(options)];
  const hub = new EventHub(runtime.store, runtime.log);
  await hub.start();
  const yoga = createGraphQLServer(runtime, hub);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/graphql') {
      const refusal = bodyRefusal(req, runtime.config.maxBodyBytes);
      if (refusal) {
        req.resume();
        return sendJson(res, refusal[0], { errors: [{ message: refusal[1], extensions: { code: 'BAD_REQUEST' } }] }, { connection: 'close' });
      }
      return yoga(req, res);
    }
    for (const [pattern, handler] of routes) {
      const match = pattern.exec(path);
      if (!match) continue;
      if (req.method !== 'GET' && req.method !== 'HEAD') return sendJson(res, 405, { error: { code: 'METHOD_NOT_ALLOWED', message: 'use GET' } }, { allow: 'GET, HEAD' });
      return handler(runtime, req, res, decodeURIComponent(match[1] ?? ''));
    }
    sendJson(res, 404, { error: { code: 'NOT_FOUND', message: `no route ${path}` } });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      runtime.log.error({ err, url: req.url }, 'request failed');
      if (!res.headersSent) sendError(res, err);
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const ws = attachWebSocketServer(server, yoga, runtime);
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    server,
    url: `http://${shownHost === '0.0.0.0' ? '127.0.0.1' : shownHost}:${address.port}`,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await ws.close();
      await hub.stop();
      await closed;
    },
  };
}
