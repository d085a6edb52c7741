/**
 * loadReportStatesTogether: the read viewerReports feeds share. Callers asking at the same time get
 * one statement between them, each only the states it asked for; a caller asking after a change
 * sees it (nothing is cached past the one read).
 */
import type { KyselyPlugin } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteReport } from '../../src/reports/delete-report.js';
import { loadReportStates, loadReportStatesTogether } from '../../src/reports/load-report.js';
import { requestReport } from '../../src/reports/request-report.js';
import { backends } from '../support/databases.js';
import { startTestRuntime, type TestRuntime } from '../support/runtime.js';

describe.each(backends)('loadReportStatesTogether (%s)', (kind) => {
  let runtime: TestRuntime;
  const ids: string[] = [];

  beforeAll(async () => {
    runtime = await startTestRuntime(kind, { WORKERS_ENABLED: 'false', SEALER_ENABLED: 'false' });
    for (let i = 0; i < 6; i++) {
      const owner = { id: i % 2 ? 'bob' : 'alice', role: 'user' as const };
      ids.push((await requestReport(runtime.store, { template: 'table', title: `R${i}`, params: { columns: [{ label: 'A', key: 'a' }], rows: [{ a: i }] } }, owner)).reportId);
    }
  }, 60_000);
  afterAll(async () => {
    await runtime?.close();
  });

  it('callers at the same time share one statement, and each gets only what it asked for', async () => {
    let statements = 0;
    const counter: KyselyPlugin = {
      transformQuery: (args) => (statements++, args.node),
      transformResult: async (args) => args.result,
    };
    const db = runtime.store.db.withPlugin(counter);
    const unknown = '00000000-0000-4000-8000-000000000000';
    const asks = [[ids[0]!], [ids[1]!, ids[2]!], [ids[2]!, unknown], [ids[3]!, ids[4]!, ids[5]!], []];
    const answers = await Promise.all(asks.map((a) => loadReportStatesTogether(db, a)));
    expect(statements).toBe(1);
    const expected = await loadReportStates(runtime.store.db, ids);
    for (const [i, ask] of asks.entries()) {
      expect([...answers[i]!.keys()].sort(), `caller ${i}`).toEqual(ask.filter((id) => id !== unknown).sort());
      for (const [id, state] of answers[i]!) expect(state).toEqual(expected.get(id));
    }
    // Owners as the projection has them: the caller still decides what its viewer may read.
    expect(answers[3]!.get(ids[3]!)!.owner).toBe('bob');
  });

  it('a caller after a change sees it: nothing is kept past one read', async () => {
    const before = await loadReportStatesTogether(runtime.store.db, [ids[0]!]);
    expect(before.get(ids[0]!)!.status).toBe('REQUESTED');
    await deleteReport(runtime.store, ids[0]!, { id: 'alice', role: 'user' });
    const after = await loadReportStatesTogether(runtime.store.db, [ids[0]!]);
    expect(after.get(ids[0]!)!.status).toBe('DELETED');
  });
});
