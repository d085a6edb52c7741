import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Actor } from '../../actor.js';
import type { Notifier } from '../../database/notifier.js';
import type { Database } from '../../database/schema.js';
import type { EventHub } from '../../events/event-hub.js';
import type { RecordedEvent } from '../../events/recorded-event.js';
import { parseProgress } from '../../render/progress-signal.js';
import { loadReportStates } from '../../reports/load-report.js';
import { readsEveryReport } from '../../reports/report-access.js';
import { evolve, REPORT_STREAM_PREFIX, type ReportState } from '../../reports/report-state.js';
import type { GraphQLContext } from './context.js';

/** One change to one report, for the feeds that may see it: its state after the change, a render step, or the read failing. */
export type ReportChange =
  | { kind: 'state'; state: ReportState }
  | { kind: 'progress'; reportId: string; owner: string; fraction: number }
  | { kind: 'failed'; error: unknown };

type Push = (change: ReportChange) => void;

/**
 * The report changes of this process, worked out once for every viewerReports feed and every
 * reportStatus subscription: a report's new state is its last known state with the new events
 * folded in, one state per transaction (the projection is read, in one statement per batch, only
 * for a report not known yet or whose events did not follow on), and each state goes only to the
 * feeds of its owner and of those who read every report, and to the subscriptions of that report.
 * Ten thousand feeds cost no more reads than one, an append wakes only the feeds it concerns — not
 * every feed, each to read and filter — and the hundred subscribers of one report are handed the
 * same state object (folded once, not once each). Each feed and subscription still checks what its
 * viewer may read (this index is not the rule).
 */
export class ReportChanges {
  private readonly byOwner = new Map<string, Set<Push>>();
  private readonly everyReport = new Set<Push>();
  /** reportStatus: report id → its subscriptions. */
  private readonly byReport = new Map<string, Set<Push>>();
  private watching = 0;
  private stopListening: (() => void) | undefined;
  /** Report events since the last pass, in commit order. */
  private events: RecordedEvent[] = [];
  /** The furthest step per report since the last read. */
  private progress = new Map<string, number>();
  private scheduled = false;
  /** Reads run one after the other, so no feed gets a state older than one it already had. */
  private reading: Promise<void> = Promise.resolve();
  /** The last state of each report seen (bounded): what the next events are folded into, and whose report it is. */
  private readonly known = new Map<string, ReportState>();

  constructor(
    private readonly hub: EventHub,
    private readonly db: Kysely<Database>,
    private readonly notifier: Notifier,
    private readonly log: Logger,
  ) {}

  /** Calls `push` with the changes of every report `actor` may read; returns the unwatch function. */
  watch(actor: Actor, push: Push): () => void {
    let set = this.everyReport;
    if (!readsEveryReport(actor)) {
      set = this.byOwner.get(actor.id) ?? new Set();
      this.byOwner.set(actor.id, set);
    }
    return this.add(set, push, () => set !== this.everyReport && set.size === 0 && this.byOwner.delete(actor.id));
  }

  /**
   * Calls `push` with every new state of one report (kind 'state', one per transaction, the same
   * object for every subscription of it) or with the read failing; returns the unwatch function.
   * Whoever watches checks that its viewer may read the report.
   */
  watchReport(reportId: string, push: Push): () => void {
    let set = this.byReport.get(reportId);
    if (!set) this.byReport.set(reportId, (set = new Set()));
    const mine = set;
    return this.add(mine, push, () => mine.size === 0 && this.byReport.delete(reportId));
  }

  /**
   * A state a reportStatus subscription read (at the head of the log as far as it knows): the base
   * its report's next events are folded into when none is known here — no read for the first
   * change, and every transaction's state goes out. A known state is never replaced (its events
   * may still be on their way to the watchers that have older states).
   */
  seed(state: ReportState): void {
    if (this.byReport.has(state.reportId) && !this.known.has(state.reportId)) this.known.set(state.reportId, state);
  }

  private add(set: Set<Push>, push: Push, dropIfEmpty: () => unknown): () => void {
    set.add(push);
    if (this.watching++ === 0) this.listen();
    let watched = true;
    return () => {
      if (!watched) return;
      watched = false;
      set.delete(push);
      dropIfEmpty();
      // The last watcher gone: nothing of this stays registered on the hub or the notifier.
      if (--this.watching === 0) {
        this.stopListening?.();
        this.stopListening = undefined;
      }
    };
  }

  /** Feeds of whole viewers (viewerReports) watching: then every report's changes matter, not only those subscribed to. */
  private get feeds(): boolean {
    return this.everyReport.size > 0 || this.byOwner.size > 0;
  }

