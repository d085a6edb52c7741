import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpServer, type HttpServer } from '../../src/api/http-server.js';
import { backends, openTestDatabase, type TestDatabase } from '../support/databases.js';
import { countEventsByType, startTestRuntime, type TestRuntime } from '../support/runtime.js';
import { gqlWs, subscribe } from '../graphql/client.js';
import { ReportStatusDocument } from '../graphql/gql/graphql.js';
import { rawGraphQLHttp, rawGraphQLWs, rawHttp, type GraphQLAnswer } from './bad-input-client.js';

/**
 * The same limits on every entry point: POST /graphql, GraphQL over SSE, graphql-ws (and GET
 * /graphql where it applies). The requestReport rate limit (shared by the fleet, in the database),
 * the body size limit, graphql-armor's depth/alias/token/cost limits, the nesting limit and
 * disabled introspection must not depend on the transport a client picks.
 */

type Transport = 'http' | 'sse' | 'ws';
const TRANSPORTS: Transport[] = ['http', 'sse', 'ws'];

const REQUEST = 'mutation($input: RequestReportInput!) { requestReport(input: $input) { __typename ... on Error { code } ... on RateLimitedError { retryAfterSeconds } } }';
const input = (title: string) => ({ template: 'table', title, params: { columns: [{ label: 'N', key: 'n' }], rows: [{ n: 1 }] } });

function send(transport: Transport, url: string, body: string, token: string): Promise<GraphQLAnswer> {
  return transport === 'ws' ? rawGraphQLWs(url, body, token) : rawGraphQLHttp(url, body, token, { sse: transport === 'sse' });
}

const typename = (answer: GraphQLAnswer) => (answer.result?.data as { requestReport?: { __typename: string } } | undefined)?.requestReport?.__typename;
const firstCode = (answer: GraphQLAnswer) => answer.result?.errors?.[0]?.extensions?.code;

