import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkProof, eventProof, NotSealedError } from '../../src/audit/proof.js';
import { rebuildAndVerifyProjections } from '../../src/projections/rebuild-verify.js';
import { reportAt } from '../../src/audit/report-at.js';
import { latestSeal, sealPending } from '../../src/audit/seal.js';
import { startSealer } from '../../src/audit/sealer.js';
import { generateSealKey } from '../../src/audit/seal-key.js';
import { verifyLog } from '../../src/audit/verify.js';
import { startHttpServer, type HttpServer } from '../../src/api/http-server.js';
import { tamper } from './support.js';
import { untilAllSafe } from '../support/safe-log.js';
import { sql } from 'kysely';
import { backends } from '../support/databases.js';
import { newReportStream, requested } from '../support/fixtures.js';
import { startTestRuntime, type TestRuntime } from '../support/runtime.js';
import { gqlHttp } from '../graphql/client.js';
import { EventProofDocument, LogDigestDocument, ReportAtDocument, VerifyLogDocument } from '../graphql/gql/graphql.js';

describe.each(backends)('audit on %s', (kind) => {
  let runtime: TestRuntime;
  let http: HttpServer;
  let auditor: string;
  let user: string;
  const report = newReportStream();
  const trust = () => ({ publicKeys: runtime.sealKeys.trusted });
  const positions: number[] = [];
  const times: Date[] = [];

  beforeAll(async () => {
    runtime = await startTestRuntime(kind);
    http = await startHttpServer(runtime, 0, '127.0.0.1');
    auditor = await runtime.userTokens.sign({ id: 'audrey', role: 'auditor' }, 600);
    user = await runtime.userTokens.sign({ id: 'user-1', role: 'user' }, 600);
    const { store } = runtime;
    const steps = [
      [requested(report.reportId)],
      [{ type: 'ReportRendered', data: { sha256: 'ab'.repeat(32), bytes: 1000, pages: 2, renderMs: 12, rendererVersion: 'pdfmake-0.3' } }],
      [{ type: 'ReportStoredLocal', data: { region: 'iad', machine: 'iad-1', key: `reports/${report.reportId}/r.pdf`, sha256: 'ab'.repeat(32), bytes: 1000 } }],
      [{ type: 'ReportReplicated', data: { bucket: 'b', key: `reports/${report.reportId}/r.pdf`, sha256: 'ab'.repeat(32), bytes: 1000, etag: 'e' } }],
    ] as const;
    for (const [v, events] of steps.entries()) {
      const other = newReportStream();
      await store.append(other.streamId, 'no_stream', [requested(other.reportId)]);
      const res = await store.append(report.streamId, v, events as never);
      positions.push(res.events[0]!.globalPosition);
      times.push(res.events[0]!.recordedAt);
      await new Promise((r) => setTimeout(r, 5));
    }
  });
  afterAll(async () => {
    await http?.close();
    await runtime?.close();
  });

  it('reportAt folds the report as it was at a position and at an instant', async () => {
    const db = runtime.database.db;
    const statuses = await Promise.all(positions.map(async (position) => (await reportAt(db, runtime.store.personalData, report.reportId, { position }))?.status));
    expect(statuses).toEqual(['REQUESTED', 'RENDERED', 'STORED', 'REPLICATED']);
    expect(await reportAt(db, runtime.store.personalData, report.reportId, { position: positions[0]! - 1 })).toBeNull();
    const atStored = await reportAt(db, runtime.store.personalData, report.reportId, { at: times[2]! });
    expect(atStored).toMatchObject({ status: 'STORED', version: 3 });
    expect(atStored!.locations.map((l) => l.kind)).toEqual(['volume']);
    expect(await reportAt(db, runtime.store.personalData, report.reportId, { at: new Date(times[0]!.getTime() - 1) })).toBeNull();
  });

  it('proofs: not sealed yet, then checkable offline; a changed proof fails', async () => {
    const db = runtime.database.db;
    await expect(eventProof(db, positions[1]!)).rejects.toBeInstanceOf(NotSealedError);
    await untilAllSafe(db);
    await sealPending(db, { signer: runtime.sealKeys.signer, maxEvents: 3 });
    const digest = (await latestSeal(db))!.sealHash;
    for (const position of positions) {
      const proof = await eventProof(db, position);
      expect(checkProof(JSON.parse(JSON.stringify(proof)), trust())).toMatchObject({ ok: true, failures: [] });
    }
    const proof = JSON.parse(JSON.stringify(await eventProof(db, positions[2]!)));
    expect(checkProof(proof, { ...trust(), digest }).ok).toBe(proof.seal.sealHash === digest);
    const forged = structuredClone(proof);
    forged.event.data.bytes = 1001;
    expect(checkProof(forged, trust()).failures[0]).toMatch(/^1\./);
    const rehashed = structuredClone(proof);
    rehashed.path[0] = 'f'.repeat(64);
    expect(checkProof(rehashed, trust()).failures).toEqual([expect.stringMatching(/^3\./)]);
    const moved = structuredClone(proof);
    moved.seal.sealedAt = new Date(0).toISOString();
    expect(checkProof(moved, trust()).failures).toEqual([expect.stringMatching(/^4\./)]);
    // The leaf binds the event's position: the same event shown at another position does not prove.
    const renumbered = structuredClone(proof);
    renumbered.event.globalPosition += 1000;
    expect(checkProof(renumbered, trust()).failures).toEqual([expect.stringMatching(/^3\./)]);
    // A seal signed by a key the checker does not trust, or no key at all: step 5.
    expect(checkProof(proof, { publicKeys: [generateSealKey().signer] }).failures).toEqual([expect.stringMatching(/^5\. .*not a key you trust/)]);
    expect(checkProof(proof).failures).toEqual([expect.stringMatching(/^5\. .*give its public key/)]);
  });

  it('projections rebuild --verify: no differences, then the one a tampered projection has', async () => {
    const db = runtime.database.db;
    const clean = await rebuildAndVerifyProjections(db, runtime.store.personalData);
    expect(clean).toMatchObject({ reports: 5, events: 8, differenceCount: 0 });
    await sql`UPDATE report_status SET status = 'FAILED' WHERE report_id = ${report.reportId}`.execute(db);
    const dirty = await rebuildAndVerifyProjections(db, runtime.store.personalData);
    expect(dirty.differenceCount).toBe(1);
    expect(dirty.differences[0]).toMatchObject({ table: 'report_status', key: report.reportId, live: { status: 'FAILED' }, rebuilt: { status: 'REPLICATED' } });
    await sql`UPDATE report_status SET status = 'REPLICATED' WHERE report_id = ${report.reportId}`.execute(db);
  });

  it('the sealer seals every N events or after T seconds, one sealer at a time', async () => {
    const db = runtime.database.db;
    const before = (await latestSeal(db))!;
    // Two "instances": only whole seals of 2 while events are fresh.
    const a = startSealer(runtime, { enabled: false, everyEvents: 2, everySeconds: 3600, pollMs: 50 });
    const b = startSealer(runtime, { enabled: false, everyEvents: 2, everySeconds: 3600, pollMs: 50 });
    for (let i = 0; i < 5; i++) {
      const s = newReportStream();
      await runtime.store.append(s.streamId, 'no_stream', [requested(s.reportId)]);
    }
    // Seals cover safe events only: other databases' transactions may hold the five back a while.
    await untilAllSafe(db);
    await Promise.all([a.tick(), b.tick()]);
    await Promise.all([a.tick(), b.tick()]);
    const afterFull = (await latestSeal(db))!;
    expect(afterFull.total - before.total).toBe(4);
    // The fifth waits for its age; with T small it is sealed by the running loop.
    const loop = startSealer(runtime, { enabled: true, everyEvents: 2, everySeconds: 0.05, pollMs: 20 });
    await expect.poll(async () => (await latestSeal(db))!.total, { timeout: 5000 }).toBe(before.total + 5);
    await Promise.all([a.stop(), b.stop(), loop.stop()]);
    const report = await verifyLog(db, trust());
    expect(report).toMatchObject({ ok: true, sealedEvents: report.events });
  });

  it('GraphQL: logDigest, verifyLog, eventProof and reportAt for auditors only', async () => {
    const digest = (await gqlHttp(http.url, LogDigestDocument, {}, auditor)).data!.logDigest!;
    expect(digest).toMatchObject({ sealHash: expect.stringMatching(/^[0-9a-f]{64}$/), eventCount: 13 });
    const verified = (await gqlHttp(http.url, VerifyLogDocument, { fromDigest: digest.sealHash }, auditor)).data!.verifyLog;
    expect(verified).toMatchObject({ ok: true, events: 13, extendsDigest: true, firstProblem: null, problemCount: 0 });
    const proof = (await gqlHttp(http.url, EventProofDocument, { globalPosition: positions[1]! }, auditor)).data!.eventProof;
    expect(proof.__typename).toBe('QueryEventProofSuccess');
    if (proof.__typename === 'QueryEventProofSuccess') {
      const file = join(runtime.dataDir, 'proof.json');
      writeFileSync(file, JSON.stringify(proof.data.document));
      expect(checkProof(proof.data.document, trust()).ok).toBe(true);
    }
    const missing = (await gqlHttp(http.url, EventProofDocument, { globalPosition: 99_999 }, auditor)).data!.eventProof;
    expect(missing).toMatchObject({ __typename: 'EventNotFoundError', code: 'EVENT_NOT_FOUND' });
    const at = (await gqlHttp(http.url, ReportAtDocument, { id: report.reportId, position: positions[1]! }, auditor)).data!.reportAt;
    expect(at).toMatchObject({ __typename: 'QueryReportAtSuccess', data: { status: 'RENDERED', version: 2 } });
    const both = (await gqlHttp(http.url, ReportAtDocument, { id: report.reportId }, auditor)).data!.reportAt;
    expect(both).toMatchObject({ __typename: 'InvalidParamsError' });
    // A plain user gets none of it.
    const denied = await gqlHttp(http.url, LogDigestDocument, {}, user);
    expect(denied.data?.logDigest ?? null).toBeNull();
    expect(denied.errors?.length).toBeGreaterThan(0);

    // And a tampered log shows through GraphQL, with the position.
    await tamper(runtime.database.db, () => sql`UPDATE events SET data = jsonb_set(data, '{pages}', '3') WHERE global_position = ${positions[1]!}`.execute(runtime.database.db));
    const broken = (await gqlHttp(http.url, VerifyLogDocument, { fromDigest: digest.sealHash }, auditor)).data!.verifyLog;
    expect(broken).toMatchObject({ ok: false, extendsDigest: false, firstProblem: { kind: 'CONTENT', position: positions[1]! } });
  });
});
