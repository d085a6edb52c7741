import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { sql } from 'kysely';
import { deriveKey } from '../auth/secret.js';
import { UserTokens } from '../auth/user-tokens.js';
import { openDatabase, type DatabaseHandle } from '../database/connect.js';
import { migrateToLatest } from '../database/migrate.js';
import { verifyLog } from '../audit/verify.js';
import { generateSealKey } from '../audit/seal-key.js';
import { loadReportState } from '../projections/report-rows.js';
import { downloadQuire, downloadSeed, followStatus, requestReport, TypedFailure, type Attempt, type Client } from './client.js';
import { diskStoreFaults, REGIONS, Region, simLog, tempWorkDir, type ObjectStoreFaults, type SimMode } from './cluster.js';
import { startEdge } from './edge.js';
import { Prng } from './prng.js';
import { startS3Server } from './s3-server.js';

export interface SimOptions {
  modes: SimMode[];
  reports: number;
  concurrency: number;
  seed: number;
  /** Reports arrive over this window (ms); faults are scheduled inside it. */
  durationMs: number;
  /** Download attempts per report (the first right after STORED). */
  downloads: number;
  store: 's3' | 'disk';
  faults: { outage: boolean; kill: boolean; dbDrop: boolean };
  /** Set: separate `quire serve` processes on PostgreSQL (a database per mode is created and dropped). */
  databaseUrl?: string;
  /** Hard bound of a mode's run after its workload window (ms). */
  settleMs: number;
  renderConcurrency: number;
  /** Rows per table report: from 5 to 5 + maxRows (render cost). Default 150. */
  maxRows?: number;
  log?: (line: string) => void;
}

export interface FaultWindow {
  kind: 'object_store_outage' | 'region_killed' | 'db_connections_dropped';
  region?: string;
  start: number;
  end: number;
}