describe.each(backends)('limits on every entry point, on %s', (kind) => {
  let database: TestDatabase;
  let runtime: TestRuntime;
  let http: HttpServer;
  /** A second instance on the same database with introspection off (as in production). */
  let closedRuntime: TestRuntime;
  let closedHttp: HttpServer;
  const token = (runtime: TestRuntime, id: string) => runtime.userTokens.sign({ id, role: 'user' }, 600);

  beforeAll(async () => {
    database = await openTestDatabase(kind);
    runtime = await startTestRuntime(kind, { REQUESTS_PER_MINUTE: '3', MAX_BODY_BYTES: String(64 * 1024), MAX_SUBSCRIPTIONS_PER_SOCKET: '3' }, { database });
    http = await startHttpServer(runtime, 0, '127.0.0.1');
    closedRuntime = await startTestRuntime(kind, { GRAPHQL_INTROSPECTION: 'false', FLY_REGION: 'lax' }, { database });
    closedHttp = await startHttpServer(closedRuntime, 0, '127.0.0.1');
  }, 60_000);

  afterAll(async () => {
    await closedHttp?.close();
    await closedRuntime?.close();
    await http?.close();
    await runtime?.close();
    await database?.close();
  });

  for (const transport of TRANSPORTS) {
    it(`requestReport is rate limited over ${transport}; refused requests append nothing`, { timeout: 60_000 }, async () => {
      const viewer = `rate-${transport}`;
      const bearer = await token(runtime, viewer);
      const answers: string[] = [];
      for (let i = 0; i < 5; i++) answers.push(String(typename(await send(transport, http.url, JSON.stringify({ query: REQUEST, variables: { input: input(`${transport} ${i}`) } }), bearer))));
      expect(answers).toEqual(['MutationRequestReportSuccess', 'MutationRequestReportSuccess', 'MutationRequestReportSuccess', 'RateLimitedError', 'RateLimitedError']);
      const owned = await database.db.selectFrom('report_status').select('report_id').where('owner', '=', viewer).execute();
      expect(owned).toHaveLength(3);
    });
  }

  it('one viewer’s budget is shared by every transport', { timeout: 60_000 }, async () => {
    const bearer = await token(runtime, 'rate-mixed');
    const answers: string[] = [];
    for (const transport of [...TRANSPORTS, 'ws', 'http', 'sse'] as Transport[]) {
      answers.push(String(typename(await send(transport, http.url, JSON.stringify({ query: REQUEST, variables: { input: input(transport) } }), bearer))));
    }
    expect(answers).toEqual(['MutationRequestReportSuccess', 'MutationRequestReportSuccess', 'MutationRequestReportSuccess', 'RateLimitedError', 'RateLimitedError', 'RateLimitedError']);
  });

  it('a body over MAX_BODY_BYTES is refused on every transport (413 over HTTP and SSE, close 1009 over graphql-ws)', { timeout: 60_000 }, async () => {
    const bearer = await token(runtime, 'big');
    const body = JSON.stringify({ query: '{ me { id } }', variables: { pad: 'x'.repeat(100 * 1024) } });
    const overHttp = await rawGraphQLHttp(http.url, body, bearer);
    expect(overHttp.status).toBe(413);
    expect(firstCode(overHttp)).toBe('BAD_REQUEST');
    const overSse = await rawGraphQLHttp(http.url, body, bearer, { sse: true });
    expect(overSse.status).toBe(413);
    const overWs = await rawGraphQLWs(http.url, body, bearer);
    expect(overWs.closed).toBe(1009);
    // GET carries the operation in the URL: Node's header limit (16 KB) holds it, answered with a typed 431.
    const longGet = await rawHttp(http.url, { target: `/graphql?query=${'%20'.repeat(10_000)}{me{id}}`, headers: { authorization: `Bearer ${bearer}` } });
    expect(longGet.status).toBe(431);
    expect(JSON.parse(longGet.body).error.code).toBe('HEADERS_TOO_LARGE');
  });

  it('yoga never sees more than MAX_BODY_BYTES: its own body limit is off, the HTTP server and Node’s parser hold it', { timeout: 60_000 }, async () => {
    const bearer = await token(runtime, 'sized');
    const query = '{"query":"{ me { id } }"}';
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${bearer}` };
    // Bytes past the declared length are not the body: the answer comes from the declared bytes,
    // and the rest is the next request on the socket — here one over the limit, refused with 413.
    const next = `POST /graphql HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nauthorization: Bearer ${bearer}\r\ncontent-length: ${200 * 1024}\r\nconnection: close\r\n\r\n${'x'.repeat(200 * 1024)}`;
    const overrun = await rawHttp(http.url, { method: 'POST', target: '/graphql', headers: { ...headers, connection: 'keep-alive', 'content-length': String(query.length) }, body: query + next });
    expect(overrun.status).toBe(200);
    expect(overrun.body).toContain('{"data":{"me":{"id":"sized"}}}');
    expect(overrun.body).toMatch(/HTTP\/1\.1 413 /);
    // Chunked, so no length to check up front: refused before yoga (411), even when small.
    const chunked = await rawHttp(http.url, { method: 'POST', target: '/graphql', headers: { ...headers, 'transfer-encoding': 'chunked' }, body: `${query.length.toString(16)}\r\n${query}\r\n0\r\n\r\n` });
    expect(chunked.status).toBe(411);
    // Chunked with a small Content-Length beside it (a smuggling shape): Node's parser refuses it.
    const both = await rawHttp(http.url, {
      method: 'POST',
      target: '/graphql',
      headers: { ...headers, 'content-length': '10', 'transfer-encoding': 'chunked' },
      body: `${(100 * 1024).toString(16)}\r\n${'x'.repeat(100 * 1024)}\r\n0\r\n\r\n`,
    });
    expect(both.status).toBe(400);
    // Over the limit by its Content-Length, with the body actually sent: 413.
    const big = JSON.stringify({ query: '{ me { id } }', variables: { pad: 'x'.repeat(100 * 1024) } });
    expect((await rawHttp(http.url, { method: 'POST', target: '/graphql', headers, body: big })).status).toBe(413);
    expect((await rawGraphQLHttp(http.url, query, bearer)).result).toEqual({ data: { me: { id: 'sized' } } });
  });

  const ARMORED: Array<[string, string, RegExp]> = [
    ['too deep', `{ ${Array.from({ length: 20 }).reduce<string>((inner) => `reports(first: 1) { edges { node { ${inner} } } }`, 'reportId')} }`, /depth|cost/i],
    ['too many aliases', `{ ${Array.from({ length: 100 }, (_, i) => `a${i}: me { id }`).join(' ')} }`, /alias/i],
    ['too many tokens', `{ me { ${Array.from({ length: 5000 }, () => 'id').join(' ')} } }`, /token/i],
    ['too costly', `{ reports(first: 100) { edges { node { history { type } locations { key } } } } a: reports(first: 100) { edges { node { history { type } } } } }`, /cost/i],
    ['nested past the parser', `{ ${'me { '.repeat(3000)}id${' }'.repeat(3000)} }`, /nests/i],
  ];
  for (const transport of TRANSPORTS) {
    it(`graphql-armor’s limits and the nesting limit hold over ${transport}`, { timeout: 60_000 }, async () => {
      const bearer = await token(runtime, 'armor');
      for (const [name, query, message] of ARMORED) {
        const answer = await send(transport, http.url, JSON.stringify({ query }), bearer);
        expect(answer.status, name).toBeLessThan(500);
        expect(answer.result?.errors?.length, name).toBeGreaterThan(0);
        expect(answer.result!.errors!.map((e) => e.message).join(' '), name).toMatch(message);
        expect(firstCode(answer), name).toMatch(/^(BAD_USER_INPUT|GRAPHQL_PARSE_FAILED|GRAPHQL_VALIDATION_FAILED)$/);
        expect(answer.result?.data ?? null, name).toBeNull();
      }
      expect((await rawGraphQLHttp(http.url, '{"query":"{ me { id } }"}', bearer)).result).toEqual({ data: { me: { id: 'armor' } } });
    });
  }

  for (const transport of TRANSPORTS) {
    it(`introspection, when turned off, is off over ${transport}`, { timeout: 60_000 }, async () => {
      const bearer = await token(closedRuntime, 'curious');
      const answer = await send(transport, closedHttp.url, JSON.stringify({ query: '{ __schema { types { name } } }' }), bearer);
      expect(answer.status).toBeLessThan(500);
      expect(answer.result?.errors?.[0]?.message).toMatch(/introspection/i);
      expect(answer.result?.data ?? null).toBeNull();
      // Still on where it is on.
      const open = await send(transport, http.url, JSON.stringify({ query: '{ __schema { queryType { name } } }' }), bearer);
      expect(open.result).toEqual({ data: { __schema: { queryType: { name: 'Query' } } } });
    });
  }

  it('a graphql-ws socket runs at most MAX_SUBSCRIPTIONS_PER_SOCKET operations; the socket stays usable', { timeout: 60_000 }, async () => {
    const bearer = await token(runtime, 'rate-ws');
    const [report] = await database.db.selectFrom('report_status').select('report_id').where('owner', '=', 'rate-ws').execute();
    const ws = gqlWs(http.url, bearer);
    try {
      const live = [0, 1, 2].map(() => subscribe(ws, ReportStatusDocument, { id: report!.report_id }));
      for (const sub of live) await sub.waitFor();
      const fourth = subscribe(ws, ReportStatusDocument, { id: report!.report_id });
      const ended = await fourth.done();
      expect(JSON.stringify(ended.error)).toContain('TOO_MANY_SUBSCRIPTIONS');
      // Completing one frees its place on the same socket.
      live[0]!.close();
      await expect
        .poll(async () => {
          const again = subscribe(ws, ReportStatusDocument, { id: report!.report_id });
          const ok = await again.waitFor(() => true, 5_000).then(() => true, () => false);
          again.close();
          return ok;
        }, { timeout: 30_000 })
        .toBe(true);
      for (const sub of live) sub.close();
    } finally {
      await ws.dispose();
    }
  });

  it('every report and every event is accounted for', async () => {
    // 3 per transport, 3 mixed: the refused ones left nothing behind.
    expect(await countEventsByType(runtime)).toEqual({ ReportRequested: 12 });
    const perOwner = await database.db.selectFrom('report_status').select(['owner', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('owner').orderBy('owner').execute();
    expect(perOwner.map((r) => [r.owner, Number(r.n)])).toEqual([
      ['rate-http', 3],
      ['rate-mixed', 3],
      ['rate-sse', 3],
      ['rate-ws', 3],
    ]);
  });
});
