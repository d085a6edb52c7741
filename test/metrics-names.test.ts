import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpServer, type HttpServer } from '../src/api/http-server.js';
import { startMetricsServer, type MetricsServer } from '../src/api/metrics-server.js';
import { latestSeal, sealPending } from '../src/audit/seal.js';
import { Metrics } from '../src/metrics.js';
import { RenderPool } from '../src/render/render-pool.js';
import { createWorkers } from '../src/workers/start-workers.js';
import { connected, gqlHttp, gqlWs } from './graphql/client.js';
import { CreateDownloadUrlDocument, RequestReportDocument } from './graphql/gql/graphql.js';
import { backends } from './support/databases.js';
import { freePort } from './support/instances.js';
import { untilAllSafe } from './support/safe-log.js';
import { startTestRuntime, type TestRuntime } from './support/runtime.js';

/** Every metric quire exports, with its type: what docs/grafana-dashboard.json may use. */
const QUIRE_METRICS = {
  quire_http_request_duration_seconds: 'histogram',
  quire_render_duration_seconds: 'histogram',
  quire_queue_depth: 'gauge',
  quire_reports: 'gauge',
  quire_replication_lag_seconds: 'histogram',
  quire_replication_failures_total: 'counter',
  quire_download_resolutions_total: 'counter',
  quire_file_requests_total: 'counter',
  quire_live_subscriptions: 'gauge',
  quire_event_hub_listeners: 'gauge',
  quire_event_hub_lag_seconds: 'histogram',
  quire_seal_age_seconds: 'gauge',
  quire_events_held_back_seconds: 'gauge',
  quire_database_reads_total: 'counter',
  quire_events_quarantined_total: 'counter',
  quire_webhook_deliveries_total: 'counter',
} as const;

/** Node's defaults, under prom-client's standard (unprefixed) names. */
const DEFAULT_METRICS = {
  process_cpu_seconds_total: 'counter',
  process_resident_memory_bytes: 'gauge',
  process_start_time_seconds: 'gauge',
  nodejs_eventloop_lag_p99_seconds: 'gauge',
  nodejs_heap_size_used_bytes: 'gauge',
  nodejs_gc_duration_seconds: 'histogram',
} as const;

/** `# TYPE` lines of a scrape: name → type; and the names of the samples. */
function parse(text: string): { types: Map<string, string>; samples: Map<string, string[]> } {
  const types = new Map<string, string>();
  const samples = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    else if (line && !line.startsWith('#')) {
      const name = /^[^{ ]+/.exec(line)![0];
      samples.set(name, [...(samples.get(name) ?? []), line]);
    }
  }
  return { types, samples };
}

