import { loadReportStatesTogether } from '../../reports/load-report.js';
import { parseProgress } from '../../render/progress-signal.js';
import { mayReadReport } from '../../reports/report-access.js';
import { REPORT_STREAM_PREFIX, type ReportState } from '../../reports/report-state.js';
import { builder } from './builder.js';
import { liveSubscription } from './live-subscription.js';
import { ReportRef } from './reports.js';

/** One change to one of the viewer's reports: its new state, or a render progress step. */
interface ReportUpdate {
  reportId: string;
  report: ReportState | null;
  progress: number | null;
}

const ReportUpdateRef = builder.objectRef<ReportUpdate>('ReportUpdate').implement({
  description: 'A report the viewer may read changed (`report`: its state after the change) or its render advanced (`progress`, transient).',
  fields: (t) => ({
    reportId: t.exposeString('reportId'),
    report: t.field({ type: ReportRef, nullable: true, resolve: (u) => u.report }),
    progress: t.exposeFloat('progress', { nullable: true, description: '0..1 while a worker renders it; null on a state change.' }),
  }),
});

type Signal = { kind: 'event'; reportId: string } | { kind: 'progress'; reportId: string; fraction: number };

/**
 * Every report the viewer may read — a user's own, every report for auditors and admins — as one
 * stream: new reports, each state change (one per transaction, read from the projection), and
 * render progress. One subscription for a whole list, instead of one per row.
 */
builder.subscriptionField('viewerReports', (t) =>
  t.field({
    type: ReportUpdateRef,
    description: 'Live changes to every report the viewer may read: new ones, each state change, render progress.',
    // liveSubscription: ends at the token's expiry or revocation, and leaves nothing registered behind.
    subscribe: (_, __, ctx) =>
      liveSubscription(ctx, async function* (live) {
        // Whose report each id is, learned from its state: progress for others' reports is dropped without a query.
        const owners = new Map<string, string>();
        // The furthest step sent per render: this process hears its own progress twice on PostgreSQL
        // (at once, and again from NOTIFY), and an older echo must not move a bar backwards.
        const furthest = new Map<string, number>();
        const signals = live.listen<Signal>((push) => {
          const offEvents = ctx.hub.onAny((event) => {
            if (event.streamId.startsWith(REPORT_STREAM_PREFIX)) push({ kind: 'event', reportId: event.streamId.slice(REPORT_STREAM_PREFIX.length) });
          });
          const offProgress = ctx.runtime.database.notifier.on('quire_progress', (payload) => {
            for (const step of parseProgress(payload)) push({ kind: 'progress', ...step });
          });
          return () => {
            offEvents();
            offProgress();
          };
        });
        for await (const batch of signals) {
          const changed = [...new Set(batch.filter((s) => s.kind === 'event').map((s) => s.reportId))];
          const unknown = [...new Set(batch.filter((s) => s.kind === 'progress' && !owners.has(s.reportId)).map((s) => s.reportId))];
          // One read shared by every feed this batch woke (each still checks what its viewer may read).
          const states = await loadReportStatesTogether(ctx.runtime.store.db, [...new Set([...changed, ...unknown])]);
          if (owners.size > 10_000) owners.clear();
          for (const state of states.values()) owners.set(state.reportId, state.owner);
          for (const id of changed) {
            const state = states.get(id);
            if (state && mayReadReport(ctx.actor, state)) {
              furthest.delete(id);
              yield { reportId: id, report: state, progress: null };
            }
          }
          // Only the newest step of a burst matters, per report.
          const latest = new Map<string, number>();
          for (const s of batch) if (s.kind === 'progress') latest.set(s.reportId, Math.max(s.fraction, latest.get(s.reportId) ?? 0));
          for (const [id, fraction] of latest) {
            const owner = owners.get(id);
            if (owner === undefined || !mayReadReport(ctx.actor, { owner }) || fraction <= (furthest.get(id) ?? -1)) continue;
            if (furthest.size > 10_000) furthest.clear();
            furthest.set(id, fraction);
            yield { reportId: id, report: null, progress: fraction };
          }
        }
      }),
    resolve: (u) => u,
  }),
);
