import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startHttpServer, type HttpServer } from '../../src/api/http-server.js';
import { RenderPool } from '../../src/render/render-pool.js';
import { gracefulShutdown } from '../../src/shutdown.js';
import { createWorkers, type Workers } from '../../src/workers/start-workers.js';
import { closedWith, gqlHttp, gqlWs, subscribe } from '../graphql/client.js';
import { ReportStatusDocument, RequestReportDocument } from '../graphql/gql/graphql.js';
import { waitFor } from '../support/collect.js';
import { backends, openTestDatabase, silentLog, type TestDatabase } from '../support/databases.js';
import { countEventsByType, startTestRuntime, type TestRuntime } from '../support/runtime.js';

const LEASE_MS = 600_000;
const input = (title: string) => ({ template: 'table', title, params: { columns: [{ label: 'Name', key: 'name' }], rows: [{ name: 'a' }] } });

/** Opens a graphql subscription over SSE; `ended` settles when the server ends the stream (cleanly or not). */
async function sseSubscribe(url: string, token: string, id: string) {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: print(ReportStatusDocument), variables: { id } }),
  });
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  let text = '';
  const ended = (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return 'done';
        text += new TextDecoder().decode(value);
      }
    } catch {
      return 'cut';
    }
  })();
  return { ended, text: () => text };
}

