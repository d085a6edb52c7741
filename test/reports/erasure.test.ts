import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ForbiddenError, type Actor } from '../../src/actor.js';
import { checkExport, exportLines } from '../../src/audit/export.js';
import { reportAt } from '../../src/audit/report-at.js';
import { sealPending } from '../../src/audit/seal.js';
import { verifyLog } from '../../src/audit/verify.js';
import { startHttpServer } from '../../src/api/http-server.js';
import { InvalidParamsError } from '../../src/errors.js';
import { reportStreamId } from '../../src/reports/report-state.js';
import { loadReportState } from '../../src/reports/load-report.js';
import { rebuildAndVerifyProjections } from '../../src/projections/rebuild-verify.js';
import { RenderPool } from '../../src/render/render-pool.js';
import { eraseReport } from '../../src/reports/erase-report.js';
import { ErasureUnsupportedError, GoneError, ReportNotFoundError } from '../../src/reports/errors.js';
import { ERASED } from '../../src/reports/personal-data.js';
import { requestReport } from '../../src/reports/request-report.js';
import { createWorkers, type Workers } from '../../src/workers/start-workers.js';
import { openPdf } from '../render/pdf.js';
import { backends, type TestDatabase } from '../support/databases.js';
import { untilAllSafe } from '../support/safe-log.js';
import { startS3Server, type TestS3Server } from '../support/s3-server.js';
import { countEventsByType, startTestRuntime, type TestRuntime } from '../support/runtime.js';

const alice: Actor = { id: 'alice', role: 'user' };
const admin: Actor = { id: 'admin-1', role: 'admin' };
const auditor: Actor = { id: 'auditor-1', role: 'auditor' };

/**
 * Crypto-shredding end to end: a report whose title and params carry a marker is rendered and
 * replicated (the real S3 test server, and the disk store), erased, and afterwards the log and its
 * seals still verify, the export still checks, and neither a dump of the database nor any file of
 * the volume, the disk store or the S3 server's directory holds the marker.
 */

/** Every row of every table as text: pg_dump on PostgreSQL; on PGlite (no pg_dump) each table's rows, read as pg_dump reads them. */
async function dumpDatabase(database: TestDatabase): Promise<string> {
  if (database.url) {
    const { stdout } = await promisify(execFile)('pg_dump', ['--no-owner', database.url], { maxBuffer: 256 * 1024 * 1024 });
    return stdout;
  }
  const { rows: tables } = await sql<{ name: string }>`SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`.execute(database.db);
  const out: string[] = [];
  for (const { name } of tables) {
    const { rows } = await sql<{ row: string }>`SELECT t::text AS row FROM ${sql.table(name)} AS t`.execute(database.db);
    out.push(`-- ${name}`, ...rows.map((r) => r.row));
  }
  return out.join('\n');
}

/** Every file under `dir` that contains `marker` (its bytes, as latin1: a PDF is not UTF-8). */
function filesHolding(dir: string, marker: string): string[] {
  const found: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (readFileSync(path).toString('latin1').includes(marker)) found.push(path);
    }
  };
  walk(dir);
  return found;
}

const paramsWith = (marker: string) => ({
  columns: [
    { label: 'Name', key: 'name' },
    { label: 'Note', key: 'note' },
  ],
  rows: [{ name: `Jane ${marker}`, note: `lives at ${marker} street` }],
});