describe.each(backends)('metric names on %s', (kind) => {
  let runtime: TestRuntime;
  let http: HttpServer;
  let metricsServer: MetricsServer;
  let pool: RenderPool;
  let scrape: ReturnType<typeof parse>;

  beforeAll(async () => {
    const port = await freePort();
    runtime = await startTestRuntime(kind, { PUBLIC_URL: `http://127.0.0.1:${port}` }, { metrics: new Metrics() });
    http = await startHttpServer(runtime, port, '127.0.0.1');
    metricsServer = await startMetricsServer(runtime.metrics, 0, '127.0.0.1');
    pool = new RenderPool({ size: 1 });

    // Something for every metric to count: a request, its render, a download, a live socket, a seal.
    const token = await runtime.userTokens.sign({ id: 'alice', role: 'user' }, 600);
    const ws = gqlWs(http.url, token);
    await connected(ws);
    const input = { template: 'table', title: 'Counted', params: { columns: [{ label: 'A', key: 'a' }], rows: [{ a: 1 }] } };
    const asked = await gqlHttp(http.url, RequestReportDocument, { input }, token);
    const { reportId } = (asked.data!.requestReport as { data: { reportId: string } }).data;
    const queued = parse(await (await fetch(`${metricsServer.url}/metrics`)).text());
    expect(queued.samples.get('quire_queue_depth')).toContain('quire_queue_depth{stage="render"} 1');
    const workers = createWorkers(runtime, { pool, owner: 'metrics-test' });
    await workers.render.drain();
    const download = await gqlHttp(http.url, CreateDownloadUrlDocument, { reportId }, token);
    const { url } = (download.data!.createDownloadUrl as { data: { url: string } }).data;
    await (await fetch(url)).arrayBuffer();
    await workers.replicate!.drain();
    // Seals cover safe events only, which other tests' transactions on a shared PostgreSQL hold back a while.
    await untilAllSafe(runtime.database.db);
    await sealPending(runtime.database.db, { signer: runtime.sealKeys.signer, minAgeMs: 0 });
    expect(await latestSeal(runtime.database.db)).not.toBeNull();
    scrape = parse(await (await fetch(`${metricsServer.url}/metrics`)).text());
    await ws.dispose();
  }, 120_000);

  afterAll(async () => {
    await http?.close();
    await metricsServer?.close();
    await pool?.close();
    await runtime?.close();
  });

  it('every quire metric and Node default is there, with its type', () => {
    for (const [name, type] of Object.entries({ ...QUIRE_METRICS, ...DEFAULT_METRICS })) expect(scrape.types.get(name), name).toBe(type);
    // Nothing else under quire_ that this list (and so the dashboard's author) does not know of.
    expect([...scrape.types.keys()].filter((n) => n.startsWith('quire_')).sort()).toEqual(Object.keys(QUIRE_METRICS).sort());
  });

  it('names follow Prometheus conventions', () => {
    for (const [name, type] of scrape.types) {
      expect(name, name).toMatch(/^[a-z][a-z0-9_]*$/);
      // Counters end in _total, and nothing else of quire's does (prom-client's standard
      // nodejs_active_*_total gauges keep the names every Node dashboard uses).
      if (type === 'counter' || name.startsWith('quire_')) expect(name.endsWith('_total'), name).toBe(type === 'counter');
      // Node's defaults keep their standard names: no quire_ prefix.
      expect(name, name).not.toMatch(/^quire_(process|nodejs)_/);
      // Durations and sizes in base units.
      expect(name, name).not.toMatch(/_(ms|milliseconds|minutes|hours|kb|mb|kilobytes|megabytes)(_|$)/);
    }
    for (const name of Object.keys(QUIRE_METRICS)) if (QUIRE_METRICS[name as keyof typeof QUIRE_METRICS] === 'histogram') expect(name).toMatch(/_(seconds|bytes)$/);
  });

  it('the scrape shows what was done', () => {
    const sample = (name: string) => scrape.samples.get(name) ?? [];
    expect(sample('quire_render_duration_seconds_count')).toContain('quire_render_duration_seconds_count{outcome="ok"} 1');
    expect(sample('quire_download_resolutions_total')).toContain('quire_download_resolutions_total{path="local",outcome="ok"} 1');
    expect(sample('quire_replication_lag_seconds_count')).toContain('quire_replication_lag_seconds_count 1');
    expect(sample('quire_queue_depth')).toEqual(expect.arrayContaining(['quire_queue_depth{stage="render"} 0', 'quire_queue_depth{stage="replicate"} 0']));
    expect(sample('quire_live_subscriptions')).toEqual(['quire_live_subscriptions 0']);
    expect(Number(sample('quire_seal_age_seconds')[0]?.split(' ')[1])).toBeGreaterThanOrEqual(0);
    expect(Number(sample('quire_event_hub_lag_seconds_count')[0]?.split(' ')[1])).toBeGreaterThan(0);
    expect(sample('quire_http_request_duration_seconds_count').some((l) => l.includes('route="/graphql"') && l.includes('status="200"'))).toBe(true);
    expect(sample('quire_http_request_duration_seconds_count').some((l) => l.includes('route="/files/:token"'))).toBe(true);
    // No token or id as a label value.
    expect([...scrape.samples.values()].flat().some((l) => l.includes('eyJ'))).toBe(false);
  });

  it('docs/grafana-dashboard.json graphs only metrics the scrape declares', () => {
    const dashboard = JSON.parse(readFileSync(new URL('../docs/grafana-dashboard.json', import.meta.url), 'utf8')) as {
      panels: Array<{ targets?: Array<{ expr: string }> }>;
    };
    const exprs = dashboard.panels.flatMap((p) => p.targets ?? []).map((t) => t.expr);
    expect(exprs.length).toBeGreaterThan(10);
    const used = new Set<string>();
    for (const expr of exprs) for (const [name] of expr.matchAll(/\b(?:quire|process|nodejs)_[a-z0-9_]+\b/g)) used.add(name);
    for (const name of used) {
      // A histogram's series: <name>_bucket, _sum, _count.
      const base = /^(.*)_(bucket|sum|count)$/.exec(name);
      const declared = scrape.types.has(name) || (base !== null && scrape.types.get(base[1]!) === 'histogram');
      expect(declared, `${name} in the dashboard is not in the scrape`).toBe(true);
    }
    // And every quire metric has a panel.
    for (const name of Object.keys(QUIRE_METRICS)) expect([...used].some((u) => u === name || u.startsWith(`${name}_`)), `${name} has no panel`).toBe(true);
  });
});
