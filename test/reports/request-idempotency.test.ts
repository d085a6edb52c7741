import { describe, expect, it } from 'vitest';
import type { Actor } from '../../src/actor.js';
import { InvalidParamsError } from '../../src/errors.js';
import { requestReport } from '../../src/reports/request-report.js';
import { gqlHttp } from '../graphql/client.js';
import { RequestReportDocument } from '../graphql/gql/graphql.js';
import { backends } from '../support/databases.js';
import { useTwoApiMachines } from '../support/instances.js';
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
  const fleet = useTwoApiMachines(kind, { REQUESTS_PER_MINUTE: '1000' });

  it('the same key from the same viewer is one report, whichever machine is asked and however often, even at once', async () => {
    const { iad, lax } = fleet;
    const first = await requestReport(iad.runtime.store, input('Q3', 'order-17'), alice);
    const again = await requestReport(lax.runtime.store, input('Q3', 'order-17'), alice);
    expect(again).toEqual(first);
    const concurrent = await Promise.all(Array.from({ length: 6 }, (_, i) => requestReport(fleet.machines[i % 2]!.runtime.store, input('Q3', 'order-17'), alice)));
    expect(new Set(concurrent.map((r) => r.reportId))).toEqual(new Set([first.reportId]));
    expect(await countEventsByType(iad.runtime, first.streamId)).toEqual({ ReportRequested: 1 });

    // Another viewer's same key is their own report; no key is a new report every time.
    const bobs = await requestReport(iad.runtime.store, input('Q3', 'order-17'), bob);
    expect(bobs.reportId).not.toBe(first.reportId);
    const unkeyed = await Promise.all([requestReport(iad.runtime.store, input('Q3'), alice), requestReport(iad.runtime.store, input('Q3'), alice)]);
    expect(unkeyed[0].reportId).not.toBe(unkeyed[1].reportId);
  });

  it('the same key for a different request, or a malformed key, is INVALID_PARAMS and appends nothing', async () => {
    const { iad, lax } = fleet;
    const before = await countEventsByType(iad.runtime);
    await requestReport(iad.runtime.store, input('Original', 'k-1'), alice);
    await expect(requestReport(lax.runtime.store, input('Something else', 'k-1'), alice)).rejects.toSatisfy(
      (e) => e instanceof InvalidParamsError && e.issues.some((i) => i.path === 'idempotencyKey'),
    );
    for (const bad of ['', 'has space', 'x'.repeat(101), 'ключ']) {
      await expect(requestReport(iad.runtime.store, input('Bad key', bad), alice)).rejects.toBeInstanceOf(InvalidParamsError);
    }
    // Exactly one report more: the original.
    expect(await countEventsByType(iad.runtime)).toEqual({ ...before, ReportRequested: (before['ReportRequested'] ?? 0) + 1 });
  });

  it('over GraphQL: a retried mutation with its key returns the same report; a reused key is a typed error', async () => {
    const { iad, lax } = fleet;
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
    expect(reused).toMatchObject({ __typename: 'InvalidParamsError', code: 'INVALID_PARAMS', issues: [{ path: 'idempotencyKey' }] });
    const carols = await fleet.database.db.selectFrom('report_status').select('report_id').where('owner', '=', 'carol').execute();
    expect(carols.map((r) => r.report_id)).toEqual([a.data.reportId]);
  });
});