describe.each(backends)('erasure on %s', (kind) => {
  let pool: RenderPool;
  let s3: TestS3Server;

  beforeAll(async () => {
    pool = new RenderPool({ size: 1 });
    s3 = await startS3Server();
  });
  afterAll(async () => {
    await pool?.close();
    await s3?.close();
  });

  describe.each(['s3', 'disk'] as const)('replicated to the %s store', (store) => {
    let runtime: TestRuntime;
    let workers: Workers;
    const objectsDir = mkdtempSync(join(tmpdir(), 'quire-erasure-objects-'));

    beforeAll(async () => {
      runtime = await startTestRuntime(kind, { STORAGE_MODE: 'mirror', ...(store === 's3' ? s3.env : { OBJECTS_DIR: objectsDir }) });
      workers = createWorkers(runtime, { pool, owner: `worker-${store}` });
    });
    afterAll(async () => {
      await workers?.stop();
      await runtime?.close();
      rmSync(objectsDir, { recursive: true, force: true });
    });

    /** Where a copy of a file could be: the volume, the object store's directory, DATA_DIR. */
    const places = () => [runtime.config.reportsDir, store === 's3' ? s3.directory : objectsDir, runtime.dataDir];

    it('after erasure the log verifies, the export checks, [erased] shows where the data was, and nothing holds the plaintext', async () => {
      const marker = `MARKER${randomUUID().replaceAll('-', '')}`;
      const { reportId, streamId } = await requestReport(runtime.store, { template: 'table', title: `Records of ${marker}`, params: paramsWith(marker) }, alice);
      await workers.render.drain();
      await workers.replicate!.drain();
      expect(await loadReportState(runtime.store.db, reportId)).toMatchObject({ status: 'REPLICATED', title: `Records of ${marker}`, encrypted: true });

      // Before: the log holds only ciphertext; the projection (decrypted) and the file hold the marker.
      const { rows: logRows } = await sql<{ data: string }>`SELECT data::text AS data FROM events WHERE stream_id = ${streamId}`.execute(runtime.store.db);
      expect(logRows.some((r) => r.data.includes(marker))).toBe(false);
      expect(logRows[0]!.data).toMatch(/"personal": ?\{[^}]*"alg": ?"A256GCM"/);
      const dumpBefore = await dumpDatabase(runtime.database);
      expect(dumpBefore).toContain(marker);
      expect(places().flatMap((d) => filesHolding(d, marker)).length).toBeGreaterThanOrEqual(2);
      const [revealed] = await runtime.store.reveal(await runtime.store.readStream(streamId, { limit: 1 }));
      expect(revealed!.data).toMatchObject({ title: `Records of ${marker}`, params: paramsWith(marker) });
      // Seals cover safe events only: wait until the request and the copies are.
      await untilAllSafe(runtime.store.db);
      await sealPending(runtime.store.db, { signer: runtime.sealKeys.signer });

      // Only admins erase, with a reason; a report in clear is refused by name.
      await expect(eraseReport(runtime.store, reportId, 'GDPR request 7', alice)).rejects.toThrow(ForbiddenError);
      await expect(eraseReport(runtime.store, reportId, 'GDPR request 7', auditor)).rejects.toThrow(ForbiddenError);
      await expect(eraseReport(runtime.store, reportId, '  ', admin)).rejects.toThrow(InvalidParamsError);
      await expect(eraseReport(runtime.store, randomUUID(), 'GDPR request 7', admin)).rejects.toThrow(ReportNotFoundError);

      const erased = await eraseReport(runtime.store, reportId, 'GDPR request 7', admin);
      expect(erased).toMatchObject({ status: 'ERASED', title: ERASED });
      // Again: nothing new (the key is gone already).
      expect(await eraseReport(runtime.store, reportId, 'GDPR request 7', admin)).toMatchObject({ status: 'ERASED', version: erased.version });
      const events = await runtime.store.readStream(streamId);
      expect(events.at(-1)).toMatchObject({ type: 'ReportErased', data: { by: 'admin-1', reason: 'GDPR request 7' }, metadata: { actor: 'admin-1' } });
      expect(await runtime.store.db.selectFrom('report_data_keys').select('report_id').where('report_id', '=', reportId).execute()).toEqual([]);

      // [erased] where the data was: the decrypted events, the report then and now.
      const [after] = await runtime.store.reveal(events.slice(0, 1));
      expect(after!.data).toMatchObject({ title: ERASED, params: {} });
      expect(await reportAt(runtime.store.db, runtime.store.personalData, reportId, { at: events[0]!.recordedAt })).toMatchObject({ status: 'REQUESTED', title: ERASED });

      // The files go with it (the purge stage).
      await workers.purge!.drain();

      // The log, its seals (one made before the erasure, one after) and an export still check.
      await untilAllSafe(runtime.store.db);
      await sealPending(runtime.store.db, { signer: runtime.sealKeys.signer });
      const verified = await verifyLog(runtime.store.db, { publicKeys: runtime.sealKeys.trusted });
      expect(verified).toMatchObject({ ok: true, problemCount: 0 });
      expect(verified.sealedEvents).toBe(verified.events);
      const lines: string[] = [];
      for await (const line of exportLines(runtime.store.db)) lines.push(line);
      expect(lines.join('\n')).not.toContain(marker);
      expect(await checkExport(lines, { publicKeys: runtime.sealKeys.trusted })).toMatchObject({ ok: true, problemCount: 0 });
      expect(await rebuildAndVerifyProjections(runtime.store.db, runtime.store.personalData)).toMatchObject({ differenceCount: 0 });

      // The history template shows [erased] where the request's data was (and never prints a title).
      const history = await requestReport(runtime.store, { template: 'history', title: 'Audit trail', params: { reportId } }, admin);
      await workers.render.drain();
      const historyCopy = (await loadReportState(runtime.store.db, history.reportId))!.locations.find((l) => l.kind === 'volume')!;
      const doc = await openPdf(readFileSync(join(runtime.config.reportsDir, historyCopy.key)));
      const text = await doc.text(1);
      await doc.close();
      expect(text).toContain('ReportErased');
      expect(text).toContain(ERASED);

      // Nothing, anywhere, holds the plaintext.
      expect(await dumpDatabase(runtime.database)).not.toContain(marker);
      expect(places().flatMap((d) => filesHolding(d, marker))).toEqual([]);

      // Every event accounted for.
      const counts = await countEventsByType(runtime);
      expect(counts).toEqual({ ReportRequested: 2, ReportRendered: 2, ReportStoredLocal: 2, ReportReplicated: 1, ReportErased: 1, ReportPurged: 2 });
    });

    it('GraphQL: eraseReport for admins only, typed refusals, [erased] in the report, its history and the auditors’ events, GONE to downloads', async () => {
      const http = await startHttpServer(runtime, 0, '127.0.0.1');
      const token = (actor: Actor) => runtime.userTokens.sign(actor, 600);
      const gql = async (query: string, variables: Record<string, unknown>, actor: Actor) => {
        const res = await fetch(`${http.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${await token(actor)}` },
          body: JSON.stringify({ query, variables }),
        });
        const body = (await res.json()) as { data?: Record<string, any>; errors?: unknown[] };
        expect(body.errors).toBeUndefined();
        return body.data!;
      };
      const ERASE = `mutation($id: ID!, $reason: String!) { eraseReport(id: $id, reason: $reason) { __typename
        ... on Error { code } ... on MutationEraseReportSuccess { data { status title } } } }`;
      try {
        const marker = `GQLMARKER${randomUUID().replaceAll('-', '')}`;
        const requested = await gql(
          `mutation($input: RequestReportInput!) { requestReport(input: $input) { ... on MutationRequestReportSuccess { data { reportId title } } } }`,
          { input: { template: 'table', title: `For ${marker}`, params: paramsWith(marker) } },
          alice,
        );
        const { reportId, title } = requested.requestReport.data;
        expect(title).toBe(`For ${marker}`);
        await workers.render.drain();

        expect((await gql(ERASE, { id: reportId, reason: 'request 9' }, alice)).eraseReport).toMatchObject({ __typename: 'ForbiddenError', code: 'FORBIDDEN' });
        expect((await gql(ERASE, { id: reportId, reason: '' }, admin)).eraseReport).toMatchObject({ __typename: 'InvalidParamsError', code: 'INVALID_PARAMS' });
        expect((await gql(ERASE, { id: reportId, reason: 'request 9' }, admin)).eraseReport).toEqual({ __typename: 'MutationEraseReportSuccess', data: { status: 'ERASED', title: ERASED } });

        const report = (await gql(`query($id: ID!) { report(id: $id) { status title history { type data } } }`, { id: reportId }, alice)).report;
        expect(report).toMatchObject({ status: 'ERASED', title: ERASED });
        expect(report.history[0]).toMatchObject({ type: 'ReportRequested', data: { title: ERASED, params: {} } });
        expect(report.history.at(-1)).toMatchObject({ type: 'ReportErased', data: { by: 'admin-1', reason: 'request 9' } });
        expect(JSON.stringify(report)).not.toContain(marker);
        const download = await gql(`mutation($id: ID!) { createDownloadUrl(reportId: $id) { __typename ... on Error { code } } }`, { id: reportId }, alice);
        expect(download.createDownloadUrl).toMatchObject({ __typename: 'GoneError', code: 'GONE' });
        // The auditors' `events` is a safe read: the erasure shows there once no older transaction runs.
        await untilAllSafe(runtime.store.db);
        const events = await gql(`query($s: String) { events(streamId: $s, first: 10) { edges { node { type data } } } }`, { s: reportStreamId(reportId) }, auditor);
        expect(events.events.edges[0].node).toMatchObject({ type: 'ReportRequested', data: { title: ERASED } });

        // In clear (before encryption): the typed refusal, naming the limitation.
        const old = randomUUID();
        await runtime.store.append(reportStreamId(old), 'no_stream', [{ type: 'ReportRequested', data: { reportId: old, template: 'table', title: 'Old', params: {}, owner: 'alice' } }]);
        expect((await gql(ERASE, { id: old, reason: 'request 10' }, admin)).eraseReport).toMatchObject({ __typename: 'ErasureUnsupportedError', code: 'ERASURE_UNSUPPORTED' });
      } finally {
        await http.close();
      }
    });

    it('erased while it renders: the file written meanwhile is removed, nothing holds the plaintext', async () => {
      const marker = `RACEMARKER${randomUUID().replaceAll('-', '')}`;
      // Big enough to take a while to render: the erasure lands while the worker holds its claim.
      const params = { ...paramsWith(marker), rows: Array.from({ length: 4000 }, (_, i) => ({ name: `${marker} ${i}`, note: 'x'.repeat(40) })) };
      const { reportId, streamId } = await requestReport(runtime.store, { template: 'table', title: `Race ${marker}`, params }, alice);
      const rendering = workers.render.drain();
      await expect
        .poll(async () => (await runtime.store.db.selectFrom('work_leases').select('report_id').where('report_id', '=', reportId).where('stage', '=', 'render').execute()).length, { timeout: 20_000, interval: 5 })
        .toBe(1);
      await eraseReport(runtime.store, reportId, 'GDPR request 11', admin);
      await rendering;
      expect((await runtime.store.readStream(streamId)).map((e) => e.type)).toEqual(['ReportRequested', 'ReportErased']);
      expect(places().flatMap((d) => filesHolding(d, marker))).toEqual([]);
      expect(await dumpDatabase(runtime.database)).not.toContain(marker);
    });

    it('a request retried with its idempotency key after the report was erased answers GONE, and makes no new data key', async () => {
      const input = { template: 'table', title: 'Keyed', params: paramsWith('k'), idempotencyKey: `erase-${randomUUID()}` };
      const { reportId } = await requestReport(runtime.store, input, alice);
      expect((await requestReport(runtime.store, input, alice)).reportId).toBe(reportId);
      await eraseReport(runtime.store, reportId, 'GDPR request 12', admin);
      await expect(requestReport(runtime.store, input, alice)).rejects.toThrow(GoneError);
      expect(await runtime.store.db.selectFrom('report_data_keys').select('report_id').where('report_id', '=', reportId).execute()).toEqual([]);
      expect((await runtime.store.readStream(reportStreamId(reportId))).map((e) => e.type)).toEqual(['ReportRequested', 'ReportErased']);
    });

    it('a report whose request is in the log in clear (written before encryption) is refused: ErasureUnsupportedError, nothing changed', async () => {
      const reportId = randomUUID();
      await runtime.store.append(reportStreamId(reportId), 'no_stream', [
        { type: 'ReportRequested', data: { reportId, template: 'table', title: 'Old in clear', params: paramsWith('x'), owner: 'alice' } },
      ]);
      const before = await loadReportState(runtime.store.db, reportId);
      expect(before).toMatchObject({ title: 'Old in clear', encrypted: false });
      const refused = await eraseReport(runtime.store, reportId, 'GDPR request 8', admin).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(ErasureUnsupportedError);
      expect((refused as Error).message).toMatch(/in the append-only log in clear \(requested before personal data was encrypted\)/);
      expect(await loadReportState(runtime.store.db, reportId)).toEqual(before);
      expect(await runtime.store.readStream(reportStreamId(reportId))).toHaveLength(1);
    });
  });
});
