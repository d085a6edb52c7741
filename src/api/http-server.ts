import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'kysely';
import type { Runtime } from '../runtime.js';

export interface HttpServer {
  readonly server: Server;
  /** The bound address, e.g. http://127.0.0.1:4000 */
  readonly url: string;
  /** Stops accepting, lets in-flight requests finish, then closes idle sockets. */
  close(): Promise<void>;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

export async function startHttpServer(runtime: Runtime, port: number, host: string): Promise<HttpServer> {
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: 'method not allowed' });
    switch (path) {
      case '/healthz':
        return json(res, 200, { status: 'ok', region: runtime.config.region });
      case '/readyz':
        try {
          await sql`SELECT 1`.execute(runtime.database.db);
          return json(res, 200, { status: 'ready', database: runtime.database.kind });
        } catch {
          return json(res, 503, { status: 'unavailable', database: runtime.database.kind });
        }
      default:
        return json(res, 404, { error: 'not found' });
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      runtime.log.error({ err }, 'request failed');
      if (!res.headersSent) json(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    server,
    url: `http://${shownHost === '0.0.0.0' ? '127.0.0.1' : shownHost}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
