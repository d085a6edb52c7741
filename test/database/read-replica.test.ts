import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { parse } from 'graphql';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpServer, type HttpServer } from '../../src/api/http-server.js';
import { loadConfig } from '../../src/config.js';
import { InvalidLsnError, LSN_HEADER, MIN_LSN_HEADER, ReadRouter, compareLsn, parseLsnHeader } from '../../src/database/read-router.js';
import type { Database } from '../../src/database/schema.js';
import { START } from '../../src/events/checkpoint.js';
import { EventStore } from '../../src/events/event-store.js';
import { readAll } from '../../src/events/read.js';
import { subscribe } from '../../src/events/subscribe.js';
import { loadReportState } from '../../src/reports/load-report.js';
import { startRuntime, type Runtime } from '../../src/runtime.js';
import { closedWith, gqlHttp, gqlWs, subscribe as subscribeGql } from '../graphql/client.js';
import { CreateDownloadUrlDocument, ReportDocument, ReportsDocument, ReportStatusDocument, RequestReportDocument } from '../graphql/gql/graphql.js';
import { collect, waitFor } from '../support/collect.js';
import { silentLog } from '../support/databases.js';
import { failed, newReportStream, requested } from '../support/fixtures.js';
import { holdingProjection, readEverything } from '../support/log-reading.js';
import { TEST_SECRET } from '../support/runtime.js';
import { replicaUnavailableReason, startStreamingReplica, type StreamingReplica } from '../support/streaming-replica.js';

const unavailable = replicaUnavailableReason();
const required = process.env.QUIRE_REQUIRE_REPLICA === '1';
if (unavailable && !required) console.warn(`read-replica tests skipped: ${unavailable}`);

describe('LSN headers', () => {
  it('parses WAL positions and refuses anything else with a typed error', () => {
    expect(parseLsnHeader('0/3a1b2c8')).toBe('0/3A1B2C8');
    expect(parseLsnHeader(undefined)).toBeUndefined();
    expect(parseLsnHeader('')).toBeUndefined();
    for (const bad of ['3A1B2C8', '0/', '0/123456789', "0/1' OR 1=1", '-1/0']) expect(() => parseLsnHeader(bad)).toThrow(InvalidLsnError);
    expect(compareLsn('0/FF', '1/0')).toBe(-1);
    expect(compareLsn('1/10', '1/F')).toBe(1);
    expect(compareLsn('A/10', 'a/10')).toBe(0);
  });
});