export interface ModeResult {
  mode: SimMode;
  backend: 'pglite' | 'postgres';
  processes: boolean;
  store: 's3' | 'disk';
  reports: number;
  wallMs: number;
  downloads: { attempted: number; succeeded: number; byPath: Record<string, number>; failedByReason: Record<string, number> };
  failures: { typed: number; untyped: number; explained: number; unexplained: number; recovered: number; unrecovered: number; examples: string[] };
  lost: number;
  lostIds: string[];
  requestToFirstDownloadMs: { p50: number | null; p99: number | null; max: number | null };
  everyRegion: { checked: number; ok: number; failed: number; failures: string[] };
  hashChains: { streams: number; events: number; breaks: number };
  faults: FaultWindow[];
  edge: { requests: number; replays: number; replaysToDeadRegion: number; retriedElsewhere: number; upstreamErrors: number };
  requestRetries: number;
  invariants: { name: string; ok: boolean; detail: string }[];
  /** Per-second download outcomes, for the chart. */
  timeline: { t: number; ok: number; failed: number }[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

async function openModeDatabase(databaseUrl: string | undefined): Promise<{ handle: DatabaseHandle; url?: string; drop(): Promise<void> }> {
  const log = simLog();
  if (!databaseUrl) {
    const handle = await openDatabase({ kind: 'pglite', dataDir: 'memory://', log });
    await migrateToLatest(handle.db);
    return { handle, drop: () => handle.close() };
  }
  const name = `quire_sim_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(databaseUrl);
  url.pathname = `/${name}`;
  const handle = await openDatabase({ kind: 'postgres', url: url.toString(), poolMax: 10, log });
  await migrateToLatest(handle.db);
  return {
    handle,
    url: url.toString(),
    async drop() {
      await handle.close();
      const a = new pg.Client({ connectionString: databaseUrl });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}

const TYPED_EXPLANATIONS: Record<string, string> = {
  REGION_UNAVAILABLE: 'the only copy is on the volume of a region that is down (not replicated yet)',
  UNAVAILABLE: 'the only copy is on a volume this instance cannot route to',
  NOT_READY: 'the report has no file yet',
  OBJECT_STORE_UNAVAILABLE: 'the object store is down',
  EDGE_UPSTREAM_ERROR: 'the region died while answering',
};

export async function runMode(mode: SimMode, options: SimOptions): Promise<ModeResult> {
  const say = options.log ?? (() => undefined);
  const prng = new Prng(options.seed);
  const started = Date.now();
  const workDir = tempWorkDir();
  const database = await openModeDatabase(options.databaseUrl);
  const authSecret = `sim-${randomBytes(24).toString('hex')}`;
  const sealKey = generateSealKey();
  const s3 = options.store === 's3' ? await startS3Server({ bucket: `quire-sim-${mode}` }) : undefined;
  const objectsDir = join(workDir, 'objects');
  mkdirSync(objectsDir, { recursive: true });
  const storeEnv: Record<string, string> = s3 ? s3.env : { OBJECTS_DIR: objectsDir };
  const storeFaults: ObjectStoreFaults = s3 ? { down: () => s3.stop(), up: () => s3.start() } : diskStoreFaults(objectsDir);

  const regions: Region[] = [];
  const edge = await startEdge(() => regions, prng.fork(1));
  for (const name of REGIONS) {
    regions.push(
      new Region(name, {
        mode,
        database: database.handle,
        ...(database.url ? { databaseUrl: database.url } : {}),
        storeEnv,
        edgeUrl: edge.url,
        authSecret,
        sealSigningKey: sealKey.privateKey,
        workDir,
        renderConcurrency: options.renderConcurrency,
        log: simLog(),
      }),
    );
  }
  const tokens = new UserTokens({ key: deriveKey(authSecret, 'user-token') });
  const users = await Promise.all(['alice', 'bob', 'carol', 'dave'].map((id) => tokens.sign({ id, role: 'user' }, 3600)));
  const faults: FaultWindow[] = [];
  const attempts: Attempt[] = [];
  const requested: { reportId: string; user: number; at: number; firstOk?: number; sha?: string }[] = [];
  let requestRetries = 0;
  const pending = new Set<Promise<unknown>>();

  try {
    for (const r of regions) await r.start();
    say(`  ${mode}: regions up (${options.databaseUrl ? 'processes, PostgreSQL' : 'in-process, PGlite'}; ${options.store} object store); edge ${edge.url}`);
    const t0 = Date.now();
    const D = options.durationMs;
    const workloadEnd = t0 + D;
    const deadline = workloadEnd + options.settleMs;

    // Faults, each a scheduled event of the run.
    const schedule: Array<[number, () => Promise<void>]> = [];
    if (options.faults.outage) {
      const w: FaultWindow = { kind: 'object_store_outage', start: 0, end: 0 };
      schedule.push([0.15 * D, async () => ((w.start = Date.now()), faults.push(w), await storeFaults.down(), say(`  ${mode}: object store down`))]);
      schedule.push([0.4 * D, async () => (await storeFaults.up(), (w.end = Date.now()), say(`  ${mode}: object store back`))]);
    }
    if (options.faults.kill) {
      const victim = prng.pick(regions);
      const w: FaultWindow = { kind: 'region_killed', region: victim.region, start: 0, end: 0 };
      schedule.push([0.5 * D, async () => ((w.start = Date.now()), faults.push(w), await victim.kill(), say(`  ${mode}: ${victim.region} killed`))]);
      schedule.push([0.75 * D, async () => (await victim.start(), (w.end = Date.now()), say(`  ${mode}: ${victim.region} restarted`))]);
    }
    if (options.faults.dbDrop && database.handle.kind === 'postgres') {
      schedule.push([
        0.3 * D,
        async () => {
          const w: FaultWindow = { kind: 'db_connections_dropped', start: Date.now(), end: 0 };
          faults.push(w);
          const r = await sql<{ n: number }>`SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid()`.execute(database.handle.db);
          w.end = Date.now() + 1000;
          say(`  ${mode}: dropped ${r.rows[0]?.n ?? 0} database connections`);
        },
      ]);
    }
    const faultRun = (async () => {
      for (const [at, act] of schedule.sort((a, b) => a[0] - b[0])) {
        await sleep(Math.max(0, t0 + at - Date.now()));
        await act().catch((err) => say(`  ${mode}: fault failed: ${String(err)}`));
      }
    })();

    // The workload: reports arrive over the window, at most `concurrency` in flight.
    const arrivals = Array.from({ length: options.reports }, () => prng.next() * D).sort((a, b) => a - b);
    let active = 0;
    const oneReport = async (i: number, rng: Prng) => {
      const user = i % users.length;
      const client: Client = { edgeUrl: edge.url, token: users[user]! };
      const rows = 5 + rng.int(options.maxRows ?? 150);
      const input = {
        template: 'table',
        title: `Sim ${mode} #${i}`,
        params: {
          columns: [{ label: 'Item', key: 'item' }, { label: 'Qty', key: 'qty', align: 'right', format: 'number' }],
          rows: Array.from({ length: rows }, (_, k) => ({ item: `Item ${k}`, qty: k * (i + 1) })),
        },
      };
      const at = Date.now();
      let reportId: string | undefined;
      for (let a = 0; !reportId && Date.now() < deadline; a++) {
        try {
          reportId = await requestReport(client, input);
        } catch (err) {
          requestRetries++;
          if (a > 20) throw err;
          await sleep(200 * Math.min(8, 2 ** a));
        }
      }
      if (!reportId) return;
      const entry: (typeof requested)[number] = { reportId, user, at };
      requested.push(entry);
      const stored = await followStatus(client, reportId, (u) => u.sha256 !== null || u.status === 'FAILED', deadline);
      if (!stored?.sha256) return;
      entry.sha = stored.sha256;
      const download = mode === 'legacy' ? downloadSeed : downloadQuire;
      // The first download right after STORED (before replication), the others at random moments.
      const delays = [0, ...Array.from({ length: options.downloads - 1 }, () => rng.between(0, D / 4))];
      await Promise.all(
        delays.map(async (delay) => {
          await sleep(delay);
          for (let k = 0; Date.now() < deadline; k++) {
            const attempt = await download(client, reportId, stored.sha256!);
            attempts.push(attempt);
            if (attempt.ok) {
              entry.firstOk = Math.min(entry.firstOk ?? Infinity, Date.now());
              return;
            }
            // The seed's clients did not come back; quire's retry after a typed error says so.
            if (mode === 'legacy' && k >= 2) return;
            await sleep(Math.min(4000, 250 * 2 ** k));
          }
        }),
      );
    };
    for (let i = 0; i < arrivals.length; i++) {
      await sleep(Math.max(0, t0 + arrivals[i]! - Date.now()));
      while (active >= options.concurrency) await sleep(20);
      active++;
      const p = oneReport(i, prng.fork(i + 7))
        .catch((err) => say(`  ${mode}: report #${i}: ${String(err)}`))
        .finally(() => {
          active--;
          pending.delete(p);
        });
      pending.add(p);
    }
    await faultRun;
    while (pending.size > 0 && Date.now() < deadline) await sleep(50);
    say(`  ${mode}: workload done in ${Date.now() - t0} ms (${requested.length} reports, ${attempts.length} download attempts)`);

