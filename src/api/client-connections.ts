import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';

/** How many connections each client holds open, by client address. */
export class ConnectionsPerClient {
  private readonly open = new Map<string, number>();

  constructor(readonly max: number) {}

  /** Counts one more connection for `client`; false (and nothing counted) when it already holds `max`. */
  acquire(client: string): boolean {
    const held = this.open.get(client) ?? 0;
    if (this.max > 0 && held >= this.max) return false;
    this.open.set(client, held + 1);
    return true;
  }

  release(client: string): void {
    const held = (this.open.get(client) ?? 0) - 1;
    if (held > 0) this.open.set(client, held);
    else this.open.delete(client);
  }

  held(client: string): number {
    return this.open.get(client) ?? 0;
  }

  /** Clients holding at least one connection (for tests and metrics). */
  get clients(): number {
    return this.open.size;
  }
}

const REFUSAL_BODY = (max: number) =>
  JSON.stringify({ error: { code: 'TOO_MANY_CONNECTIONS', message: `this client already holds ${max} connections; close some and retry` } });

function refuseSocket(socket: Duplex, max: number): void {
  const body = REFUSAL_BODY(max);
  socket.on('error', () => {});
  socket.end(
    `HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `retry-after: 5\r\nconnection: close\r\n\r\n${body}`,
  );
  // Whatever the client still sends is not read: end, then cut.
  setTimeout(() => socket.destroy(), 1000).unref();
}

/**
 * Caps the connections one client holds on `server`, so that a few addresses cannot take every
 * socket (slow bodies, idle WebSockets). Without a trusted header the client is the socket's
 * address, counted per TCP connection from accept to close. Behind a proxy every socket comes from
 * the proxy: the client is then named by `header` (Fly's `fly-client-ip`, which its edge sets), and
 * what is counted is the requests in flight plus the WebSockets open — only when configured, since
 * anyone can send that header to a server that is not behind the proxy.
 *
 * Returns `admit(req, res)` for the request handler: false when the request was refused (answered
 * 429 TOO_MANY_CONNECTIONS) and must not be handled; and `guardUpgrades()`, to call once the
 * WebSocket server is attached: upgrades then pass the same check before reaching it.
 */
export function limitConnectionsPerClient(
  server: Server,
  options: { max: number; header: string | null; log?: Logger },
): { limiter: ConnectionsPerClient; admit(req: IncomingMessage, res: ServerResponse): boolean; guardUpgrades(): void } {
  const limiter = new ConnectionsPerClient(options.max);
  const { header, max } = options;
  const refused = (client: string) => options.log?.debug({ client, max }, 'connection refused: too many from this client');
  if (max === 0) return { limiter, admit: () => true, guardUpgrades: () => {} };

  if (header === null) {
    server.on('connection', (socket: Duplex & { remoteAddress?: string }) => {
      const client = socket.remoteAddress ?? 'unknown';
      if (!limiter.acquire(client)) {
        refused(client);
        return refuseSocket(socket, max);
      }
      socket.once('close', () => limiter.release(client));
    });
    // Upgraded sockets were counted when they connected.
    return { limiter, admit: () => true, guardUpgrades: () => {} };
  }

  const clientOf = (req: IncomingMessage): string => {
    const named = req.headers[header];
    const value = Array.isArray(named) ? named[0] : named;
    return value?.trim().slice(0, 100) || req.socket.remoteAddress || 'unknown';
  };
  return {
    limiter,
    guardUpgrades() {
      // The WebSocket server's listeners run only for upgrades admitted here.
      const listeners = server.listeners('upgrade') as Array<(req: IncomingMessage, socket: Duplex, head: Buffer) => void>;
      server.removeAllListeners('upgrade');
      server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        const client = clientOf(req);
        if (!limiter.acquire(client)) {
          refused(client);
          return refuseSocket(socket, max);
        }
        socket.once('close', () => limiter.release(client));
        for (const listener of listeners) listener.call(server, req, socket, head);
      });
    },
    admit(req, res) {
      const client = clientOf(req);
      if (!limiter.acquire(client)) {
        refused(client);
        res.writeHead(429, { 'content-type': 'application/json; charset=utf-8', 'retry-after': '5', connection: 'close' });
        res.end(REFUSAL_BODY(max));
        req.resume();
        return false;
      }
      res.once('close', () => limiter.release(client));
      return true;
    },
  };
}
