import { describe, expect, it } from 'vitest';
import type { Actor } from '../../src/actor.js';
import { ConflictError, InvalidParamsError } from '../../src/errors.js';
import { loadReportState } from '../../src/reports/load-report.js';
import { requestReport } from '../../src/reports/request-report.js';
import { gqlHttp } from '../graphql/client.js';
import { RequestReportDocument } from '../graphql/gql/graphql.js';
import { backends } from '../support/databases.js';
import { useTwoApiMachines, type ApiMachine } from '../support/instances.js';
import { countEventsByType } from '../support/runtime.js';

const alice: Actor = { id: 'alice', role: 'user' };
const bob: Actor = { id: 'bob', role: 'user' };
const input = (title: string, idempotencyKey?: string) => ({
  template: 'table',
  title,
  params: { columns: [{ label: 'Name', key: 'name' }], rows: [{ name: 'a' }] },
  ...(idempotencyKey !== undefined ? { idempotencyKey } : {}),
});

// Found by the soak: a client whose requestReport answer was lost (the machine killed after the
// append, a timeout under load) asked again and got a second report. With an idempotency key the
// retry names the same report, on any machine.
describe.each(backends)('requestReport with an idempotency key on %s', (kind) => {
  // No workers: the reports stay REQUESTED; the test is about what gets appended.
  const fleet = useTwoApiMachines(kind, { REQUESTS_PER_MINUTE: '1000' });
  const machines = (): [ApiMachine, ApiMachine] => [fleet.iad, fleet.lax];

  it('the same key from the same viewer is one report, whichever machine is asked and however often, even at once', async () => {
    const [iad, lax] = machines();
    const first = await requestReport(iad.runtime.store, input('Q3', 'order-17'), alice);
    const again = await requestReport(lax.runtime.store, input('Q3', 'order-17'), alice);
    expect(again).toEqual(first);
    expect(await countEventsByType(iad.runtime, first.streamId)).toEqual({ ReportRequested: 1 });

    // 20 identical requests at once, on both machines, with a key nobody used yet: exactly one report.
    const before = await countEventsByType(iad.runtime);
    const concurrent = await Promise.all(Array.from({ length: 20 }, (_, i) => requestReport(machines()[i % 2]!.runtime.store, input('Q4', 'order-18'), alice)));
    expect(new Set(concurrent.map((r) => r.reportId)).size).toBe(1);
    expect(await countEventsByType(iad.runtime)).toEqual({ ...before, ReportRequested: (before['ReportRequested'] ?? 0) + 1 });
    const q4 = await fleet.database.db.selectFrom('report_status').select('report_id').where('owner', '=', 'alice').where('title', '=', 'Q4').execute();
    expect(q4.map((r) => r.report_id)).toEqual([concurrent[0]!.reportId]);

    // Another viewer's same key is their own report; no key is a new report every time.
    const bobs = await requestReport(iad.runtime.store, input('Q3', 'order-17'), bob);
    expect(bobs.reportId).not.toBe(first.reportId);
    const unkeyed = await Promise.all([requestReport(iad.runtime.store, input('Q3'), alice), requestReport(iad.runtime.store, input('Q3'), alice)]);
    expect(unkeyed[0].reportId).not.toBe(unkeyed[1].reportId);
  });

  it('the same key for a different request is a CONFLICT, a malformed key INVALID_PARAMS; neither appends anything', async () => {
    const [iad, lax] = machines();
    const before = await countEventsByType(iad.runtime);
    await requestReport(iad.runtime.store, input('Original', 'k-1'), alice);
    await expect(requestReport(lax.runtime.store, input('Something else', 'k-1'), alice)).rejects.toBeInstanceOf(ConflictError);
    await expect(requestReport(lax.runtime.store, { ...input('Original', 'k-1'), params: { columns: [{ label: 'Name', key: 'name' }], rows: [{ name: 'b' }] } }, alice)).rejects.toBeInstanceOf(ConflictError);
    // Different at once, from both machines: one wins, every other is a conflict (never a second report).
    const racing = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) => requestReport(machines()[i % 2]!.runtime.store, input(`Racer ${i}`, 'k-race'), alice)),
    );
    expect(racing.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(racing.filter((r) => r.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason instanceof ConflictError)).toBe(true);
    for (const bad of ['', 'has space', 'x'.repeat(101), 'ключ']) {
      await expect(requestReport(iad.runtime.store, input('Bad key', bad), alice)).rejects.toBeInstanceOf(InvalidParamsError);
    }
    // Exactly two reports more: the original and the race's winner.
    expect(await countEventsByType(iad.runtime)).toEqual({ ...before, ReportRequested: (before['ReportRequested'] ?? 0) + 2 });
  });

  it('within the window the key names its first report; once the window has passed, a new one', async () => {
    const [iad, lax] = machines();
    const windowMs = 1500;
    const first = await requestReport(iad.runtime.store, input('Windowed', 'k-window'), alice, { idempotencyWindowMs: windowMs });
    const again = await requestReport(lax.runtime.store, input('Windowed', 'k-window'), alice, { idempotencyWindowMs: windowMs });
    expect(again).toEqual(first);
    await new Promise((r) => setTimeout(r, windowMs + 100));
    // Past the window the key is free: even a different request is accepted, as a new report.
    const later = await requestReport(lax.runtime.store, input('Windowed later', 'k-window'), alice, { idempotencyWindowMs: windowMs });
    expect(later.reportId).not.toBe(first.reportId);
    expect(await requestReport(iad.runtime.store, input('Windowed later', 'k-window'), alice, { idempotencyWindowMs: windowMs })).toEqual(later);
    await expect(requestReport(iad.runtime.store, input('Windowed', 'k-window'), alice, { idempotencyWindowMs: windowMs })).rejects.toBeInstanceOf(ConflictError);
    expect(await countEventsByType(iad.runtime, first.streamId)).toEqual({ ReportRequested: 1 });
    expect(await countEventsByType(iad.runtime, later.streamId)).toEqual({ ReportRequested: 1 });
  });

  it('a subject that spells another viewer’s key and window (a newline in `sub`) neither learns of that key nor gets that report', async () => {
    const [iad] = machines();
    const windowMs = 1000;
    await requestReport(iad.runtime.store, input('First window', 'k-spelt'), alice, { idempotencyWindowMs: windowMs });
    await new Promise((r) => setTimeout(r, windowMs + 100));
    const alices = await requestReport(iad.runtime.store, input('Second window', 'k-spelt'), alice, { idempotencyWindowMs: windowMs });
    // alice's key in its second window, as another subject's first: `alice\nk-spelt` asking with key `1`.
    const mallory: Actor = { id: 'alice\nk-spelt', role: 'user' };
    const before = await countEventsByType(iad.runtime);
    const theirs = await requestReport(iad.runtime.store, input('Second window', '1'), mallory, { idempotencyWindowMs: windowMs });
    expect(theirs.reportId).not.toBe(alices.reportId);
    expect((await loadReportState(iad.runtime.store.db, theirs.reportId))!.owner).toBe(mallory.id);
    expect(await countEventsByType(iad.runtime)).toEqual({ ...before, ReportRequested: (before['ReportRequested'] ?? 0) + 1 });
    // A different request with that key is not a conflict with alice's either: mallory's own report answers.
    await expect(requestReport(iad.runtime.store, input('Other', '1'), mallory, { idempotencyWindowMs: windowMs })).rejects.toBeInstanceOf(ConflictError);
    expect(await requestReport(iad.runtime.store, input('Second window', '1'), mallory, { idempotencyWindowMs: windowMs })).toEqual(theirs);
  });

  it('over GraphQL: a retried mutation with its key returns the same report; a reused key is a typed error', async () => {
    const [iad, lax] = machines();
    const token = await iad.runtime.userTokens.sign({ id: 'carol', role: 'user' }, 600);
    const ask = async (url: string, title: string, key: string) => {
      const res = await gqlHttp(url, RequestReportDocument, { input: input(title, key) }, token);
      expect(res.errors).toBeUndefined();
      return res.data!.requestReport;
    };
    const a = await ask(iad.http.url, 'Retried', 'b2c1a7e0-5d7e-4a44-8d35-1c9a0b3f6e21');
    const b = await ask(lax.http.url, 'Retried', 'b2c1a7e0-5d7e-4a44-8d35-1c9a0b3f6e21');
    if (a.__typename !== 'MutationRequestReportSuccess' || b.__typename !== 'MutationRequestReportSuccess') throw new Error(`${a.__typename} ${b.__typename}`);
    expect(b.data.reportId).toBe(a.data.reportId);
    const reused = await ask(lax.http.url, 'Different', 'b2c1a7e0-5d7e-4a44-8d35-1c9a0b3f6e21');
    expect(reused).toMatchObject({ __typename: 'ConflictError', code: 'CONFLICT' });

    // 20 identical mutations at once, across both machines: one report, every answer names it.
    const before = await countEventsByType(iad.runtime);
    const at = await Promise.all(Array.from({ length: 20 }, (_, i) => ask(machines()[i % 2]!.http.url, 'At once', 'gql-at-once')));
    const ids = new Set(at.map((r) => (r.__typename === 'MutationRequestReportSuccess' ? r.data.reportId : r.__typename)));
    expect(ids.size).toBe(1);
    expect(await countEventsByType(iad.runtime)).toEqual({ ...before, ReportRequested: (before['ReportRequested'] ?? 0) + 1 });
    const carols = await fleet.database.db.selectFrom('report_status').select('report_id').where('owner', '=', 'carol').orderBy('requested_at').execute();
    expect(carols.map((r) => r.report_id)).toEqual([a.data.reportId, [...ids][0]]);
  });
});
