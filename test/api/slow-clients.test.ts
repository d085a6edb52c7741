import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startHttpServer, type HttpServer } from '../../src/api/http-server.js';
import { startTestRuntime, type TestRuntime } from '../support/runtime.js';
import { rawHttp } from './bad-input-client.js';

/**
 * Slow and greedy clients, with real sockets: a body sent a byte at a time, headers that never
 * end, a socket that says nothing, and one address opening more connections than it may. The
 * database plays no part here, so PGlite only.
 */

interface OpenSocket {
  socket: Socket;
  /** Everything the server sent. */
  received(): string;
  closed: Promise<number>;
}

/** A socket to `url` (from `localAddress`), resolving `closed` with the ms it stayed open. */
async function open(url: string, localAddress = '127.0.0.1'): Promise<OpenSocket> {
  const { hostname, port } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port), localAddress });
  const chunks: Buffer[] = [];
  const started = Date.now();
  socket.on('data', (c) => chunks.push(Buffer.from(c))); // a Buffer: no encoding is set
  socket.on('error', () => {});
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - started)));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, received: () => Buffer.concat(chunks).toString('utf8'), closed };
}

/** Writes `text` one byte every `everyMs` until the socket closes. */
function dribble(s: OpenSocket, text: string, everyMs = 100): void {
  let i = 0;
  const timer = setInterval(() => {
    if (s.socket.destroyed || i >= text.length) return clearInterval(timer);
    s.socket.write(text[i++]!);
  }, everyMs);
  void s.closed.then(() => clearInterval(timer));
}

const slowPost = (host: string, extra = '') =>
  `POST /graphql HTTP/1.1\r\nhost: ${host}\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n${extra}\r\n`;

