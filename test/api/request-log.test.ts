import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startHttpServer, type HttpServer } from '../../src/api/http-server.js';
import { createLogger } from '../../src/log.js';
import { RenderPool } from '../../src/render/render-pool.js';
import { createWorkers } from '../../src/workers/start-workers.js';
import { connected, gqlHttp, gqlWs } from '../graphql/client.js';
import { CreateDownloadUrlDocument, MeDocument, RequestReportDocument, ViewerReportsDocument } from '../graphql/gql/graphql.js';
import { backends } from '../support/databases.js';
import { freePort } from '../support/instances.js';
import { startTestRuntime, type TestRuntime } from '../support/runtime.js';

const SECRET_PARAM = 'secret-param-value-7f3a';
type Line = Record<string, unknown>;

describe.each(backends)('request logs on %s', (kind) => {
  const lines: Line[] = [];
  let raw = '';
  let runtime: TestRuntime;
  let http: HttpServer;
  let pool: RenderPool;
  let token: string;

  beforeAll(async () => {
    // The real logger (pino) writing to a stream this test reads: what an operator's log would hold.
    const destination = new Writable({
      write(chunk, _enc, done) {
        raw += chunk.toString();
        for (const text of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(text) as Line);
        done();
      },
    });
    const port = await freePort();
    runtime = await startTestRuntime(kind, { PUBLIC_URL: `http://127.0.0.1:${port}` }, { log: createLogger('info', 'iad', destination) });
    http = await startHttpServer(runtime, port, '127.0.0.1');
    pool = new RenderPool({ size: 1 });
    token = await runtime.userTokens.sign({ id: 'alice', role: 'user' }, 600);
  });

  afterAll(async () => {
    await http?.close();
    await pool?.close();
    await runtime?.close();
  });

  const requestLines = () => lines.filter((l) => l.msg === 'request');
  const lineFor = async (requestId: string): Promise<Line> => {
    // The line is written when the response closes, which may be just after the client has read it.
    for (let i = 0; i < 100 && !requestLines().some((l) => l.requestId === requestId); i++) await new Promise((r) => setTimeout(r, 20));
    const found = requestLines().filter((l) => l.requestId === requestId);
    expect(found).toHaveLength(1);
    return found[0]!;
  };

  it('a GraphQL request: the client’s id echoed, its operation, status, duration and viewer — never the token or the variables', async () => {
    const input = { template: 'table', title: 'Logged', params: { columns: [{ label: 'Secret', key: 's' }], rows: [{ s: SECRET_PARAM }] } };
    const res = await gqlHttp(http.url, RequestReportDocument, { input }, token, { headers: { 'x-request-id': 'client-req-1' } });
    expect(res.data?.requestReport.__typename).toBe('MutationRequestReportSuccess');
    expect(res.headers.get('x-request-id')).toBe('client-req-1');
    const line = await lineFor('client-req-1');
    expect(line).toMatchObject({ level: 30, region: 'iad', method: 'POST', path: '/graphql', operation: 'RequestReport', status: 200, viewer: 'alice' });
    expect(line.durationMs).toEqual(expect.any(Number));
    // The request id reaches the event log too.
    const [event] = await runtime.store.db.selectFrom('events').select('metadata').execute();
    expect(event?.metadata).toMatchObject({ requestId: 'client-req-1', actor: 'alice' });
  });

  it('Fly’s request id wins over the client’s; none given, one is made and echoed', async () => {
    const fly = await fetch(`${http.url}/healthz`, { headers: { 'fly-request-id': '01JABCFLYREQ-iad', 'x-request-id': 'client' } });
    expect(fly.headers.get('x-request-id')).toBe('01JABCFLYREQ-iad');
    expect(await lineFor('01JABCFLYREQ-iad')).toMatchObject({ method: 'GET', path: '/healthz', status: 200 });

    const made = await fetch(`${http.url}/healthz`);
    const id = made.headers.get('x-request-id')!;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect((await lineFor(id)).viewer).toBeUndefined();

    // An id that is not safe to log is replaced, not copied.
    const odd = await fetch(`${http.url}/healthz`, { headers: { 'x-request-id': 'a b\u00e9{}' } });
    expect(odd.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('a /files link is logged as its route: neither the token nor the query string', async () => {
    const asked = await gqlHttp(http.url, RequestReportDocument, { input: { template: 'table', title: 'File', params: { columns: [{ label: 'A', key: 'a' }], rows: [{ a: 1 }] } } }, token);
    const { reportId } = (asked.data!.requestReport as { data: { reportId: string } }).data;
    const workers = createWorkers(runtime, { pool, owner: 'log-test' });
    await workers.render.drain();
    const download = await gqlHttp(http.url, CreateDownloadUrlDocument, { reportId }, token, { headers: { 'x-request-id': 'dl-1' } });
    const url = (download.data?.createDownloadUrl as { data: { url: string } }).data.url;
    expect(url).toContain('/files/');
    expect(await lineFor('dl-1')).toMatchObject({ operation: 'CreateDownloadUrl', viewer: 'alice', status: 200 });
    const fileToken = new URL(url).pathname.split('/').pop()!;
    const file = await fetch(`${url}?via=somewhere-secret`, { headers: { 'x-request-id': 'file-1' } });
    expect(file.status).toBe(200);
    await file.arrayBuffer();
    expect(await lineFor('file-1')).toMatchObject({ method: 'GET', path: '/files/:token', status: 200 });

    // The REST route: its viewer too.
    const rest = await fetch(`${http.url}/reports/${reportId}/download`, { headers: { authorization: `Bearer ${token}`, 'x-request-id': 'rest-1' }, redirect: 'manual' });
    expect(rest.status).toBe(302);
    expect(await lineFor('rest-1')).toMatchObject({ path: `/reports/${reportId}/download`, status: 302, viewer: 'alice' });
    expect(raw).not.toContain(fileToken);
    expect(raw).not.toContain('somewhere-secret');
  });

  it('a download the client drops mid-body is an aborted request line, not a "request failed" error', async () => {
    const rows = Array.from({ length: 3000 }, (_, i) => ({ a: i }));
    const asked = await gqlHttp(http.url, RequestReportDocument, { input: { template: 'table', title: 'Dropped', params: { columns: [{ label: 'A', key: 'a' }], rows } } }, token);
    const { reportId } = (asked.data!.requestReport as { data: { reportId: string } }).data;
    await createWorkers(runtime, { pool, owner: 'log-test-abort' }).render.drain();
    const download = await gqlHttp(http.url, CreateDownloadUrlDocument, { reportId }, token);
    const url = new URL((download.data?.createDownloadUrl as { data: { url: string } }).data.url);
    // Gone after the first bytes: most attempts cut the ~130 KB body short (the rest races the reset).
    const dropped = async (requestId: string) => {
      await new Promise<void>((resolve) => {
        const socket = connect(Number(url.port), url.hostname);
        socket.on('error', () => {});
        socket.once('data', () => socket.destroy());
        socket.on('close', () => resolve());
        socket.write(`GET ${url.pathname} HTTP/1.1\r\nhost: ${url.host}\r\nx-request-id: ${requestId}\r\n\r\n`);
      });
      return lineFor(requestId);
    };
    let aborted = 0;
    for (let i = 0; i < 30 && aborted < 3; i++) if ((await dropped(`dropped-${i}`)).aborted) aborted++;
    expect(aborted).toBe(3);
    await new Promise((r) => setTimeout(r, 100));
    expect(lines.filter((l) => l.msg === 'request failed')).toEqual([]);
  });

  it('every WebSocket operation: one line with the socket’s id and the operation’s, its name, outcome and viewer', async () => {
    // The upgrade echoes the socket's request id (here the client's).
    const ids: string[] = [];
    class WithRequestId extends WebSocket {
      constructor(address: string, protocols?: string | string[]) {
        super(address, protocols, { headers: { 'x-request-id': 'socket-1' } });
        this.once('upgrade', (res) => ids.push(String(res.headers['x-request-id'])));
      }
    }
    const client = gqlWs(http.url, token, { webSocketImpl: WithRequestId });
    await connected(client);
    expect(ids).toEqual(['socket-1']);
    const me = await new Promise<unknown>((resolve, reject) =>
      client.subscribe({ query: print(MeDocument) }, { next: resolve, error: reject, complete: () => {} }),
    );
    expect(me).toMatchObject({ data: { me: { id: 'alice' } } });
    // An invalid operation is an error line.
    await new Promise<void>((resolve) => client.subscribe({ query: 'query Broken { nope }' }, { next: () => {}, error: () => resolve(), complete: () => resolve() }));
    // A live subscription still open when the socket closes gets its line then.
    client.subscribe({ query: print(ViewerReportsDocument) }, { next: () => {}, error: () => {}, complete: () => {} });
    await new Promise((r) => setTimeout(r, 300));
    expect(requestLines().some((l) => l.operation === 'ViewerReports')).toBe(false);
    await client.dispose();

    for (let i = 0; i < 100 && requestLines().filter((l) => l.method === 'WS').length < 3; i++) await new Promise((r) => setTimeout(r, 20));
    const ws = requestLines().filter((l) => l.method === 'WS');
    expect(ws).toHaveLength(3);
    expect(ws.find((l) => l.operation === 'ViewerReports')).toMatchObject({ viewer: 'alice', requestId: expect.stringMatching(/^socket-1:/) });
    expect(ws.find((l) => l.operation === 'Me')).toMatchObject({ path: '/graphql', status: 'ok', viewer: 'alice', requestId: expect.stringMatching(/^socket-1:/) });
    expect(ws.find((l) => l.operation === 'Broken')).toMatchObject({ status: 'error', viewer: 'alice', requestId: expect.stringMatching(/^socket-1:/) });
    expect(new Set(ws.map((l) => l.requestId)).size).toBe(3);
  });

  it('an operationName the document does not have is never logged as sent (10 KB, a newline): HTTP and WebSocket alike', async () => {
    const junk = `${'x'.repeat(10_000)}\n{"msg":"forged"}`;
    const res = await fetch(`${http.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-request-id': 'opname-1' },
      body: JSON.stringify({ query: '{ me { id } }', operationName: junk }),
    });
    expect(res.status).toBeLessThan(500);
    // yoga refuses an unknown operation name before it executes: the line then names none.
    expect([undefined, 'invalid']).toContain((await lineFor('opname-1')).operation);

    const client = gqlWs(http.url, token);
    await new Promise<void>((resolve) => client.subscribe({ query: 'query Me { me { id } }', operationName: junk }, { next: () => {}, error: () => resolve(), complete: () => resolve() }));
    await client.dispose();
    for (let i = 0; i < 100 && !requestLines().some((l) => l.method === 'WS' && l.operation === 'invalid'); i++) await new Promise((r) => setTimeout(r, 20));
    expect(requestLines().filter((l) => l.method === 'WS' && l.operation === 'invalid')).toHaveLength(1);
    expect(raw).not.toContain('x'.repeat(200));
    expect(raw).not.toContain('forged');
  });

  it('no line holds a token, an Authorization header or GraphQL variables, and every request has exactly one line', () => {
    expect(raw).not.toContain(token);
    expect(raw.toLowerCase()).not.toContain('bearer');
    expect(raw.toLowerCase()).not.toContain('authorization');
    expect(raw).not.toContain(SECRET_PARAM);
    const ids = requestLines().map((l) => l.requestId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const line of requestLines()) expect(Object.keys(line).sort()).toEqual(expect.arrayContaining(['durationMs', 'method', 'path', 'requestId', 'status']));
  });
});
