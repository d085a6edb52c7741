/**
 * WriteBatch: frames written to held sockets during one turn of the event loop stay corked until
 * its end, then go out socket after socket; nothing is held past that turn.
 */
import { once } from 'node:events';
import { createConnection, createServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WriteBatch } from '../../src/api/graphql/write-batch.js';

describe('WriteBatch', () => {
  const server = createServer();
  const accepted: Socket[] = [];
  let port = 0;
  beforeAll(async () => {
    server.on('connection', (socket) => {
      socket.on('error', () => {}); // resets when a test destroys either side
      accepted.push(socket);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => {
    for (const s of accepted) s.destroy();
    server.close();
  });

  const pair = async () => {
    const client = createConnection(port, '127.0.0.1');
    await once(client, 'connect');
    while (accepted.length === 0 || accepted.at(-1)!.remotePort !== client.localPort) await new Promise((r) => setImmediate(r));
    const received: string[] = [];
    client.on('data', (chunk) => received.push(String(chunk)));
    // The tests destroy the server's side with data unread: a reset, expected.
    client.on('error', () => {});
    return { serverSide: accepted.at(-1)!, client, received };
  };

  it('holds the frames of one turn, writes them at its end, and holds nothing after', async () => {
    const batch = new WriteBatch();
    const a = await pair();
    const b = await pair();
    for (const { serverSide } of [a, b]) {
      batch.hold(serverSide);
      batch.hold(serverSide); // twice in a turn: corked once
      serverSide.write('one;');
      serverSide.write('two;');
    }
    expect(batch.size).toBe(2);
    // Still in this turn: nothing handed to the kernel yet.
    expect(a.serverSide.writableLength).toBeGreaterThan(0);
    expect(b.serverSide.writableLength).toBeGreaterThan(0);
    await new Promise((r) => setImmediate(r));
    expect(batch.size).toBe(0);
    expect(a.serverSide.writableCorked).toBe(0);
    for (const p of [a, b]) {
      while (p.received.join('') !== 'one;two;') await new Promise((r) => setTimeout(r, 5));
    }
    // A later frame without hold() goes out at once, uncorked.
    a.serverSide.write('three;');
    expect(a.serverSide.writableLength).toBe(0);
    for (const p of [a, b]) p.client.destroy();
  });

  it('skips a socket already destroyed, and one destroyed while held is simply dropped', async () => {
    const batch = new WriteBatch();
    const a = await pair();
    a.serverSide.destroy();
    batch.hold(a.serverSide);
    expect(batch.size).toBe(0);
    const b = await pair();
    batch.hold(b.serverSide);
    b.serverSide.write('lost;');
    b.serverSide.destroy();
    await new Promise((r) => setImmediate(r));
    expect(batch.size).toBe(0);
    b.client.destroy();
  });
});