  private listen(): void {
    // Nothing was followed while nobody watched: what was known then may be stale.
    this.known.clear();
    const offEvents = this.hub.onAny((event) => {
      if (!event.streamId.startsWith(REPORT_STREAM_PREFIX)) return;
      this.events.push(event);
      this.schedule();
    });
    const offProgress = this.notifier.on('quire_progress', (payload) => {
      for (const { reportId, fraction } of parseProgress(payload)) this.progress.set(reportId, Math.max(fraction, this.progress.get(reportId) ?? 0));
      this.schedule();
    });
    this.stopListening = () => {
      offEvents();
      offProgress();
    };
  }

  /** Everything dispatched before the next macrotask (the events of one append) is read together. */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.reading = this.reading.then(() => this.read());
    });
  }

  private async read(): Promise<void> {
    this.scheduled = false;
    const events = this.events;
    const progress = this.progress;
    this.events = [];
    this.progress = new Map();
    const byReport = new Map<string, RecordedEvent[]>();
    const feeds = this.feeds;
    for (const event of events) {
      const id = event.streamId.slice(REPORT_STREAM_PREFIX.length);
      // Only reportStatus subscriptions watch: the other reports' changes go nowhere (nor are
      // read), and what was known of them is no longer the state to fold into.
      if (!feeds && !this.byReport.has(id)) {
        this.known.delete(id);
        continue;
      }
      let list = byReport.get(id);
      if (!list) byReport.set(id, (list = []));
      list.push(event);
    }
    // Read only what cannot be folded: a report not known here, or whose events do not follow on.
    const unknown = new Set(feeds ? [...progress.keys()].filter((id) => !this.known.has(id)) : []);
    for (const [id, list] of byReport) {
      const state = this.known.get(id);
      if (!state || list[0]!.streamVersion > state.version + 1) unknown.add(id);
    }
    let read = new Map<string, ReportState>();
    try {
      if (unknown.size > 0) read = await loadReportStates(this.db, [...unknown]);
    } catch (error) {
      // Each feed ends with the error, as it would have had it read alone.
      this.log.warn({ err: error }, 'reading changed reports for viewerReports failed');
      for (const set of [this.everyReport, ...this.byOwner.values(), ...this.byReport.values()]) for (const push of set) push({ kind: 'failed', error });
      return;
    }
    if (this.known.size > 10_000) this.known.clear();
    for (const [id, list] of byReport) {
      const before = this.known.get(id);
      const fresh = read.get(id);
      let state = fresh ?? before;
      if (!state) continue;
      // The projection read may be ahead of these events (they are then skipped by version): its state is the change.
      let sent = fresh && fresh.version > (before?.version ?? 0) ? undefined : state.version;
      let sentAny = false;
      for (const [i, event] of list.entries()) {
        state = evolve(state, event) ?? state;
        const lastOfTransaction = i === list.length - 1 || list[i + 1]!.checkpoint.transactionId !== event.checkpoint.transactionId;
        if (lastOfTransaction && state.version !== sent) {
          sent = state.version;
          sentAny = true;
          this.send(state.owner, { kind: 'state', state }, id);
        }
      }
      if (sent === undefined) this.send(state.owner, { kind: 'state', state }, id);
      // Every event already in the known state (a subscriber's seed, or a read, was ahead of
      // them): a subscription that was sent an older state still gets this one (each skips what
      // it already has; the feeds had it when it became known).
      else if (!sentAny) for (const push of this.byReport.get(id) ?? []) push({ kind: 'state', state });
      this.known.set(id, state);
    }
    for (const [id, state] of read) if (!byReport.has(id)) this.known.set(id, state);
    for (const [reportId, fraction] of progress) {
      const owner = this.known.get(reportId)?.owner;
      if (owner !== undefined) this.send(owner, { kind: 'progress', reportId, owner, fraction });
    }
  }

  private send(owner: string, change: ReportChange, reportId?: string): void {
    for (const push of this.byOwner.get(owner) ?? []) push(change);
    for (const push of this.everyReport) push(change);
    if (reportId !== undefined) for (const push of this.byReport.get(reportId) ?? []) push(change);
  }
}

const perHub = new WeakMap<EventHub, ReportChanges>();

/** The one ReportChanges of the process's hub, reading through the primary (the log's own order). */
export function reportChangesOf({ hub, runtime }: Pick<GraphQLContext, 'hub' | 'runtime'>): ReportChanges {
  let changes = perHub.get(hub);
  if (!changes) perHub.set(hub, (changes = new ReportChanges(hub, runtime.store.db, runtime.database.notifier, runtime.log)));
  return changes;
}
