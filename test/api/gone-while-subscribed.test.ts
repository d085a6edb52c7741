/**
 * A report that becomes gone (deleted, erased, expired) while clients are subscribed to it:
 * reportStatus sends the final state and completes, reportProgress completes — neither stays open
 * until the token expires, and nothing is left registered.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../../src/actor.js';
import { openLiveSubscriptions } from '../../src/api/graphql/live-subscription.js';
import { startHttpServer, type HttpServer } from '../../src/api/http-server.js';
import { formatProgress } from '../../src/render/progress-signal.js';
import { deleteReport } from '../../src/reports/delete-report.js';
import { eraseReport } from '../../src/reports/erase-report.js';
import { loadReportState } from '../../src/reports/load-report.js';
import { reportStreamId } from '../../src/reports/report-state.js';
import { requestReport } from '../../src/reports/request-report.js';
import { gqlWs, subscribe } from '../graphql/client.js';
import { ReportProgressDocument, ReportStatusDocument } from '../graphql/gql/graphql.js';
import { waitFor } from '../support/collect.js';
import { backends } from '../support/databases.js';
import { startTestRuntime, type TestRuntime } from '../support/runtime.js';

const alice: Actor = { id: 'alice', role: 'user' };
const root: Actor = { id: 'root', role: 'admin' };

describe.each(backends)('a report gone while subscribed (%s)', (kind) => {
  let runtime: TestRuntime;
  let http: HttpServer;

  beforeAll(async () => {
    runtime = await startTestRuntime(kind, { WORKERS_ENABLED: 'false', SEALER_ENABLED: 'false' });
    http = await startHttpServer(runtime, 0, '127.0.0.1');
  }, 60_000);
  afterAll(async () => {
    await http?.close();
    await runtime?.close();
  });

  const goes: Array<[string, 'DELETED' | 'ERASED' | 'EXPIRED', (reportId: string) => Promise<unknown>]> = [
    ['deleted by its owner', 'DELETED', (id) => deleteReport(runtime.store, id, alice)],
    ['erased by an admin', 'ERASED', (id) => eraseReport(runtime.store, id, 'erasure request 42', root)],
    [
      'expired by the sweep',
      'EXPIRED',
      async (id) => {
        const state = (await loadReportState(runtime.store.db, id))!;
        await runtime.store.append(reportStreamId(id), state.version, [{ type: 'ReportExpired', data: { at: new Date().toISOString() } }]);
      },
    ],
  ];

  it.each(goes)('%s: reportStatus sends the final state and completes, reportProgress completes', async (_, status, makeGone) => {
    const { reportId } = await requestReport(
      runtime.store,
      { template: 'table', title: 'Going', params: { columns: [{ label: 'A', key: 'a' }], rows: [{ a: 1 }] } },
      alice,
    );
    const ws = gqlWs(http.url, await runtime.userTokens.sign(alice, 600));
    try {
      const states = subscribe(ws, ReportStatusDocument, { id: reportId });
      const progress = subscribe(ws, ReportProgressDocument, { id: reportId });
      await states.waitFor((d) => d.reportStatus.status === 'REQUESTED');
      // Progress flows until the report goes (repeated: the first may precede the server's listening).
      await waitFor(
        () => {
          if (progress.data.length === 0) runtime.database.notifier.notify('quire_progress', formatProgress(reportId, 0.25));
          return progress.data.length > 0;
        },
        10_000,
        'a progress step',
      );
      expect(progress.data[0]).toEqual({ reportProgress: { reportId, fraction: 0.25 } });
      expect(states.ended).toBeNull();
      expect(progress.ended).toBeNull();

      await makeGone(reportId);

      expect(await states.done()).toEqual({});
      expect(states.data.map((d) => d.reportStatus.status)).toEqual(['REQUESTED', status]);
      expect(await progress.done()).toEqual({});
      expect(progress.data).toHaveLength(1);
    } finally {
      await ws.dispose();
    }
    await waitFor(() => openLiveSubscriptions() === 0 && http.hub.listenerCount === 0, 10_000, 'nothing left registered');
  });
});