describe.skipIf(unavailable !== undefined && !required)('a real streaming replica (DATABASE_READ_URL)', () => {
  let replica: StreamingReplica;
  let runtime: Runtime;
  let dataDir: string;
  let reader: Kysely<Database>;

  beforeAll(async () => {
    // In CI (QUIRE_REQUIRE_REPLICA=1) missing binaries fail here instead of skipping.
    if (unavailable) throw new Error(`QUIRE_REQUIRE_REPLICA is set but ${unavailable}`);
    replica = await startStreamingReplica();
    dataDir = mkdtempSync(join(tmpdir(), 'quire-replica-test-'));
    const config = loadConfig({
      DATABASE_URL: replica.primaryUrl,
      DATABASE_READ_URL: replica.standbyUrl,
      DATA_DIR: dataDir,
      FLY_REGION: 'lax',
      MACHINE_ID: 'lax-1',
      LOG_LEVEL: 'silent',
      AUTH_SECRET: TEST_SECRET,
      SUBSCRIPTION_POLL_MS: '100',
    });
    runtime = await startRuntime(config, silentLog);
    reader = runtime.database.readDb!;
    await replica.caughtUp();
  }, 180_000);

  afterAll(async () => {
    await replica?.resumeReplay().catch(() => {});
    await runtime?.close();
    await replica?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }, 120_000);

  it('opens the reader from DATABASE_READ_URL, and it is a hot standby', async () => {
    expect(runtime.config.databaseReadUrl).toBe(replica.standbyUrl);
    const { rows } = await sql<{ standby: boolean }>`SELECT pg_is_in_recovery() AS standby`.execute(reader);
    expect(rows[0]!.standby).toBe(true);
    // Writes on the reader are refused by the server itself: appends can only go to the primary.
    await expect(sql`INSERT INTO events (stream_id) VALUES ('x')`.execute(reader)).rejects.toThrow(/read-only/);
  });

  it('a write, then a read with its LSN: sees the write from the primary while the reader lags, from the reader once it has replayed', async () => {
    await replica.pauseReplay();
    const s = newReportStream();
    try {
      await runtime.store.append(s.streamId, 'no_stream', [requested(s.reportId)]);
      const lsn = (await runtime.reads.commitLsn())!;
      expect(parseLsnHeader(lsn)).toBe(lsn.toUpperCase());

      // The reader really is behind: the report is not there.
      expect(await loadReportState(reader, s.reportId)).toBeNull();
      expect(compareLsn((await runtime.reads.replayLsn())!, lsn)).toBe(-1);
      // Without the LSN a read may be stale; with it, it goes to the primary and sees the write.
      expect(await runtime.reads.target()).toBe('reader');
      expect(await runtime.reads.target(lsn)).toBe('primary');
      const scope = runtime.reads.scope(lsn);
      expect((await loadReportState(await scope.db(), s.reportId))?.reportId).toBe(s.reportId);
    } finally {
      await replica.resumeReplay();
    }
    await replica.caughtUp();
    const lsn = (await runtime.reads.commitLsn())!;
    await waitFor(async () => (await runtime.reads.target(lsn)) === 'reader', 30_000, 'the reader to replay the write');
    const scope = runtime.reads.scope(lsn);
    expect(await scope.db()).toBe(reader);
    expect((await loadReportState(await scope.db(), s.reportId))?.reportId).toBe(s.reportId);
  });

  it('a reader that is not a hot standby (promoted, logical) is not used: its snapshots are not the primary’s', async () => {
    const router = new ReadRouter(runtime.database.db, runtime.database.db, true);
    expect(await router.replayLsn()).toBeNull();
    expect(await router.target()).toBe('primary');
    expect(await router.target((await router.commitLsn())!)).toBe('primary');
  });

  it('a reader that does not answer sends reads to the primary instead of failing them', async () => {
    const dead = new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:1/quire', connectionTimeoutMillis: 2000 }) }) });
    try {
      const router = new ReadRouter(runtime.database.db, dead, true);
      expect(await router.target()).toBe('primary');
      expect(await router.target((await router.commitLsn())!)).toBe('primary');
      const s = newReportStream();
      await runtime.store.append(s.streamId, 'no_stream', [requested(s.reportId)]);
      expect((await loadReportState(await router.scope().db(), s.reportId))?.reportId).toBe(s.reportId);
    } finally {
      await dead.destroy();
    }
  });

  it('keeps the safe read gap-free on the standby: a commit behind a running transaction stays hidden until that one ends', async () => {
    const holder = holdingProjection();
    const store = new EventStore({ db: runtime.database.db, notifier: runtime.database.notifier, region: 'iad', log: silentLog, projections: [holder.projection] });
    await replica.caughtUp();
    const start = (await readAll(reader, START, 1_000_000)).checkpoint;

    const a = newReportStream();
    const b = newReportStream();
    const hold = holder.hold(a.streamId);
    const appendingA = store.append(a.streamId, 'no_stream', [requested(a.reportId)]);
    await hold.inside; // A has its transaction id and position, uncommitted
    await store.append(b.streamId, 'no_stream', [requested(b.reportId)]); // B commits after, with a later xid
    await replica.caughtUp();

    // The hazard is real on the standby: B is visible, A (lower position) is not yet.
    const naive = await reader
      .selectFrom('events')
      .select(['stream_id', 'global_position'])
      .where('stream_id', 'in', [a.streamId, b.streamId])
      .orderBy('global_position')
      .execute();
    expect(naive.map((r) => r.stream_id)).toEqual([b.streamId]);
    // The safe read on the standby holds B back while A may still commit before it.
    expect((await readEverything((after) => readAll(reader, after, 50), start)).map((e) => e.streamId)).not.toContain(b.streamId);

    hold.release();
    await appendingA;
    await replica.caughtUp();
    const after = (await readEverything((after) => readAll(reader, after, 50), start)).filter((e) => e.streamId === a.streamId || e.streamId === b.streamId);
    expect(after.map((e) => e.streamId)).toEqual([a.streamId, b.streamId]);
    // The same order the primary gives.
    const onPrimary = (await readEverything((after) => readAll(runtime.database.db, after, 50), start)).filter((e) => e.streamId === a.streamId || e.streamId === b.streamId);
    expect(onPrimary.map((e) => e.eventId)).toEqual(after.map((e) => e.eventId));
  });

  it('a subscription reading only the standby under concurrent appends and a replay pause: stale at times, never a gap, same order as the primary', async () => {
    await replica.caughtUp();
    const start = (await readAll(runtime.database.db, START, 1_000_000)).checkpoint;
    const controller = new AbortController();
    // Standby only (no hand-over): what it delivers must be exactly the primary's log, in its order.
    const sub = collect(subscribe({ db: reader, notifier: runtime.database.notifier, log: silentLog }, { after: start, pollMs: 50, batchSize: 7, signal: controller.signal }), controller);
    const writers = 6;
    const perWriter = 20;
    let paused = false;
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        for (let i = 0; i < perWriter; i++) {
          const s = newReportStream();
          await runtime.store.append(s.streamId, 'no_stream', [requested(s.reportId, `writer-${w}`)]);
          if (w === 0 && i === perWriter / 2) {
            paused = true;
            await replica.pauseReplay();
          }
        }
      }),
    );
    expect(paused).toBe(true);
    const seenWhilePaused = sub.events.length;
    expect(seenWhilePaused).toBeLessThan(writers * perWriter); // stale while the standby does not replay
    await replica.resumeReplay();
    await waitFor(() => sub.events.length >= writers * perWriter, 60_000, 'every event through the standby');
    await new Promise((r) => setTimeout(r, 200)); // room for a duplicate to show up
    await sub.stop();

    const expected = await readEverything((after) => readAll(runtime.database.db, after, 50), start);
    expect(expected).toHaveLength(writers * perWriter);
    expect(sub.events.map((e) => e.eventId)).toEqual(expected.map((e) => e.eventId));
  });

  it('a subscription catches up from the reader and hands over to the primary for live events, nothing skipped or repeated', async () => {
    await replica.caughtUp();
    const start = (await readAll(runtime.database.db, START, 1_000_000)).checkpoint;
    const before = Array.from({ length: 12 }, newReportStream);
    for (const s of before) await runtime.store.append(s.streamId, 'no_stream', [requested(s.reportId)]);
    await replica.caughtUp();
    await replica.pauseReplay();
    const live = Array.from({ length: 5 }, newReportStream);
    const controller = new AbortController();
    const readerReadsBefore = await readerReads(runtime);
    try {
      const sub = collect(runtime.store.subscribe({ after: start, batchSize: 5, pollMs: 50, signal: controller.signal }), controller);
      await waitFor(() => sub.events.length >= before.length, 30_000, 'the catch-up');
      // The reader is paused: these can only arrive from the primary.
      for (const s of live) await runtime.store.append(s.streamId, 'no_stream', [requested(s.reportId)]);
      await waitFor(() => sub.events.length >= before.length + live.length, 30_000, 'live events from the primary');
      await sub.stop();
      expect(sub.events.map((e) => e.streamId)).toEqual([...before, ...live].map((s) => s.streamId));
      expect(await readerReads(runtime)).toBeGreaterThan(readerReadsBefore); // the catch-up came from the reader
    } finally {
      await replica.resumeReplay();
    }
  });

  describe('through the HTTP server', () => {
    let http: HttpServer;
    let token: string;
    beforeAll(async () => {
      http = await startHttpServer(runtime, 0, '127.0.0.1');
      token = await runtime.userTokens.sign({ id: 'rita', role: 'user' }, 600);
    });
    afterAll(() => http?.close(1000));

    const input = (title: string) => ({ template: 'table', title, params: { columns: [{ label: 'Name', key: 'name' }], rows: [{ name: 'a' }] } });

    it('requestReport answers x-quire-lsn; report(id) and reports with x-quire-min-lsn see it even while the reader lags', async () => {
      await replica.pauseReplay();
      try {
        const created = await gqlHttp(http.url, RequestReportDocument, { input: input('read your writes') }, token, { headers: { origin: 'https://app.example.com' } });
        expect(created.status).toBe(200);
        // A web app on another origin may read it.
        expect(created.headers.get('access-control-expose-headers')).toContain(LSN_HEADER);
        const payload = created.data!.requestReport;
        if (payload.__typename !== 'MutationRequestReportSuccess') throw new Error(`requestReport: ${payload.__typename}`);
        const id = payload.data.reportId;
        const lsn = created.headers.get(LSN_HEADER);
        expect(lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);

        // Without the LSN the list comes from the lagging reader: stale, the new report is missing.
        const stale = await gqlHttp(http.url, ReportsDocument, { first: 50 }, token);
        expect(stale.errors).toBeUndefined();
        expect(stale.data!.reports.edges.map((e) => e.node.reportId)).not.toContain(id);

        const headers = { [MIN_LSN_HEADER]: lsn! };
        const list = await gqlHttp(http.url, ReportsDocument, { first: 50 }, token, { headers });
        expect(list.data!.reports.edges.map((e) => e.node.reportId)).toContain(id);
        const one = await gqlHttp(http.url, ReportDocument, { id }, token, { headers });
        expect(one.errors).toBeUndefined();
        expect(one.data!.report).toMatchObject({ reportId: id, title: 'read your writes', status: 'REQUESTED' });
        expect(one.data!.report!.history.map((e) => e.type)).toEqual(['ReportRequested']);
        // A report the reader does not have yet is confirmed on the primary, with or without the LSN.
        const bare = await gqlHttp(http.url, ReportDocument, { id }, token);
        expect(bare.data!.report?.reportId).toBe(id);
        // createDownloadUrl writes nothing: an answer (here: not ready yet, confirmed on the primary), and no LSN to wait for.
        const link = await gqlHttp(http.url, CreateDownloadUrlDocument, { reportId: id }, token);
        expect(link.data!.createDownloadUrl.__typename).toBe('NotReadyError');
        expect(link.headers.get(LSN_HEADER)).toBeNull();
      } finally {
        await replica.resumeReplay();
      }
    });

    it('report(id) after requestReport from the reader once it has replayed', async () => {
      const created = await gqlHttp(http.url, RequestReportDocument, { input: input('replayed') }, token);
      const payload = created.data!.requestReport;
      if (payload.__typename !== 'MutationRequestReportSuccess') throw new Error(`requestReport: ${payload.__typename}`);
      const lsn = created.headers.get(LSN_HEADER)!;
      await waitFor(async () => (await runtime.reads.target(lsn)) === 'reader', 30_000, 'the reader to replay the request');
      const readsBefore = await readerReads(runtime);
      const one = await gqlHttp(http.url, ReportDocument, { id: payload.data.reportId }, token, { headers: { [MIN_LSN_HEADER]: lsn } });
      expect(one.data!.report).toMatchObject({ reportId: payload.data.reportId, title: 'replayed' });
      expect(await readerReads(runtime)).toBeGreaterThan(readsBefore);
    });

    it('reportStatus: the first state may come from a lagging reader, what it had not replayed follows at once from the primary', async () => {
      const s = newReportStream();
      await runtime.store.append(s.streamId, 'no_stream', [requested(s.reportId, 'rita')]);
      await replica.caughtUp();
      await replica.pauseReplay();
      const ws = gqlWs(http.url, token);
      try {
        await runtime.store.append(s.streamId, 1, [failed(1)]);
        expect((await loadReportState(reader, s.reportId))?.version).toBe(1); // the reader is behind
        const sub = subscribeGql(ws, ReportStatusDocument, { id: s.reportId });
        const latest = await sub.waitFor((d) => d.reportStatus.version === 2, 20_000);
        expect(latest.reportStatus.status).toBe((await loadReportState(runtime.database.db, s.reportId))!.status);
        // The history of a state from the primary is never cut short by the lagging reader.
        const withHistory = subscribeGql(ws, StatusWithHistory, { id: s.reportId });
        const full = await withHistory.waitFor((d) => d.reportStatus.version === 2, 20_000);
        expect(full.reportStatus.history.map((e) => e.streamVersion)).toEqual([1, 2]);
        withHistory.close();
        // Without minLsn the first state came from the lagging reader (version 1)…
        expect(sub.data[0]!.reportStatus.version).toBe(1);
        // …with the LSN of the write, the socket's reads go to the primary: the first state is current.
        const fresh = gqlWs(http.url, undefined, { connectionParams: { authorization: `Bearer ${token}`, minLsn: (await runtime.reads.commitLsn())! } });
        try {
          const current = subscribeGql(fresh, ReportStatusDocument, { id: s.reportId });
          await current.waitFor(() => true, 20_000);
          expect(current.data[0]!.reportStatus.version).toBe(2);
          current.close();
        } finally {
          await fresh.dispose();
        }
        // Every state in version order, none repeated.
        const versions = sub.data.map((d) => d.reportStatus.version);
        expect(versions).toEqual([...new Set(versions)].sort());
        expect(versions.at(-1)).toBe(2);
        sub.close();
      } finally {
        await ws.dispose();
        await replica.resumeReplay();
      }
    });

    it('a download of a report the lagging reader does not have yet is answered from the primary (not ready, never "not found")', async () => {
      await replica.pauseReplay();
      try {
        const created = await gqlHttp(http.url, RequestReportDocument, { input: input('download me') }, token);
        const payload = created.data!.requestReport;
        if (payload.__typename !== 'MutationRequestReportSuccess') throw new Error(`requestReport: ${payload.__typename}`);
        expect(await loadReportState(reader, payload.data.reportId)).toBeNull();
        const variants: Array<Record<string, string>> = [{}, { [MIN_LSN_HEADER]: created.headers.get(LSN_HEADER)! }];
        for (const headers of variants) {
          const res = await fetch(`${http.url}/reports/${payload.data.reportId}/download`, { headers: { authorization: `Bearer ${token}`, ...headers }, redirect: 'manual' });
          expect(res.status).toBe(409);
          expect(((await res.json()) as { error: { code: string } }).error.code).toBe('NOT_READY');
        }
      } finally {
        await replica.resumeReplay();
      }
    });

    it('a bad x-quire-min-lsn is a typed 400, on GraphQL and on the REST download route', async () => {
      const gql = await gqlHttp(http.url, ReportsDocument, { first: 1 }, token, { headers: { [MIN_LSN_HEADER]: 'yesterday' } });
      expect(gql.status).toBe(400);
      expect(gql.errors?.[0]?.extensions?.code).toBe('INVALID_LSN');
      const rest = await fetch(`${http.url}/reports/${newReportStream().reportId}/download`, {
        headers: { authorization: `Bearer ${token}`, [MIN_LSN_HEADER]: '0/zz' },
        redirect: 'manual',
      });
      expect(rest.status).toBe(400);
      expect(((await rest.json()) as { error: { code: string } }).error.code).toBe('INVALID_LSN');
      // On WebSocket: connectionParams.minLsn, refused with 4400 (a bad request clients do not retry).
      const ws = gqlWs(http.url, undefined, { connectionParams: { authorization: `Bearer ${token}`, minLsn: 'not-an-lsn' } });
      try {
        expect((await closedWith(ws)).code).toBe(4400);
      } finally {
        await ws.dispose();
      }
    });
  });
});

/** reportStatus with the report's history (a document of this test only: no codegen needed). */
const StatusWithHistory = parse(`
  subscription StatusWithHistory($id: ID!) {
    reportStatus(id: $id) { version history { streamVersion } }
  }
`) as TypedDocumentNode<{ reportStatus: { version: number; history: Array<{ streamVersion: number }> } }, { id: string }>;

async function readerReads(runtime: Runtime): Promise<number> {
  const metric = await runtime.metrics.registry.getSingleMetric('quire_database_reads_total')!.get();
  return metric.values.find((v) => v.labels.target === 'reader')?.value ?? 0;
}
