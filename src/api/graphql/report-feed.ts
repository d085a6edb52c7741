import { mayReadReport } from '../../reports/report-access.js';
import type { ReportState } from '../../reports/report-state.js';
import { builder } from './builder.js';
import { liveSubscription } from './live-subscription.js';
import { reportChangesOf, type ReportChange } from './report-changes.js';
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
        // The furthest step sent per render: this process hears its own progress twice on PostgreSQL
        // (at once, and again from NOTIFY), and an older echo must not move a bar backwards.
        const furthest = new Map<string, number>();
        // Read once for every feed, and only this viewer's reports come here (report-changes.ts).
        // ReportChanges pushes whole changes (one per transaction), all of one pass at once.
        const changes = live.listen<ReportChange>((push) => reportChangesOf(ctx).watch(ctx.actor, push), { untilNextMacrotask: false });
        for await (const batch of changes) {
          for (const change of batch) {
            if (change.kind === 'failed') throw change.error;
            // What this viewer may read is checked here, per feed, whatever the dispatch did.
            if (change.kind === 'state') {
              const { state } = change;
              if (!mayReadReport(ctx.actor, state)) continue;
              furthest.delete(state.reportId);
              yield { reportId: state.reportId, report: state, progress: null };
              continue;
            }
            const { reportId, owner, fraction } = change;
            if (!mayReadReport(ctx.actor, { owner }) || fraction <= (furthest.get(reportId) ?? -1)) continue;
            if (furthest.size > 10_000) furthest.clear();
            furthest.set(reportId, fraction);
            yield { reportId, report: null, progress: fraction };
          }
        }
      }),
    resolve: (u) => u,
  }),
);
