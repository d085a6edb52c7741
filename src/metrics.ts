import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ReplicationMetrics } from './workers/replication-metrics.js';

export type DownloadPath = 'object' | 'local' | 'replay';
export type DownloadOutcome = 'ok' | 'not_found' | 'not_ready' | 'failed' | 'unavailable' | 'forbidden' | 'invalid' | 'gone';

/**
 * What operators watch (served at /metrics): how downloads are resolved and how they end — the
 * seed's "monitor the 404s" — and how far replication lags behind.
 */
export class Metrics implements ReplicationMetrics {
  readonly registry = new Registry();

  private readonly downloads = new Counter({
    name: 'quire_download_resolutions_total',
    help: 'Download URL resolutions by path taken (object, local, replay) and outcome',
    labelNames: ['path', 'outcome'] as const,
    registers: [this.registry],
  });

  private readonly files = new Counter({
    name: 'quire_file_requests_total',
    help: 'Requests to /files/<token> by outcome (served, replayed, redirected, forbidden, missing, unavailable)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  private readonly replicationLag = new Histogram({
    name: 'quire_replication_lag_seconds',
    help: 'Seconds from a report stored on a volume to its verified object-store copy',
    buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600],
    registers: [this.registry],
  });

  private readonly replicationFailures = new Counter({
    name: 'quire_replication_failures_total',
    help: 'Failed replication attempts by reason (store unavailable or copy mismatch)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  private readonly databaseReads = new Counter({
    name: 'quire_database_reads_total',
    help: 'Reads that may lag, by the database they went to (reader: DATABASE_READ_URL; primary: no reader, or it had not replayed the caller’s write)',
    labelNames: ['target'] as const,
    registers: [this.registry],
  });

  private readonly quarantinedEvents = new Counter({
    name: 'quire_events_quarantined_total',
    help: 'Rows of the event log this process could not read (bad row, or written by a newer version) and skipped',
    registers: [this.registry],
  });

  /** Reads the report counts by status at scrape time (set once the database is open). */
  private countReports: (() => Promise<Record<string, number>>) | undefined;

  private readonly reports = new Gauge({
    name: 'quire_reports',
    help: 'Reports by status, at scrape time (LOST: the only copy was on a forgotten volume)',
    labelNames: ['status'] as const,
    registers: [this.registry],
    collect: async () => {
      if (!this.countReports) return;
      this.reports.reset();
      for (const [status, n] of Object.entries(await this.countReports())) this.reports.set({ status }, n);
    },
  });

  /** Reads this process's open live subscriptions and event-hub listeners at scrape time (set by the HTTP server). */
  private countLive: (() => { subscriptions: number; listeners: number }) | undefined;

  private readonly liveSubscriptions = new Gauge({
    name: 'quire_live_subscriptions',
    help: 'GraphQL subscriptions open in this process (graphql-ws and SSE), at scrape time: should follow clients, never only grow',
    registers: [this.registry],
    collect: () => {
      if (this.countLive) this.liveSubscriptions.set(this.countLive().subscriptions);
    },
  });

  private readonly hubListeners = new Gauge({
    name: 'quire_event_hub_listeners',
    help: 'Listeners registered on this process’s event hub, at scrape time: zero when no subscription is open',
    registers: [this.registry],
    collect: () => {
      if (this.countLive) this.hubListeners.set(this.countLive().listeners);
    },
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'quire_' });
  }

  /** Where `quire_reports` reads its counts from. */
  watchReports(count: () => Promise<Record<string, number>>): void {
    this.countReports = count;
  }

  /** Where `quire_live_subscriptions` and `quire_event_hub_listeners` read their counts from. */
  watchLive(count: () => { subscriptions: number; listeners: number }): void {
    this.countLive = count;
  }

  databaseRead(target: 'primary' | 'reader'): void {
    this.databaseReads.inc({ target });
  }

  download(path: DownloadPath | 'none', outcome: DownloadOutcome): void {
    this.downloads.inc({ path, outcome });
  }

  file(outcome: 'served' | 'not_modified' | 'replayed' | 'redirected' | 'forbidden' | 'missing' | 'unavailable' | 'gone'): void {
    this.files.inc({ outcome });
  }

  replicated(lagSeconds: number): void {
    this.replicationLag.observe(Math.max(0, lagSeconds));
  }

  failed(reason: 'store' | 'mismatch'): void {
    this.replicationFailures.inc({ reason });
  }

  eventQuarantined(): void {
    this.quarantinedEvents.inc();
  }
}