describe.each(backends)('shutting a machine down on %s', (kind) => {
  let database: TestDatabase;
  let a: { runtime: TestRuntime; http: HttpServer; workers: Workers; pool: RenderPool };
  let b: { runtime: TestRuntime; http: HttpServer; workers: Workers; pool: RenderPool };

  beforeAll(async () => {
    database = await openTestDatabase(kind);
    const machine = async (region: string, pool: RenderPool) => {
      const runtime = await startTestRuntime(kind, { FLY_REGION: region, STORAGE_MODE: 'volume', LEASE_MS: String(LEASE_MS), WORKER_POLL_MS: '100' }, { database });
      return { runtime, http: await startHttpServer(runtime, 0, '127.0.0.1'), workers: createWorkers(runtime, { pool, owner: `machine-${region}` }), pool };
    };
    // Machine a's renders never end on their own: only its shutdown can free what it claimed.
    a = await machine('iad', new RenderPool({ size: 1, workerUrl: new URL('../support/stuck-render-worker.js', import.meta.url) }));
    b = await machine('lax', new RenderPool({ size: 1 }));
  });

  afterAll(async () => {
    await b?.workers.stop();
    await b?.pool.close();
    await b?.http.close();
    await b?.runtime.close();
    await a?.pool.close();
    await database?.close();
  });

  it('readyz 503 at once, WebSockets closed 1012 and resumed on another machine, SSE ended, the stuck render taken over well before LEASE_MS', async () => {
    const token = await a.runtime.userTokens.sign({ id: 'alice', role: 'user' }, 600);
    const requested = await gqlHttp(a.http.url, RequestReportDocument, { input: input('in flight at shutdown') }, token);
    if (requested.data?.requestReport.__typename !== 'MutationRequestReportSuccess') throw new Error(JSON.stringify(requested));
    const reportId = requested.data.requestReport.data.reportId;
    a.workers.start();
    const leaseOf = () => database.db.selectFrom('work_leases').selectAll().where('report_id', '=', reportId).executeTakeFirst();
    await waitFor(async () => (await leaseOf())?.owner === 'machine-iad', 30_000, 'machine a to claim the render');
    // Machine b is up, but a's lease keeps it off the report for LEASE_MS (ten minutes).
    b.workers.start();

    // A graphql-ws client that connects to a first and, on its automatic retry, to b (as Fly's proxy would).
    const urls = [a.http.url, b.http.url].map((u) => `${u.replace(/^http/, 'ws')}/graphql`);
    let connects = 0;
    const client = gqlWs(a.http.url, token, { url: () => urls[Math.min(connects++, 1)]!, retryAttempts: 3, retryWait: async () => {} });
    const live = subscribe(client, ReportStatusDocument, { id: reportId });
    await live.waitFor((r) => r.reportStatus?.status === 'REQUESTED');
    const firstClose = closedWith(client);
    const sse = await sseSubscribe(a.http.url, token, reportId);
    await waitFor(() => sse.text().includes('REQUESTED'), 10_000, 'the SSE stream’s first state');

    const exits: number[] = [];
    const started = Date.now();
    const down = gracefulShutdown(
      { http: a.http, workers: a.workers, close: () => a.runtime.close() },
      { drainMs: 300, log: silentLog, exit: (code) => void exits.push(code) },
    );
    // The moment shutdown begins: not ready, whatever the database says.
    const ready = await fetch(`${a.http.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: 'draining' });

    expect(await firstClose).toMatchObject({ code: 1012 });
    expect(await sse.ended).toBeDefined();

    // The subscription carries on from b, and b renders the report a let go of.
    const stored = await live.waitFor((r) => r.reportStatus?.status === 'STORED', 60_000);
    expect(Date.now() - started).toBeLessThan(LEASE_MS / 10);
    expect(stored.reportStatus!.locations).toEqual([expect.objectContaining({ kind: 'VOLUME', region: 'lax' })]);
    await down;
    expect(exits).toEqual([0]);
    live.close();
    await client.dispose();

    // Accounted for: requested once, rendered and stored once (by b), no failure counted for the abort.
    expect(await countEventsByType(b.runtime)).toEqual({ ReportRequested: 1, ReportRendered: 1, ReportStoredLocal: 1 });
    const stream = await b.runtime.store.readStream(`report-${reportId}`);
    expect(stream.find((e) => e.type === 'ReportStoredLocal')?.metadata.region).toBe('lax');
    expect(await database.db.selectFrom('work_leases').select('owner').where('owner', '=', 'machine-iad').execute()).toEqual([]);
  });
});

describe('HttpServer.drain', () => {
  let runtime: TestRuntime;
  let http: HttpServer;

  beforeAll(async () => {
    runtime = await startTestRuntime('pglite');
    http = await startHttpServer(runtime, 0, '127.0.0.1');
  });

  afterAll(async () => {
    await http?.close();
    await runtime?.close();
  });

  it('refuses new sockets and streams while still answering ordinary requests, each asking the client to reconnect', async () => {
    const token = await runtime.userTokens.sign({ id: 'alice', role: 'user' }, 600);
    expect((await fetch(`${http.url}/readyz`)).status).toBe(200);
    http.drain();
    const ready = await fetch(`${http.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(ready.headers.get('connection')).toBe('close');
    const health = await fetch(`${http.url}/healthz`);
    expect(health.status).toBe(200);
    expect(health.headers.get('connection')).toBe('close');

    const upgrade = await new Promise<number>((resolve, reject) => {
      const socket = new WebSocket(`${http.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
      socket.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      socket.on('open', () => reject(new Error('a draining server accepted a WebSocket')));
      socket.on('error', () => {});
    });
    expect(upgrade).toBe(503);

    await expect(
      fetch(`${http.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: print(ReportStatusDocument), variables: { id: '00000000-0000-4000-8000-000000000000' } }),
      }),
    ).rejects.toThrow();
  });

  it('the public port has no /metrics', async () => {
    expect((await fetch(`${http.url}/metrics`)).status).toBe(404);
  });
});

describe('gracefulShutdown', () => {
  it('exits 1 when a step hangs past drain + margin, instead of waiting for SIGKILL', async () => {
    const exits: number[] = [];
    const order: string[] = [];
    void gracefulShutdown(
      {
        http: { drain: () => void order.push('drain'), close: async () => void order.push('close') },
        workers: { stop: () => new Promise<void>(() => order.push('workers')) },
        close: async () => void order.push('database'),
      },
      { drainMs: 20, marginMs: 20, log: silentLog, exit: (code) => void exits.push(code) },
    );
    await waitFor(() => exits.length > 0, 5_000, 'the watchdog');
    expect(exits).toEqual([1]);
    expect(order).toEqual(['drain', 'workers']);
  });
});
