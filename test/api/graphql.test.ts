import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpServer, type HttpServer } from '../../src/api/http-server.js';
import { RenderPool } from '../../src/render/render-pool.js';
import { createWorkers, type Workers } from '../../src/workers/start-workers.js';
import { closedWith, gqlHttp, gqlWs, subscribe } from '../graphql/client.js';
import {
  CreateDownloadUrlDocument,
  EventsDocument,
  MeDocument,
  ReportDocument,
  ReportsDocument,
  ReportStatusDocument,
  RequestReportDocument,
  RetryReportDocument,
} from '../graphql/gql/graphql.js';
import { backends, openTestDatabase, type TestDatabase } from '../support/databases.js';
import { countEventsByType, startTestRuntime, type TestRuntime } from '../support/runtime.js';
import { startS3Server, type TestS3Server } from '../support/s3-server.js';
import { untilAllSafe } from '../support/safe-log.js';

const tableInput = (title: string, rows = 5) => ({
  template: 'table',
  title,
  params: { columns: [{ label: 'Name', key: 'name' }], rows: Array.from({ length: rows }, (_, i) => ({ name: `row ${i}` })) },
});

describe.each(backends)('GraphQL API on %s', (kind) => {
  let database: TestDatabase;
  let s3: TestS3Server;
  let runtime: TestRuntime;
  let http: HttpServer;
  let workers: Workers;
  let pool: RenderPool;
  let statements = 0;
  const tokens: Record<'alice' | 'bob' | 'auditor' | 'admin', string> = { alice: '', bob: '', auditor: '', admin: '' };

  beforeAll(async () => {
    s3 = await startS3Server();
    const base = await openTestDatabase(kind);
    // Every statement the API sends goes through this plugin: the DataLoader test counts them.
    database = {
      ...base,
      db: base.db.withPlugin({
        transformQuery: (args) => {
          statements++;
          return args.node;
        },
        transformResult: async (args) => args.result,
      }),
    };
    runtime = await startTestRuntime(
      kind,
      {
        ...s3.env,
        WORKER_POLL_MS: '100',
        REQUESTS_PER_MINUTE: '40',
        // Only NOTIFY wakes the event hub: its polls would add to the statement count.
        SUBSCRIPTION_POLL_MS: '600000',
      },
      { database },
    );
    http = await startHttpServer(runtime, 0, '127.0.0.1');
    pool = new RenderPool({ size: 2 });
    workers = createWorkers(runtime, { pool });
    tokens.alice = await runtime.userTokens.sign({ id: 'alice', role: 'user' }, 600);
    tokens.bob = await runtime.userTokens.sign({ id: 'bob', role: 'user' }, 600);
    tokens.auditor = await runtime.userTokens.sign({ id: 'audrey', role: 'auditor' }, 600);
    tokens.admin = await runtime.userTokens.sign({ id: 'ada', role: 'admin' }, 600);
  });

  afterAll(async () => {
    await workers?.stop();
    await pool?.close();
    await http?.close();
    await runtime?.close();
    await database?.close();
    await s3?.close();
  });

  it('request → live status REQUESTED … STORED … REPLICATED → download URL → the same bytes', async () => {
    const ws = gqlWs(http.url, tokens.alice);
    try {
      const requested = await gqlHttp(http.url, RequestReportDocument, { input: tableInput('Flow', 40) }, tokens.alice);
      expect(requested.status).toBe(200);
      const result = requested.data!.requestReport;
      if (result.__typename !== 'MutationRequestReportSuccess') throw new Error(`unexpected ${result.__typename}`);
      const { reportId } = result.data;
      expect(result.data.status).toBe('REQUESTED');

      const live = subscribe(ws, ReportStatusDocument, { id: reportId });
      const first = await live.waitFor();
      expect(first.reportStatus).toMatchObject({ reportId, status: 'REQUESTED', version: 1 });

      workers.start();
      const replicated = await live.waitFor((d) => d.reportStatus.status === 'REPLICATED', 30_000);
      live.close();
      const seen = live.data.map((d) => d.reportStatus.status);
      expect(seen).toEqual(['REQUESTED', 'STORED', 'REPLICATED']);
      expect(live.data.map((d) => d.reportStatus.version)).toEqual([1, 3, 4]);
      expect(replicated.reportStatus.locations.map((l) => l.kind).sort()).toEqual(['OBJECT', 'VOLUME']);

      const link = await gqlHttp(http.url, CreateDownloadUrlDocument, { reportId, ttlSeconds: 120 }, tokens.alice);
      const download = link.data!.createDownloadUrl;
      if (download.__typename !== 'MutationCreateDownloadUrlSuccess') throw new Error(`unexpected ${download.__typename}`);
      expect(download.data.source).toBe('OBJECT_STORE');
      const bytes = Buffer.from(await (await fetch(download.data.url)).arrayBuffer());
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(replicated.reportStatus.sha256);
    } finally {
      await ws.dispose();
    }
  });

  it('a status change made by another instance reaches the subscriber', async () => {
    const ws = gqlWs(http.url, tokens.alice);
    try {
      const requested = await gqlHttp(http.url, RequestReportDocument, { input: tableInput('Elsewhere') }, tokens.alice);
      const created = requested.data!.requestReport;
      if (created.__typename !== 'MutationRequestReportSuccess') throw new Error(created.__typename);
      const live = subscribe(ws, ReportStatusDocument, { id: created.data.reportId });
      await live.waitFor();
      // A second "instance": its own runtime on the same database appends the change.
      const other = await startTestRuntime(kind, { FLY_REGION: 'syd' }, { database });
      await other.store.append(`report-${created.data.reportId}`, 'any', [
        { type: 'ReportFailed', data: { stage: 'render', error: 'the syd instance gave up', attempt: 9, retryAt: null } },
      ]);
      const failed = await live.waitFor((d) => d.reportStatus.status === 'FAILED' || d.reportStatus.status === 'STORED', 20_000);
      live.close();
      await other.close();
      // Either our worker stored it first (then the append above was later), or the failure landed.
      expect(['FAILED', 'STORED', 'REPLICATED']).toContain(failed.reportStatus.status);
    } finally {
      await ws.dispose();
    }
  });

  it('users see only their own reports; auditors read all and change nothing', async () => {
    const mine = await gqlHttp(http.url, RequestReportDocument, { input: tableInput('Alice only') }, tokens.alice);
    const created = mine.data!.requestReport;
    if (created.__typename !== 'MutationRequestReportSuccess') throw new Error(created.__typename);
    const id = created.data.reportId;
    const missing = '00000000-0000-4000-8000-000000000000';

    // Bob: the same answer for Alice's report as for one that does not exist.
    for (const target of [id, missing]) {
      expect((await gqlHttp(http.url, ReportDocument, { id: target }, tokens.bob)).data).toEqual({ report: null });
      const dl = (await gqlHttp(http.url, CreateDownloadUrlDocument, { reportId: target }, tokens.bob)).data!.createDownloadUrl;
      expect(dl).toMatchObject({ __typename: 'NotFoundError', code: 'NOT_FOUND', reportId: target });
      const retry = (await gqlHttp(http.url, RetryReportDocument, { id: target }, tokens.bob)).data!.retryReport;
      expect(retry).toMatchObject({ __typename: 'NotFoundError' });
    }
    const bobsList = (await gqlHttp(http.url, ReportsDocument, { first: 50 }, tokens.bob)).data!.reports.edges;
    expect(bobsList).toEqual([]);
    const bobWs = gqlWs(http.url, tokens.bob);
    const spy = subscribe(bobWs, ReportStatusDocument, { id });
    const ended = await spy.done();
    expect(String((ended.error as Array<{ message: string }>)?.[0]?.message ?? ended.error)).toMatch(/not found/);
    await bobWs.dispose();

    // The auditor reads Alice's report and the log, and cannot request or retry.
    const audited = await gqlHttp(http.url, ReportDocument, { id }, tokens.auditor);
    expect(audited.data!.report).toMatchObject({ reportId: id, owner: 'alice' });
    const asAuditor = (await gqlHttp(http.url, RequestReportDocument, { input: tableInput('nope') }, tokens.auditor)).data!.requestReport;
    expect(asAuditor).toMatchObject({ __typename: 'ForbiddenError', code: 'FORBIDDEN' });
    // The log is a safe read: Alice's request shows there once no older transaction runs.
    await untilAllSafe(runtime.database.db);
    const events = await gqlHttp(http.url, EventsDocument, { first: 5, streamId: `report-${id}` }, tokens.auditor);
    expect(events.data!.events.edges[0]!.node).toMatchObject({ type: 'ReportRequested', streamVersion: 1 });
    // Users do not read the global log.
    const userEvents = await gqlHttp(http.url, EventsDocument, { first: 5 }, tokens.alice);
    expect(userEvents.errors?.[0]).toMatchObject({ message: 'your role does not allow this', extensions: { code: 'FORBIDDEN' } });
  });

  it('missing, expired and forged tokens get 401; a WebSocket without a valid token is closed', async () => {
    const anonymous = await gqlHttp(http.url, MeDocument, {});
    expect(anonymous).toMatchObject({ status: 401, errors: [{ message: 'a valid bearer token is required' }] });
    const expired = await runtime.userTokens.sign({ id: 'alice', role: 'user' }, -5);
    const expiredRes = await gqlHttp(http.url, MeDocument, {}, expired);
    expect(expiredRes.status).toBe(401);
    expect(expiredRes.errors?.[0]?.message).toBe('the bearer token has expired');
    const [h, p] = tokens.alice.split('.');
    const forgedPayload = Buffer.from(JSON.stringify({ sub: 'alice', role: 'admin', exp: 9999999999 })).toString('base64url');
    expect((await gqlHttp(http.url, MeDocument, {}, `${h}.${forgedPayload}.${tokens.alice.split('.')[2]}`)).status).toBe(401);
    expect((await gqlHttp(http.url, MeDocument, {}, `${h}.${p}.AAAA`)).status).toBe(401);
    expect((await gqlHttp(http.url, MeDocument, {}, tokens.admin)).data).toEqual({ me: { id: 'ada', role: 'ADMIN' } });

    for (const bad of [undefined, 'not-a-token', expired]) {
      const ws = gqlWs(http.url, bad);
      const closed = await closedWith(ws);
      expect(closed.code).toBe(4403);
      await ws.dispose();
    }
  });

  it('limits: deep queries, many aliases and big bodies are refused; the server stays healthy', async () => {
    const post = (body: string) =>
      fetch(`${http.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens.alice}` }, body });
    const depth20 = `{ ${Array.from({ length: 20 }).reduce<string>((inner) => `reports(first: 1) { edges { node { ${inner} } } }`, 'reportId')} }`;
    const tooDeep = await (await post(JSON.stringify({ query: depth20 }))).json();
    expect(JSON.stringify(tooDeep.errors)).toMatch(/depth|cost/i);

    const aliases = `{ ${Array.from({ length: 100 }, (_, i) => `a${i}: me { id }`).join(' ')} }`;
    const manyAliases = await (await post(JSON.stringify({ query: aliases }))).json();
    expect(JSON.stringify(manyAliases.errors)).toMatch(/aliases/i);

    const huge = await post(JSON.stringify({ query: '{ me { id } }', variables: { pad: 'x'.repeat(2 * 1024 * 1024) } }));
    expect(huge.status).toBe(413);
    expect((await huge.json()).errors[0].message).toMatch(/over the limit/);

    // The same limits hold over WebSocket.
    const ws = gqlWs(http.url, tokens.alice);
    const aliasedWs = await new Promise<unknown>((resolve) => {
      ws.subscribe({ query: aliases }, { next: resolve, error: resolve, complete: () => resolve('complete') });
    });
    expect(JSON.stringify(aliasedWs)).toMatch(/aliases/i);
    await ws.dispose();

    expect((await gqlHttp(http.url, MeDocument, {}, tokens.alice)).data).toEqual({ me: { id: 'alice', role: 'USER' } });
    expect((await fetch(`${http.url}/healthz`)).status).toBe(200);
  });

  it('reports(first: 50) { locations history } runs a constant number of SQL statements', async () => {
    const count = async (first: number) => {
      statements = 0;
      const res = await gqlHttp(http.url, ReportsDocument, { first }, tokens.admin);
      expect(res.data!.reports.edges.length).toBe(first);
      return statements;
    };
    // Enough reports for the biggest page.
    const existing = (await gqlHttp(http.url, ReportsDocument, { first: 100 }, tokens.admin)).data!.reports.edges.length;
    for (let i = existing; i < 50; i++) {
      const reportId = crypto.randomUUID();
      // Encrypted, as requestReport writes them: every page decrypts its requests (one data-key query).
      const { data, dataKey } = runtime.store.personalData.encrypt({ reportId, template: 'table', title: `bulk ${i}`, params: {}, owner: 'bulk' });
      await runtime.store.append(`report-${reportId}`, 'no_stream', [{ type: 'ReportRequested', data }], {}, { alongside: [dataKey] });
    }
    await workers.stop();
    // Let the event hub catch up with the appends above, so that only the request's statements count.
    await new Promise((r) => setTimeout(r, 500));
    const few = Math.min(await count(2), await count(2));
    const many = Math.min(await count(50), await count(50));
    expect(many).toBe(few);
    expect(many).toBeLessThanOrEqual(4);
  });

  it('every report and every event is accounted for', async () => {
    await workers.stop();
    const counts = await countEventsByType(runtime);
    const rows = await runtime.store.db.selectFrom('report_status').select(['stream_id', 'last_version']).execute();
    expect(rows.length).toBe(counts.ReportRequested);
    const perStream = await runtime.store.db
      .selectFrom('events')
      .select(['stream_id', (eb) => eb.fn.max('stream_version').as('version')])
      .where('stream_id', 'like', 'report-%')
      .groupBy('stream_id')
      .execute();
    const logVersions = Object.fromEntries(perStream.map((r) => [r.stream_id, Number(r.version)]));
    expect(Object.fromEntries(rows.map((r) => [r.stream_id, Number(r.last_version)]))).toEqual(logVersions);
  });
});