    // Every region live, the object store up: check every report from every region.
    for (const r of regions) await r.start();
    await storeFaults.up();
    const everyRegion = { checked: 0, ok: 0, failed: 0, failures: [] as string[] };
    const lostIds: string[] = [];
    const okSomewhere = new Set<string>();
    const queue = [...requested];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let entry = queue.shift(); entry; entry = queue.shift()) {
          const state = await loadReportState(database.handle.db, entry.reportId);
          if (!state || !state.sha256 || state.status === 'FAILED') continue;
          const client: Client = { edgeUrl: edge.url, token: users[entry.user]! };
          for (const region of REGIONS) {
            everyRegion.checked++;
            let attempt: Attempt | undefined;
            // A report still rendering at the end (a slow retry) gets a few seconds.
            for (let k = 0; k < 5; k++) {
              attempt = await (mode === 'legacy' ? downloadSeed : downloadQuire)(client, entry.reportId, state.sha256, region);
              if (attempt.ok || mode === 'legacy' || attempt.reason !== 'NOT_READY') break;
              await sleep(500);
            }
            if (attempt!.ok) {
              everyRegion.ok++;
              okSomewhere.add(entry.reportId);
            } else {
              everyRegion.failed++;
              if (everyRegion.failures.length < 10) everyRegion.failures.push(`${entry.reportId} from ${region}: ${attempt!.reason} ${attempt!.message ?? ''}`.trim());
            }
          }
        }
      }),
    );
    for (const entry of requested) {
      const state = await loadReportState(database.handle.db, entry.reportId);
      if (!state || state.status === 'FAILED' || !state.sha256 || !okSomewhere.has(entry.reportId)) lostIds.push(entry.reportId);
    }
    // Verify the log at rest: every region stopped, nothing appending any more.
    for (const r of regions) await r.stop().catch(() => undefined);
    const chains = await verifyLog(database.handle.db, { publicKeys: [sealKey.signer] });

    // Classify failures.
    const inWindow = (at: number, kinds: FaultWindow['kind'][], slack = 2000) =>
      faults.find((w) => kinds.includes(w.kind) && at >= w.start - slack && at <= (w.end || Date.now()) + slack);
    const failed = attempts.filter((a) => !a.ok);
    const explain = (a: Attempt): string | null => {
      if (mode === 'legacy') return null;
      if (a.reason === 'object_store_unreachable') return inWindow(a.at, ['object_store_outage'], 1000) ? 'the object store is down' : null;
      if (a.typed && a.reason && TYPED_EXPLANATIONS[a.reason]) {
        if (a.reason === 'REGION_UNAVAILABLE' || a.reason === 'EDGE_UPSTREAM_ERROR') return inWindow(a.at, ['region_killed']) ? TYPED_EXPLANATIONS[a.reason]! : null;
        return TYPED_EXPLANATIONS[a.reason]!;
      }
      const w = inWindow(a.at, ['db_connections_dropped', 'region_killed', 'object_store_outage']);
      return w ? `untyped ${a.reason} during ${w.kind}` : null;
    };
    const byReason: Record<string, number> = {};
    const examples: string[] = [];
    let explained = 0;
    let recovered = 0;
    for (const a of failed) {
      byReason[a.reason ?? 'unknown'] = (byReason[a.reason ?? 'unknown'] ?? 0) + 1;
      const why = explain(a);
      if (why) explained++;
      else if (examples.length < 8) examples.push(`${a.reason}: ${a.message ?? ''} (${a.region ?? '?'})`.slice(0, 240));
      if (attempts.some((b) => b.ok && b.reportId === a.reportId && b.at > a.at)) recovered++;
    }
    const byPath: Record<string, number> = { object: 0, local: 0, replay: 0 };
    for (const a of attempts) if (a.ok) byPath[a.path!] = (byPath[a.path!] ?? 0) + 1;
    const latencies = requested
      .filter((e) => e.firstOk !== undefined)
      .map((e) => e.firstOk! - e.at)
      .sort((a, b) => a - b);
    const timeline: ModeResult['timeline'] = [];
    for (const a of attempts) {
      const t = Math.floor((a.at - t0) / 1000);
      while (timeline.length <= t) timeline.push({ t: timeline.length, ok: 0, failed: 0 });
      if (a.ok) timeline[t]!.ok++;
      else timeline[t]!.failed++;
    }
    const unexplained = failed.length - explained;
    const typed = failed.filter((a) => a.typed).length;
    const result: ModeResult = {
      mode,
      backend: database.handle.kind,
      processes: Boolean(options.databaseUrl),
      store: options.store,
      reports: requested.length,
      wallMs: Date.now() - started,
      downloads: { attempted: attempts.length, succeeded: attempts.length - failed.length, byPath, failedByReason: byReason },
      failures: { typed, untyped: failed.length - typed, explained, unexplained, recovered, unrecovered: failed.length - recovered, examples },
      lost: lostIds.length,
      lostIds: lostIds.slice(0, 20),
      requestToFirstDownloadMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1) ?? null },
      everyRegion,
      hashChains: { streams: chains.streams, events: chains.events, breaks: chains.problemCount },
      faults: faults.map((w) => ({ ...w, start: w.start - t0, end: w.end ? w.end - t0 : 0 })),
      edge: { ...edge.stats },
      requestRetries,
      invariants: [],
      timeline,
    };
    result.invariants = [
      { name: 'every requested report was recorded', ok: requested.length === options.reports, detail: `${requested.length}/${options.reports}` },
      { name: 'no report lost', ok: lostIds.length === 0, detail: `lost ${lostIds.length}` },
      {
        name: 'every stored report downloads with its sha256 from every region',
        ok: everyRegion.failed === 0,
        detail: `${everyRegion.ok}/${everyRegion.checked}`,
      },
      { name: 'every failure is typed and explained', ok: unexplained === 0, detail: `${unexplained} unexplained of ${failed.length}` },
      { name: 'every failed download succeeded later', ok: recovered === failed.length, detail: `${recovered}/${failed.length} recovered` },
      { name: 'hash chains verify', ok: chains.ok, detail: `${chains.streams} streams, ${chains.events} events, ${chains.problemCount} problems${chains.firstProblem ? `; first: ${chains.firstProblem.kind} ${chains.firstProblem.message}` : ''}` },
    ];
    return result;
  } finally {
    await Promise.allSettled([...pending]);
    for (const r of regions) await r.stop().catch(() => undefined);
    await edge.close();
    await storeFaults.up().catch(() => undefined);
    await s3?.close();
    await database.drop();
    rmSync(workDir, { recursive: true, force: true });
  }
}

export async function runSimulation(options: SimOptions): Promise<ModeResult[]> {
  const results: ModeResult[] = [];
  for (const mode of options.modes) {
    options.log?.(`mode ${mode}`);
    results.push(await runMode(mode, options));
  }
  return results;
}

export { TypedFailure };
