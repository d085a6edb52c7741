/**
 * ReportChanges: what every viewerReports feed of a process shares. A change is worked out once
 * for all the feeds (read once, or folded from the events of a known report), and reaches only the
 * feeds of its owner and of those who read every report; once the last feed lets go, nothing stays
 * registered.
 */
import type { KyselyPlugin } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../../src/actor.js';
import { ReportChanges, type ReportChange } from '../../src/api/graphql/report-changes.js';
import { EventHub } from '../../src/events/event-hub.js';
import { formatProgress } from '../../src/render/progress-signal.js';
import { loadReportState } from '../../src/reports/load-report.js';
import { requestReport } from '../../src/reports/request-report.js';
import { waitFor } from '../support/collect.js';
import { backends } from '../support/databases.js';
import { startTestRuntime, type TestRuntime } from '../support/runtime.js';

const alice: Actor = { id: 'alice', role: 'user' };
const bob: Actor = { id: 'bob', role: 'user' };
const audra: Actor = { id: 'audra', role: 'auditor' };
const input = (title: string) => ({ template: 'table', title, params: { columns: [{ label: 'A', key: 'a' }], rows: [{ a: 1 }] } });

describe.each(backends)('ReportChanges (%s)', (kind) => {
  let runtime: TestRuntime;
  let hub: EventHub;

  beforeAll(async () => {
    runtime = await startTestRuntime(kind, { WORKERS_ENABLED: 'false', SEALER_ENABLED: 'false' });
    hub = new EventHub(runtime.store, runtime.log);
    await hub.start();
  }, 60_000);
  afterAll(async () => {
    await hub?.stop();
    await runtime?.close();
  });

  it('one read for every feed; each gets only the reports its viewer may read; nothing left registered after', async () => {
    let statements = 0;
    const counter: KyselyPlugin = { transformQuery: (args) => (statements++, args.node), transformResult: async (args) => args.result };
    const changes = new ReportChanges(hub, runtime.store.db.withPlugin(counter), runtime.database.notifier, runtime.log);
    const progressListeners = runtime.database.notifier.listenerCount('quire_progress');

    const feeds = [alice, alice, alice, bob, audra].map((actor) => {
      const got: ReportChange[] = [];
      return { actor, got, unwatch: changes.watch(actor, (change) => got.push(change)) };
    });
    expect(hub.listenerCount).toBe(1);

    const own = await requestReport(runtime.store, input('Alice’s'), alice);
    await waitFor(() => feeds.every((f) => f.actor === bob || f.got.length > 0), 10_000, 'alice’s report to reach her feeds and the auditor’s');
    // Five feeds, one statement.
    expect(statements).toBe(1);
    const other = await requestReport(runtime.store, input('Bob’s'), bob);
    await waitFor(() => feeds[3]!.got.length > 0 && feeds[4]!.got.length > 1, 10_000, 'bob’s report to reach his feed and the auditor’s');
    expect(statements).toBe(2);

    // Progress of a report whose owner is known: no read at all, and only its owner's and the auditor's feeds.
    runtime.database.notifier.notify('quire_progress', formatProgress(own.reportId, 0.5));
    await waitFor(() => feeds.filter((f) => f.actor !== bob).every((f) => f.got.some((c) => c.kind === 'progress')), 10_000, 'the progress step');
    expect(statements).toBe(2);

    const seen = (f: (typeof feeds)[number]) => f.got.map((c) => (c.kind === 'state' ? `${c.state.reportId}:${c.state.status}` : c.kind === 'progress' ? `${c.reportId}:${c.fraction}` : 'failed'));
    for (const f of feeds.slice(0, 3)) expect(new Set(seen(f))).toEqual(new Set([`${own.reportId}:REQUESTED`, `${own.reportId}:0.5`]));
    expect(seen(feeds[3]!)).toEqual([`${other.reportId}:REQUESTED`]);
    expect(new Set(seen(feeds[4]!))).toEqual(new Set([`${own.reportId}:REQUESTED`, `${other.reportId}:REQUESTED`, `${own.reportId}:0.5`]));

    // Changes to a known report are folded from its events: no read, one state per transaction, in order.
    for (let attempt = 1; attempt <= 2; attempt++) {
      await runtime.store.append(`report-${own.reportId}`, attempt, [
        { type: 'ReportFailed', data: { stage: 'render', error: `jam ${attempt}`, attempt, retryAt: null } },
      ]);
    }
    const versions = (f: (typeof feeds)[number]) => f.got.flatMap((c) => (c.kind === 'state' && c.state.reportId === own.reportId ? [c.state.version] : []));
    await waitFor(() => feeds.filter((f) => f.actor !== bob).every((f) => versions(f).length === 3), 10_000, 'both failures');
    for (const f of feeds.filter((f) => f.actor !== bob)) expect(versions(f)).toEqual([1, 2, 3]);
    const last = feeds[0]!.got.at(-1)!;
    expect(last.kind === 'state' && [last.state.status, last.state.lastError]).toEqual(['FAILED', 'jam 2']);
    expect(statements).toBe(2);
    expect(feeds[3]!.got).toHaveLength(1);

    for (const f of feeds) f.unwatch();
    feeds[0]!.unwatch(); // twice: harmless
    expect(hub.listenerCount).toBe(0);
    expect(runtime.database.notifier.listenerCount('quire_progress')).toBe(progressListeners);
  });

  it('reportStatus: every subscriber of a report is handed the same state, folded once per transaction; other reports are neither read nor sent', async () => {
    const own = await requestReport(runtime.store, input('Watched'), alice);
    const unwatched = await requestReport(runtime.store, input('Not watched'), bob);
    let statements = 0;
    const counter: KyselyPlugin = { transformQuery: (args) => (statements++, args.node), transformResult: async (args) => args.result };
    const changes = new ReportChanges(hub, runtime.store.db.withPlugin(counter), runtime.database.notifier, runtime.log);
    const subscribers = Array.from({ length: 3 }, () => {
      const got: ReportChange[] = [];
      return { got, unwatch: changes.watchReport(own.reportId, (change) => got.push(change)) };
    });
    expect(hub.listenerCount).toBe(1);
    const states = (s: (typeof subscribers)[number]) => s.got.flatMap((c) => (c.kind === 'state' ? [c.state] : []));
    // What a subscription read (reportStatus seeds it): the next events are folded into it, nothing is read.
    changes.seed((await loadReportState(runtime.store.db, own.reportId))!);

    await runtime.store.append(`report-${own.reportId}`, 1, [{ type: 'ReportFailed', data: { stage: 'render', error: 'jam 1', attempt: 1, retryAt: null } }]);
    // Another report's change: nobody subscribed to it and no viewer feed, so nothing is read for it.
    await runtime.store.append(`report-${unwatched.reportId}`, 1, [{ type: 'ReportFailed', data: { stage: 'render', error: 'x', attempt: 1, retryAt: null } }]);
    // Two events in one transaction: one state.
    await runtime.store.append(`report-${own.reportId}`, 2, [
      { type: 'ReportFailed', data: { stage: 'render', error: 'jam 2', attempt: 2, retryAt: null } },
      { type: 'ReportFailed', data: { stage: 'render', error: 'jam 3', attempt: 3, retryAt: null } },
    ]);
    await waitFor(() => subscribers.every((s) => states(s).at(-1)?.version === 4), 10_000, 'both changes');
    expect(statements).toBe(0);
    for (const s of subscribers) {
      expect(states(s).map((x) => [x.reportId, x.version, x.lastError])).toEqual([
        [own.reportId, 2, 'jam 1'],
        [own.reportId, 4, 'jam 3'],
      ]);
      // The same objects: folded once, not once per subscriber.
      states(s).forEach((state, i) => expect(state).toBe(states(subscribers[0]!)[i]));
    }

    // A report no subscription seeded: read once, for all its subscribers.
    const late = Array.from({ length: 2 }, () => {
      const got: ReportChange[] = [];
      return { got, unwatch: changes.watchReport(unwatched.reportId, (change) => got.push(change)) };
    });
    await runtime.store.append(`report-${unwatched.reportId}`, 2, [{ type: 'ReportFailed', data: { stage: 'render', error: 'y', attempt: 2, retryAt: null } }]);
    await waitFor(() => late.every((s) => states(s).at(-1)?.version === 3), 10_000, 'the unseeded report’s change');
    expect(statements).toBe(1);
    expect(states(late[0]!)[0]).toBe(states(late[1]!)[0]);
    expect(subscribers[0]!.got.every((c) => c.kind === 'state' && c.state.reportId === own.reportId)).toBe(true);

    for (const s of [...subscribers, ...late]) s.unwatch();
    expect(hub.listenerCount).toBe(0);
  });
});