/** Polls until `check` holds (generous: the machine is shared). */
async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('slow clients are cut off sooner than Node’s 300 s', () => {
  let runtime: TestRuntime;
  let http: HttpServer;

  beforeAll(async () => {
    runtime = await startTestRuntime('pglite', { HTTP_HEADERS_TIMEOUT_MS: '1000', HTTP_REQUEST_TIMEOUT_MS: '2000' });
    http = await startHttpServer(runtime, 0, '127.0.0.1');
  });

  afterAll(async () => {
    await http?.close();
    await runtime?.close();
  });

  it('a body sent a byte at a time gets 408 REQUEST_TIMEOUT and the socket closes', { timeout: 90_000 }, async () => {
    const s = await open(http.url);
    s.socket.write(slowPost(new URL(http.url).host));
    dribble(s, '{"query":"' + 'x'.repeat(10_000));
    const heldMs = await s.closed;
    // Node's default would hold it 300 s; the limit is 2 s, checked every second (a loaded machine adds some).
    expect(heldMs).toBeLessThan(60_000);
    expect(s.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(s.received()).toContain('"code":"REQUEST_TIMEOUT"');
    expect((await rawHttp(http.url, { target: '/healthz' })).status).toBe(200);
  });

  it('headers that never end get 408 and the socket closes', { timeout: 90_000 }, async () => {
    const s = await open(http.url);
    s.socket.write(`GET /healthz HTTP/1.1\r\nhost: ${new URL(http.url).host}\r\n`);
    dribble(s, 'x-slow: ' + 'y'.repeat(10_000));
    expect(await s.closed).toBeLessThan(60_000);
    expect(s.received()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('a socket that sends nothing at all is closed', { timeout: 90_000 }, async () => {
    const s = await open(http.url);
    expect(await s.closed).toBeLessThan(60_000);
  });

  it('a fast request on the same server is not affected', async () => {
    const res = await rawHttp(http.url, { target: '/healthz' });
    expect(res.status).toBe(200);
  });
});

describe('connections per client', () => {
  let runtime: TestRuntime;
  let http: HttpServer;
  const held: OpenSocket[] = [];

  beforeAll(async () => {
    // Long timeouts: the slow requests below stay open while the cap is tested.
    runtime = await startTestRuntime('pglite', { MAX_CONNECTIONS_PER_CLIENT: '3', HTTP_REQUEST_TIMEOUT_MS: '120000' });
    http = await startHttpServer(runtime, 0, '127.0.0.1');
  });

  afterAll(async () => {
    for (const s of held) s.socket.destroy();
    await http?.close();
    await runtime?.close();
  });

  it('one address holds at most MAX_CONNECTIONS_PER_CLIENT sockets; another address is still served; a freed slot is usable again', { timeout: 90_000 }, async () => {
    const host = new URL(http.url).host;
    for (let i = 0; i < 3; i++) {
      const s = await open(http.url);
      // A spoofed fly-client-ip changes nothing: the header is not trusted unless configured.
      s.socket.write(slowPost(host, `fly-client-ip: 10.0.0.${i}\r\n`));
      held.push(s);
    }
    const fourth = await open(http.url);
    await fourth.closed;
    expect(fourth.received()).toMatch(/^HTTP\/1\.1 429 /);
    expect(fourth.received()).toContain('"code":"TOO_MANY_CONNECTIONS"');

    // Another client (loopback has every 127.x address) is served meanwhile.
    const other = await open(http.url, '127.0.0.2');
    other.socket.write(`GET /healthz HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\n\r\n`);
    await other.closed;
    expect(other.received()).toMatch(/^HTTP\/1\.1 200 /);

    // A WebSocket is a connection too.
    const refusedWs = await new Promise<number>((resolve) => {
      const ws = new WebSocket(http.url.replace('http', 'ws') + '/graphql', 'graphql-transport-ws');
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('error', () => resolve(-1));
      ws.on('open', () => resolve(101));
    });
    expect(refusedWs).not.toBe(101);

    held.pop()!.socket.destroy();
    await eventually(async () => (await rawHttp(http.url, { target: '/healthz' }).catch(() => ({ status: 0 }))).status === 200);
  });
});

describe('connections per client behind a proxy (CLIENT_IP_HEADER=fly-client-ip)', () => {
  let runtime: TestRuntime;
  let http: HttpServer;
  const held: OpenSocket[] = [];

  beforeAll(async () => {
    runtime = await startTestRuntime('pglite', { MAX_CONNECTIONS_PER_CLIENT: '2', CLIENT_IP_HEADER: 'fly-client-ip', HTTP_REQUEST_TIMEOUT_MS: '120000' });
    http = await startHttpServer(runtime, 0, '127.0.0.1');
  });

  afterAll(async () => {
    for (const s of held) s.socket.destroy();
    await http?.close();
    await runtime?.close();
  });

  it('the client is the one the proxy names: its requests and WebSockets are counted, other clients through the same proxy are served', { timeout: 90_000 }, async () => {
    const host = new URL(http.url).host;
    for (let i = 0; i < 2; i++) {
      const s = await open(http.url);
      s.socket.write(slowPost(host, 'fly-client-ip: 203.0.113.7\r\n'));
      held.push(s);
    }
    // The slow requests are in flight once their handlers run: poll until the third is refused.
    await eventually(async () => {
      const third = await rawHttp(http.url, { target: '/healthz', headers: { 'fly-client-ip': '203.0.113.7' } });
      return third.status === 429 && third.body.includes('TOO_MANY_CONNECTIONS');
    });
    const ws = await new Promise<number>((resolve) => {
      const socket = new WebSocket(http.url.replace('http', 'ws') + '/graphql', 'graphql-transport-ws', { headers: { 'fly-client-ip': '203.0.113.7' } });
      socket.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      socket.on('error', () => resolve(-1));
      socket.on('open', () => {
        socket.close();
        resolve(101);
      });
    });
    expect(ws).not.toBe(101);

    // Same proxy address, another client: served, over HTTP and WebSocket.
    expect((await rawHttp(http.url, { target: '/healthz', headers: { 'fly-client-ip': '198.51.100.1' } })).status).toBe(200);
    const otherWs = await new Promise<number>((resolve) => {
      const socket = new WebSocket(http.url.replace('http', 'ws') + '/graphql', 'graphql-transport-ws', { headers: { 'fly-client-ip': '198.51.100.1' } });
      socket.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      socket.on('error', () => resolve(-1));
      socket.on('open', () => {
        socket.close();
        resolve(101);
      });
    });
    expect(otherWs).toBe(101);

    for (const s of held.splice(0)) s.socket.destroy();
    await eventually(async () => (await rawHttp(http.url, { target: '/healthz', headers: { 'fly-client-ip': '203.0.113.7' } })).status === 200);
  });
});
