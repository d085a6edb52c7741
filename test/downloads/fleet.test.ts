import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../../src/actor.js';
import { createDownloadUrl } from '../../src/api/downloads.js';
import { rebuildAndVerifyProjections } from '../../src/projections/rebuild-verify.js';
import { checkReadiness } from '../../src/legacy/readiness.js';
import { loadReportState } from '../../src/reports/load-report.js';
import { reportStreamId } from '../../src/reports/report-state.js';
import { RenderPool } from '../../src/render/render-pool.js';
import { requestReport } from '../../src/reports/request-report.js';
import { startEdge, type Edge, type EdgeTarget } from '../../src/simulation/edge.js';
import { Prng } from '../../src/simulation/prng.js';
import { ReportFailedError } from '../../src/storage/download-errors.js';
import { forgetVolume, InvalidMachineIdError, OwnVolumeError, UnknownMachineError } from '../../src/volumes/forget-volume.js';
import { waitFor } from '../support/collect.js';
import { backends, openTestDatabase, type TestDatabase } from '../support/databases.js';
import { freePort, startInstance, type Instance } from '../support/instances.js';
import { countEventsByType } from '../support/runtime.js';
import { startS3Server, type TestS3Server } from '../support/s3-server.js';

const alice: Actor = { id: 'alice', role: 'user' };
const admin = { id: 'ops', role: 'admin' as const };
const params = (n: number) => ({
  columns: [{ label: 'Item', key: 'item' }, { label: 'Qty', key: 'qty', align: 'right', format: 'number' }],
  rows: Array.from({ length: 3 + (n % 5) }, (_, i) => ({ item: `Item ${n}.${i}`, qty: i })),
});
const sha = (b: ArrayBuffer) => createHash('sha256').update(Buffer.from(b)).digest('hex');
/** Fly machine ids: 14 hex digits. Two machines in iad, two in lax. */
const MACHINES = [
  { region: 'iad', machine: '1781e0d5c03e89' },
  { region: 'iad', machine: '9185d75bd14328' },
  { region: 'lax', machine: '3d8d9d1cd36e08' },
  { region: 'lax', machine: 'e82d4e1f4d7e58' },
] as const;
const REPORTS = 24;

/**
 * The fleet Fly actually runs (issue 12): 2 machines × 2 regions, each with its own volume and
 * FLY_MACHINE_ID, one database, one S3 server, behind an edge that routes `fly-replay: instance=`
 * to exactly that machine and `region=` to any machine of the region.
 */
