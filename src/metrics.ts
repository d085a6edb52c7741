import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ReplicationMetrics } from './workers/replication-metrics.js';

export type DownloadPath = 'object' | 'local' | 'replay';
export type DownloadOutcome = 'ok' | 'not_found' | 'not_ready' | 'failed' | 'unavailable' | 'forbidden' | 'invalid' | 'gone';

export type WebhookDeliveryOutcome = 'delivered' | 'failed_attempt' | 'given_up';

export type WorkStageName = 'render' | 'replicate' | 'migrate';

/** What the scrape reads from the database (set once it is open). */
export interface ScrapeSources {
  /** Reports by status. */
  reports(): Promise<Record<string, number>>;
  /** Reports waiting for each stage. */
  queueDepth(): Promise<Record<WorkStageName, number>>;
  /** When the newest seal was made (null: never). */
  lastSealAt(): Promise<Date | null>;
  /** When the first event (in commit order) that safe reads cannot see yet was recorded (null: they see every committed event). */
  oldestHeldBackEventAt(): Promise<Date | null>;
}

/**
 * What operators watch (served at /metrics), named as Prometheus asks: `quire_` prefix, base units
 * (`_seconds`, `_bytes`), `_total` on counters; Node's default metrics under their standard names.
 * docs/grafana-dashboard.json graphs exactly these; test/metrics-names.test.ts keeps them so.
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

  private readonly webhookDeliveries = new Counter({
    name: 'quire_webhook_deliveries_total',
    help: 'Completion webhook attempts by outcome (delivered, failed_attempt: retried later, given_up: the last attempt failed, WebhookFailed)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  private sources: ScrapeSources | undefined;

  private readonly reports = new Gauge({
    name: 'quire_reports',
    help: 'Reports by status, at scrape time (LOST: the only copy was on a forgotten volume)',
    labelNames: ['status'] as const,
    registers: [this.registry],
    collect: async () => {
      if (!this.sources) return;
      this.reports.reset();
      for (const [status, n] of Object.entries(await this.sources.reports())) this.reports.set({ status }, n);
    },
  });

  private readonly queueDepth = new Gauge({
    name: 'quire_queue_depth',
    help: 'Reports waiting for a stage (render: REQUESTED; replicate, migrate: STORED), at scrape time, in the whole fleet',
    labelNames: ['stage'] as const,
    registers: [this.registry],
    collect: async () => {
      if (!this.sources) return;
      for (const [stage, n] of Object.entries(await this.sources.queueDepth())) this.queueDepth.set({ stage }, n);
    },
  });

  private readonly sealAge = new Gauge({
    name: 'quire_seal_age_seconds',
    help: 'Seconds since the newest seal of the log, at scrape time (absent before the first seal)',
    registers: [this.registry],
    collect: async () => {
      const last = this.sources ? await this.sources.lastSealAt() : null;
      this.sealAge.reset();
      if (last) this.sealAge.set(Math.max(0, (Date.now() - last.getTime()) / 1000));
    },
  });

  /**
   * Safe reads (subscriptions, catch-up, seals, the auditors' events) see an event only once every
   * transaction older than it has ended, cluster-wide: one long transaction anywhere on the
   * PostgreSQL cluster (a pg_dump, a stuck session) holds live delivery back. This shows how long.
   */
  private readonly heldBack = new Gauge({
    name: 'quire_events_held_back_seconds',
    help: 'Age of the first committed event (in commit order) that safe reads (subscriptions, seals, audit) cannot see yet because an older transaction is still open on the database cluster; 0 when none is held back',
    registers: [this.registry],
    collect: async () => {
      const oldest = this.sources ? await this.sources.oldestHeldBackEventAt() : null;
      this.heldBack.set(oldest ? Math.max(0, (Date.now() - oldest.getTime()) / 1000) : 0);
    },
  });

  private readonly renderDuration = new Histogram({
    name: 'quire_render_duration_seconds',
    help: 'Time to render one report on the worker pool, by outcome (ok, failed)',
    labelNames: ['outcome'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120],
    registers: [this.registry],
  });

  private readonly hubLag = new Histogram({
    name: 'quire_event_hub_lag_seconds',
    help: 'Seconds from an event’s commit to its delivery to this process’s live subscribers',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  private readonly httpDuration = new Histogram({
    name: 'quire_http_request_duration_seconds',
    help: 'HTTP requests by route and status code, with their duration',
    labelNames: ['route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
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
    // No prefix: process_cpu_seconds_total, nodejs_heap_size_used_bytes… as every Node dashboard expects.
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** Where `quire_reports`, `quire_queue_depth`, `quire_seal_age_seconds` and `quire_events_held_back_seconds` read from. */
  watchDatabase(sources: ScrapeSources): void {
    this.sources = sources;
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

  rendered(seconds: number, outcome: 'ok' | 'failed'): void {
    this.renderDuration.observe({ outcome }, seconds);
  }

  eventDelivered(lagSeconds: number): void {
    this.hubLag.observe(Math.max(0, lagSeconds));
  }

  httpRequest(route: string, status: number, seconds: number): void {
    this.httpDuration.observe({ route, status: String(status) }, seconds);
  }

  /** A webhook attempt recorded: a given-up delivery counts once, as given_up (not also as failed_attempt). */
  webhookDelivery(outcome: WebhookDeliveryOutcome): void {
    this.webhookDeliveries.inc({ outcome });
  }

  eventQuarantined(): void {
    this.quarantinedEvents.inc();
  }
}