describe.each(backends)('a fleet of 2 machines in each of 2 regions on %s', (kind) => {
  let database: TestDatabase;
  let s3: TestS3Server;
  let pool: RenderPool;
  let edge: Edge;
  const targets: Array<EdgeTarget & { live: boolean }> = [];
  const fleet: Instance[] = [];
  const byMachine = (m: string) => fleet.find((i) => i.machine === m)!;
  const [iadA, iadB, laxA, laxB] = MACHINES.map((m) => m.machine) as [string, string, string, string];
  const reportIds: string[] = [];

  beforeAll(async () => {
    database = await openTestDatabase(kind);
    s3 = await startS3Server();
    pool = new RenderPool({ size: 2 });
    edge = await startEdge(() => targets, new Prng(12));
    for (const { region, machine } of MACHINES) {
      const port = await freePort();
      const instance = await startInstance(
        kind,
        database,
        region,
        port,
        {
          ...s3.env,
          FLY_MACHINE_ID: machine,
          FLY_REPLAY: 'true',
          // On Fly every machine answers at the app's one hostname: links are signed for the edge.
          PUBLIC_URL: edge.url,
          RETRY_BASE_MS: '100',
          LEASE_MS: '3000',
        },
        pool,
      );
      fleet.push(instance);
      targets.push({ region, machine, port, live: true });
    }
  });

  afterAll(async () => {
    for (const instance of fleet) await instance.close().catch(() => undefined);
    await edge?.close();
    await pool?.close();
    await s3?.close();
    await database?.close();
  });

  it('with the object store down, every report downloads through the edge the moment it is STORED', async () => {
    await s3.stop();
    for (const i of fleet) {
      i.workers.render.start();
      i.workers.replicate!.start();
    }
    const prng = new Prng(7);
    const downloads = await Promise.all(
      Array.from({ length: REPORTS }, async (_, n) => {
        const asker = prng.pick(fleet);
        const { reportId } = await requestReport(asker.runtime.store, { template: 'table', title: `Fleet ${n}`, params: params(n) }, alice);
        reportIds.push(reportId);
        let state = await loadReportState(database.db, reportId);
        await waitFor(async () => (state = await loadReportState(database.db, reportId))?.status === 'STORED', 60_000, `report ${n} to be STORED`);
        // Any machine may be asked for the link (the edge picks one for the API call too).
        const resolver = fleet[n % fleet.length]!;
        const url = await createDownloadUrl(resolver.runtime, reportId, alice);
        const holder = state!.locations.find((l) => l.kind === 'volume')!;
        const response = await fetch(url.url);
        const body = await response.arrayBuffer();
        return { n, url, holder, resolver: resolver.machine, status: response.status, sha: sha(body), expected: state!.sha256, answeredBy: response.headers.get('x-edge-machine') };
      }),
    );
    for (const d of downloads) {
      expect(d.holder.machine, `report ${d.n}`).not.toBeNull();
      // Never LOCAL_VOLUME for a sibling's file: only the holder serves it itself.
      expect(d.url).toMatchObject({ source: d.resolver === d.holder.machine ? 'LOCAL_VOLUME' : 'REMOTE_VOLUME', machine: d.holder.machine, region: d.holder.region });
      expect(d.status, `report ${d.n}: ${JSON.stringify(d)}`).toBe(200);
      expect(d.sha).toBe(d.expected);
      expect(d.answeredBy).toBe(d.holder.machine);
    }
    // Every machine rendered something, so the same-region sibling case was exercised.
    expect(new Set(downloads.map((d) => d.holder.machine)).size).toBeGreaterThanOrEqual(3);
    expect(downloads.some((d) => d.resolver !== d.holder.machine && MACHINES.find((m) => m.machine === d.resolver)!.region === d.holder.region)).toBe(true);
  });

  it('once the store is back every report replicates, each copied by the machine that holds it', async () => {
    await s3.start();
    await waitFor(
      async () => (await database.db.selectFrom('report_status').select('status').where('status', '<>', 'REPLICATED').execute()).length === 0,
      60_000,
      'every report to replicate',
    );
    for (const i of fleet) {
      await i.workers.render.stop();
      await i.workers.replicate!.stop();
    }
    for (const id of reportIds) {
      const events = await fleet[0]!.runtime.store.readStream(reportStreamId(id));
      const stored = events.find((e) => e.type === 'ReportStoredLocal')!;
      const replicated = events.filter((e) => e.type === 'ReportReplicated');
      if (stored.type !== 'ReportStoredLocal') throw new Error('unreachable');
      expect(stored.data.machine).toBe(stored.metadata.machine);
      expect(replicated).toHaveLength(1);
      expect(replicated[0]!.metadata.machine).toBe(stored.data.machine);
      // Failures during the outage are retries of the store, never a "disappeared" from a sibling.
      for (const f of events.filter((e) => e.type === 'ReportFailed')) {
        if (f.type !== 'ReportFailed') throw new Error('unreachable');
        expect(f.data).toMatchObject({ stage: 'replicate' });
        expect(f.data.retryAt).not.toBeNull();
        expect(f.metadata.machine).toBe(stored.data.machine);
      }
    }
  });

  it('a sibling never claims another machine’s copy; a machine that is away delays its copies, never loses them', async () => {
    await s3.stop();
    const { reportId } = await requestReport(byMachine(iadA).runtime.store, { template: 'table', title: 'On iad A', params: params(1) }, alice);
    reportIds.push(reportId);
    expect(await byMachine(iadA).workers.render.drain()).toBe(1);
    await s3.start();
    // iad A is "away": nobody else touches its copy.
    for (const m of [iadB, laxA, laxB]) expect(await byMachine(m).workers.replicate!.drain()).toBe(0);
    expect(await loadReportState(database.db, reportId)).toMatchObject({ status: 'STORED', failedStage: null, attempts: 0 });
    expect((await countEventsByType(byMachine(iadA).runtime, reportStreamId(reportId))).ReportFailed).toBeUndefined();
    // Back: it copies its own.
    expect(await byMachine(iadA).workers.replicate!.drain()).toBe(1);
    expect((await loadReportState(database.db, reportId))!.status).toBe('REPLICATED');
  });

  it('a region-level copy (recorded before machines) is copied by the machine of its region that has it; the others skip it silently', async () => {
    // As a v1 ReportStoredLocal reads today: machine null. The file is on iad B's volume only.
    const { reportId, streamId } = await requestReport(byMachine(iadA).runtime.store, { template: 'table', title: 'Old', params: params(2) }, alice);
    reportIds.push(reportId);
    const bytes = Buffer.from(`%PDF-1.4\nold report ${reportId}\n`);
    const digest = createHash('sha256').update(bytes).digest('hex');
    const key = `reports/${reportId}/${digest}.pdf`;
    await byMachine(iadA).runtime.store.append(streamId, 1, [
      { type: 'ReportRendered', data: { sha256: digest, bytes: bytes.length, pages: 1, renderMs: 1, rendererVersion: 'old' } },
      { type: 'ReportStoredLocal', data: { region: 'iad', machine: null, key, sha256: digest, bytes: bytes.length } },
    ]);
    const path = byMachine(iadB).runtime.volume.pathOf(key);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, bytes);
    // A link to it goes to the region, as before machines.
    const url = await createDownloadUrl(byMachine(laxA).runtime, reportId, alice);
    expect(url).toMatchObject({ source: 'REMOTE_VOLUME', region: 'iad', machine: null });
    const direct = await fetch(url.url.replace(edge.url, byMachine(laxA).http.url), { redirect: 'manual' });
    expect(direct.headers.get('fly-replay')).toBe('region=iad');

    // iad A claims it, does not find it, records nothing — and does not claim it again at once.
    expect(await byMachine(iadA).workers.replicate!.drain()).toBe(1);
    expect(await byMachine(iadA).workers.replicate!.drain()).toBe(0);
    expect(await byMachine(laxA).workers.replicate!.drain()).toBe(0);
    expect(await loadReportState(database.db, reportId)).toMatchObject({ status: 'STORED', failedStage: null });
    expect(await byMachine(iadB).workers.replicate!.drain()).toBe(1);
    const events = await byMachine(iadB).runtime.store.readStream(streamId);
    expect(events.map((e) => e.type)).toEqual(['ReportRequested', 'ReportRendered', 'ReportStoredLocal', 'ReportReplicated']);
    expect(events.at(-1)!.metadata.machine).toBe(iadB);
  });

  it('a replay meant for a machine that is gone is a typed error, never a different file', async () => {
    await s3.stop();
    const { reportId } = await requestReport(byMachine(laxB).runtime.store, { template: 'table', title: 'On lax B', params: params(3) }, alice);
    reportIds.push(reportId);
    expect(await byMachine(laxB).workers.render.drain()).toBe(1);
    const state = (await loadReportState(database.db, reportId))!;
    const copy = state.locations.find((l) => l.kind === 'volume')!;
    // The same bytes under the same key on its sibling: still not served by the sibling.
    const sibling = byMachine(laxA).runtime.volume.pathOf(copy.key);
    mkdirSync(dirname(sibling), { recursive: true });
    copyFileSync(byMachine(laxB).runtime.volume.pathOf(copy.key), sibling);

    await byMachine(laxB).close();
    targets.find((t) => t.machine === laxB)!.live = false;
    const url = await createDownloadUrl(byMachine(iadA).runtime, reportId, alice);
    expect(url).toMatchObject({ source: 'REMOTE_VOLUME', machine: laxB, region: 'lax' });
    const viaEdge = await fetch(url.url);
    expect(viaEdge.status).toBe(503);
    expect(await viaEdge.json()).toMatchObject({ error: { code: 'MACHINE_UNAVAILABLE', machine: laxB } });
    // Had a proxy sent the replay to its sibling instead: UNAVAILABLE, no bytes, no new replay.
    const misrouted = await fetch(url.url.replace(edge.url, byMachine(laxA).http.url), { headers: { 'fly-replay-src': `instance=${iadA};region=iad` } });
    expect(misrouted.status).toBe(503);
    expect(misrouted.headers.get('fly-replay')).toBeNull();
    expect(await misrouted.json()).toMatchObject({ error: { code: 'UNAVAILABLE', regions: [laxB] } });
    // The same for a redirect that already went once (outside Fly).
    const redirected = await fetch(`${url.url.replace(edge.url, byMachine(laxA).http.url)}?via=${iadA}`);
    expect(redirected.status).toBe(503);
  });

  it('forgetting the gone machine’s volume makes its only copies LOST; idempotent; refuses itself, unknown and invalid machines', async () => {
    const lostId = reportIds.at(-1)!;
    const self = byMachine(iadA).runtime;
    const forget = (machine: string, extra: { force?: boolean } = {}) =>
      forgetVolume(self.store, { machine, reason: 'machine destroyed', ownMachine: self.config.machineId, actor: admin.id, ...extra });
    await expect(forget(iadA)).rejects.toBeInstanceOf(OwnVolumeError);
    await expect(forget('0000000000dead')).rejects.toBeInstanceOf(UnknownMachineError);
    await expect(forget('../etc')).rejects.toBeInstanceOf(InvalidMachineIdError);
    expect(await countEventsByType(self)).not.toHaveProperty('VolumeForgotten');

    const laxBCopies = (await database.db.selectFrom('report_locations').select('report_id').where('machine', '=', laxB).execute()).length;
    const first = await forget(laxB);
    expect(first).toMatchObject({ machine: laxB, region: 'lax', alreadyForgotten: false, copiesForgotten: laxBCopies, lost: [lostId] });
    const again = await forget(laxB);
    expect(again).toMatchObject({ alreadyForgotten: true, copiesForgotten: 0, lost: [] });

    const lost = (await loadReportState(database.db, lostId))!;
    expect(lost).toMatchObject({ status: 'LOST', locations: [] });
    expect(lost.lastError).toMatch(new RegExp(`machine ${laxB}.*machine destroyed`));
    await expect(createDownloadUrl(byMachine(laxA).runtime, lostId, alice)).rejects.toBeInstanceOf(ReportFailedError);
    // Reports that had an object copy too keep it and stay REPLICATED.
    expect(await database.db.selectFrom('report_locations').select('report_id').where('machine', '=', laxB).execute()).toEqual([]);
    const readiness = await checkReadiness(database.db);
    expect(readiness.lost.map((l) => l.reportId)).toEqual([lostId]);
    expect(readiness.notReady).toEqual([]);
    const metrics = await self.metrics.registry.metrics();
    expect(metrics).toMatch(/quire_reports\{status="LOST"\} 1/);

    // The same through GraphQL: admins only, typed results.
    const mutation = async (role: 'admin' | 'user', machine: string) => {
      const token = await self.userTokens.sign({ id: `someone-${role}`, role }, 60);
      const response = await fetch(`${byMachine(iadA).http.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({
          query: `mutation($m: String!) { forgetVolume(machine: $m, reason: "gone") { __typename
            ... on MutationForgetVolumeSuccess { data { alreadyForgotten copiesForgotten lost } }
            ... on Error { code message } } }`,
          variables: { m: machine },
        }),
      });
      return ((await response.json()) as { data: { forgetVolume: Record<string, unknown> } }).data.forgetVolume;
    };
    expect(await mutation('user', laxB)).toMatchObject({ __typename: 'ForbiddenError' });
    expect(await mutation('admin', laxB)).toMatchObject({ data: { alreadyForgotten: true, copiesForgotten: 0, lost: [] } });
    expect(await mutation('admin', iadA)).toMatchObject({ __typename: 'OwnVolumeError', code: 'FORBIDDEN' });
    expect(await mutation('admin', 'no such machine')).toMatchObject({ __typename: 'InvalidParamsError', code: 'INVALID_PARAMS' });
    await s3.start();
  });

  it('every report and every event is accounted for, and the projections rebuild identically', async () => {
    const counts = await countEventsByType(fleet[0]!.runtime);
    const rows = await database.db.selectFrom('report_status').select(['report_id', 'status', 'last_version']).execute();
    expect(rows).toHaveLength(reportIds.length);
    expect(rows.filter((r) => r.status === 'LOST').map((r) => r.report_id)).toEqual([reportIds.at(-1)]);
    expect(rows.filter((r) => r.status !== 'LOST').every((r) => r.status === 'REPLICATED')).toBe(true);
    const reportEvents = Object.entries(counts)
      .filter(([type]) => type !== 'VolumeForgotten')
      .reduce((n, [, c]) => n + c, 0);
    expect(rows.reduce((n, r) => n + Number(r.last_version), 0)).toBe(reportEvents);
    expect(counts.VolumeForgotten).toBe(1);
    expect(counts.ReportReplicated).toBe(reportIds.length - 1);
    expect(await rebuildAndVerifyProjections(database.db, fleet[0]!.runtime.store.personalData)).toMatchObject({ differenceCount: 0, reports: reportIds.length });
  });
});
