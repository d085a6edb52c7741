import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { deriveKey } from '../auth/secret.js';
import { UserTokens } from '../auth/user-tokens.js';
import type { DatabaseHandle } from '../database/connect.js';
import { openScratchDatabase } from '../database/scratch-database.js';
import { verifyLog } from '../audit/verify.js';
import { generateSealKey } from '../audit/seal-key.js';
import { loadReportState } from '../reports/load-report.js';
import { RenderPool } from '../render/render-pool.js';
import { downloadQuire, downloadSeed, followStatus, requestReport, TypedFailure, type Attempt, type Client } from './client.js';
import { diskStoreFaults, machineIdOf, REGIONS, SimMachine, simLog, tempWorkDir, type ObjectStoreFaults, type SimMode } from './cluster.js';
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
  /** Regions of the fleet (default iad, lax, syd). */
  regions?: readonly string[];
  /** Machines in each region, each with its own volume and machine id (default 2). */
  machinesPerRegion?: number;
  faults: {
    /** The object store goes down: from 15 % to 40 % of the window, or `outageMs` from `outageAtMs`. */
    outage: boolean;
    /** `workload`: down from the start until every report's downloads are done (the fleet scenario). */
    outageWindow?: { startMs: number; endMs: number; feltBy?: number } | 'workload';
    /** One machine killed at 50 % and restarted on its volume at 75 %. */
    kill: boolean;
    /** Instead: this many kill/restart cycles of random machines, spread over the window, one at a time. */
    kills?: number;
    dbDrop: boolean;
  };
  /** After the workload, wait (within settleMs) for every report to be REPLICATED: an invariant. */
  replicateAll?: boolean;
  /** Every download attempt must succeed the first time (the fleet scenario): an invariant. */
  noFailedDownloads?: boolean;
  /** Set: separate `quire serve` processes on PostgreSQL (a database per mode is created and dropped). */
  databaseUrl?: string;
  /** Hard bound of a mode's run after its workload window (ms). */
  settleMs: number;
  renderConcurrency: number;
  /** Rows per table report: from 5 to 5 + maxRows (render cost). Default 150. */
  maxRows?: number;
  /**
   * This percentage of the reports is requested with a retainFor that ends 5 s after the workload
   * window: they must end EXPIRED with every copy purged, and answer GONE (an invariant). Default 0.
   */
  expirePercent?: number;
  log?: (line: string) => void;
}

export interface FaultWindow {
  kind: 'object_store_outage' | 'machine_killed' | 'db_connections_dropped';
  region?: string;
  machine?: string;
  start: number;
  end: number;
}

export interface ModeResult {
  mode: SimMode;
  backend: 'pglite' | 'postgres';
  processes: boolean;
  store: 's3' | 'disk';
  reports: number;
  regions: string[];
  machinesPerRegion: number;
  wallMs: number;
  downloads: { attempted: number; succeeded: number; byPath: Record<string, number>; failedByReason: Record<string, number> };
  /** requestReport calls that failed (and were retried), by reason; `untyped` counts those without a code. */
  requestFailures: { byReason: Record<string, number>; untyped: number };
  /** Every report REPLICATED at the end (replicateAll): how long after the workload and after the store came back. */
  replication: {
    checked: boolean;
    replicated: number;
    notReplicated: string[];
    afterWorkloadMs: number | null;
    /** The outage's backlog (reports whose copy failed): its last copy, this long after the store came back. */
    backlogClearedAfterStoreBackMs: number | null;
    /** How many reports were in that backlog. */
    backlog: number;
  };
  failures: { typed: number; untyped: number; explained: number; unexplained: number; recovered: number; unrecovered: number; examples: string[];
    /** The first untyped failures, explained or not (what a client saw that was not a typed answer). */
    untypedSamples: string[] };
  lost: number;
  lostIds: string[];
  requestToFirstDownloadMs: { p50: number | null; p99: number | null; max: number | null };
  /** Every report downloaded through each machine (fly-force-instance-id) at the end. */
  everyMachine: { checked: number; ok: number; failed: number; failures: string[] };
  hashChains: { streams: number; events: number; breaks: number };
  /** The log at the end: events by type, ReportFailed by stage, and the failures nobody will retry (retryAt null). */
  events: { byType: Record<string, number>; failedByStage: Record<string, number>; givenUp: string[] };
  faults: FaultWindow[];
  edge: { requests: number; replays: number; replaysToDeadRegion: number; replaysToDeadMachine: number; retriedElsewhere: number; upstreamErrors: number };
  requestRetries: number;
  /** Reports requested with a retainFor (expirePercent): expired and purged at the end. */
  expiry: { requested: number; purged: number; gone: number; notPurged: string[]; notGone: string[] };
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
  const handle = await openScratchDatabase(databaseUrl ? 'postgres' : 'pglite', { prefix: 'quire_sim', poolMax: 10, log: simLog(), ...(databaseUrl ? { adminUrl: databaseUrl } : {}) });
  return { handle, ...(handle.url ? { url: handle.url } : {}), drop: handle.drop };
}

const TYPED_EXPLANATIONS: Record<string, string> = {
  REGION_UNAVAILABLE: 'the only copy is on the volume of a region that is down (not replicated yet)',
  MACHINE_UNAVAILABLE: 'the only copy is on the volume of a machine that is down (not replicated yet)',
  UNAVAILABLE: 'the only copy is on a volume this instance cannot route to',
  NOT_READY: 'the report has no file yet',
  OBJECT_STORE_UNAVAILABLE: 'the object store is down',
  EDGE_UPSTREAM_ERROR: 'the machine died while answering',
};

export async function runMode(mode: SimMode, options: SimOptions): Promise<ModeResult> {
  const say = (line: string) => options.log?.(process.env.SIM_TIMESTAMPS ? `${Date.now()} ${line}` : line);
  const prng = new Prng(options.seed);
  const started = Date.now();
  const workDir = tempWorkDir();
  const database = await openModeDatabase(options.databaseUrl);
  const authSecret = `sim-${randomBytes(24).toString('hex')}`;
  const sealKey = generateSealKey();
  const dataEncryptionKey = randomBytes(32).toString('base64url');
  const s3 = options.store === 's3' ? await startS3Server({ bucket: `quire-sim-${mode}` }) : undefined;
  const objectsDir = join(workDir, 'objects');
  mkdirSync(objectsDir, { recursive: true });
  const storeEnv: Record<string, string> = s3 ? s3.env : { OBJECTS_DIR: objectsDir };
  const storeFaults: ObjectStoreFaults = s3 ? { down: () => s3.stop(), up: () => s3.start() } : diskStoreFaults(objectsDir);

  const regionNames = [...(options.regions ?? REGIONS)];
  const perRegion = options.machinesPerRegion ?? 2;
  const machines: SimMachine[] = [];
  const edge = await startEdge(() => machines, prng.fork(1));
  const pool = options.databaseUrl ? undefined : new RenderPool({ size: options.renderConcurrency });
  for (const name of regionNames) {
    for (let m = 0; m < perRegion; m++) {
      machines.push(
        new SimMachine(name, machineIdOf(name, m), {
          mode,
        database: database.handle,
        ...(database.url ? { databaseUrl: database.url } : {}),
        storeEnv,
        edgeUrl: edge.url,
        authSecret,
        sealSigningKey: sealKey.privateKey,
        dataEncryptionKey,
        workDir,
          renderConcurrency: options.renderConcurrency,
          ...(pool ? { pool } : {}),
          log: simLog(),
        }),
      );
    }
  }
  const tokens = new UserTokens({ key: deriveKey(authSecret, 'user-token') });
  const users = await Promise.all(['alice', 'bob', 'carol', 'dave'].map((id) => tokens.sign({ id, role: 'user' }, 3600)));
  const faults: FaultWindow[] = [];
  const attempts: Attempt[] = [];
  const requested: { reportId: string; user: number; at: number; firstOk?: number; sha?: string; expiresAt?: number }[] = [];
  let requestRetries = 0;
  const requestFailures: ModeResult['requestFailures'] = { byReason: {}, untyped: 0 };
  const pending = new Set<Promise<unknown>>();
  let storeBackAt: number | null = null;

  try {
    await pool?.warmUp();
    for (const r of machines) await r.start();
    say(
      `  ${mode}: ${machines.length} machines up (${regionNames.length} regions × ${perRegion}; ${options.databaseUrl ? 'processes, PostgreSQL' : 'in-process, PGlite'}; ${options.store} object store); edge ${edge.url}`,
    );
    const t0 = Date.now();
    const D = options.durationMs;
    const workloadEnd = t0 + D;
    const deadline = workloadEnd + options.settleMs;

    // Faults, each a scheduled event of the run.
    // Each fault is a sequence of timed steps; sequences run side by side, so a slow restart delays
    // nothing but its own cycle.
    const sequences: Array<Array<[number, () => Promise<void>]>> = [];
    const outage: FaultWindow = { kind: 'object_store_outage', start: 0, end: 0 };
    const storeDown = async () => ((outage.start = Date.now()), faults.push(outage), await storeFaults.down(), say(`  ${mode}: object store down`));
    const storeUp = async () => {
      if (!outage.start || outage.end) return;
      await storeFaults.up();
      outage.end = storeBackAt = Date.now();
      say(`  ${mode}: object store back`);
    };
    const window = options.faults.outageWindow;
    if (options.faults.outage && window !== 'workload') {
      const feltBy = window?.feltBy ?? 0;
      const copiesFailed = async () =>
        Number(
          (await sql<{ n: number }>`SELECT count(*)::int AS n FROM events WHERE type = 'ReportFailed' AND data->>'stage' = 'replicate'`.execute(database.handle.db)).rows[0]?.n ?? 0,
        );
      sequences.push([
        [window?.startMs ?? 0.15 * D, storeDown],
        [
          window?.endMs ?? 0.4 * D,
          async () => {
            // On a loaded machine renders may stall through a short outage: keep the store down until it has been felt.
            while ((await copiesFailed()) < feltBy && Date.now() < workloadEnd) await sleep(250);
            await storeUp();
          },
        ],
      ]);
    }
    // Kill/restart cycles of random machines, each back on its own volume; a region keeps one live machine.
    const cycles = options.faults.kills ?? (options.faults.kill ? 1 : 0);
    const killCycles: Array<[number, () => Promise<void>]> = [];
    for (let c = 0; c < cycles; c++) {
      const [killAt, restartAt] = cycles === 1 ? [0.5 * D, 0.75 * D] : [D * (0.1 + (0.8 * c) / cycles), D * (0.1 + (0.8 * (c + 0.6)) / cycles)];
      let w: FaultWindow | undefined;
      let victim: SimMachine | undefined;
      killCycles.push([
        killAt,
        async () => {
          const live = machines.filter((m) => m.live);
          const spare = live.filter((m) => live.some((o) => o !== m && o.region === m.region));
          victim = prng.pick(spare.length > 0 ? spare : live);
          w = { kind: 'machine_killed', region: victim.region, machine: victim.machine, start: Date.now(), end: 0 };
          faults.push(w);
          await victim.kill();
          say(`  ${mode}: ${victim.machine} killed`);
        },
      ]);
      killCycles.push([restartAt, async () => (await victim!.start(), (w!.end = Date.now()), say(`  ${mode}: ${victim!.machine} restarted on its volume`))]);
    }
    if (killCycles.length > 0) sequences.push(killCycles);
    if (options.faults.dbDrop && database.handle.kind === 'postgres') {
      sequences.push([
        [
          0.3 * D,
          async () => {
            const w: FaultWindow = { kind: 'db_connections_dropped', start: Date.now(), end: 0 };
            faults.push(w);
            const r = await sql<{ n: number }>`SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
              WHERE datname = current_database() AND pid <> pg_backend_pid()`.execute(database.handle.db);
            w.end = Date.now() + 1000;
            say(`  ${mode}: dropped ${r.rows[0]?.n ?? 0} database connections`);
          },
        ],
      ]);
    }
    if (options.faults.outage && window === 'workload') await storeDown();
    const faultRun = Promise.all(
      sequences.map(async (steps) => {
        for (const [at, act] of steps) {
          await sleep(Math.max(0, t0 + at - Date.now()));
          await act().catch((err) => say(`  ${mode}: fault failed: ${String(err)}`));
        }
      }),
    );

    // The workload: reports arrive over the window, at most `concurrency` in flight.
    const arrivals = Array.from({ length: options.reports }, () => prng.next() * D).sort((a, b) => a - b);
    let active = 0;
    const oneReport = async (i: number, rng: Prng) => {
      const user = i % users.length;
      const client: Client = { edgeUrl: edge.url, token: users[user]! };
      const rows = 5 + rng.int(options.maxRows ?? 150);
      const expiring = mode !== 'legacy' && (options.expirePercent ?? 0) > 0 && rng.int(100) < options.expirePercent!;
      // 5 s after the window (or after now, for a request late under load): a retainFor must be positive.
      const retainForS = Math.max(5, Math.ceil((workloadEnd - Date.now()) / 1000) + 5);
      const input = {
        ...(expiring ? { retainFor: `PT${retainForS}S` } : {}),
        template: 'table',
        title: `Sim ${mode} #${i}`,
        // A retry after a lost answer (a machine killed mid-request, a timeout) must not make a second report.
        idempotencyKey: `sim-${options.seed}-${i}`,
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
          const f = err instanceof TypedFailure ? err : new TypedFailure('thrown', String(err), false);
          requestFailures.byReason[f.code] = (requestFailures.byReason[f.code] ?? 0) + 1;
          if (!f.typed) requestFailures.untyped++;
          if (a > 20) throw err;
          await sleep(200 * Math.min(8, 2 ** a));
        }
      }
      if (!reportId) return;
      const entry: (typeof requested)[number] = { reportId, user, at, ...(expiring ? { expiresAt: at + retainForS * 1000 } : {}) };
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
            // A download after the expiry its client asked for is not a failure: the report is gone as asked.
            if (!attempt.ok && attempt.reason === 'GONE' && entry.expiresAt !== undefined && Date.now() >= entry.expiresAt - 1000) return;
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

    const workloadDone = Date.now();

    // Every machine live, the object store up.
    for (const r of machines) await r.start();
    await storeUp();
    await storeFaults.up();
    const replication: ModeResult['replication'] = { checked: false, replicated: 0, notReplicated: [], afterWorkloadMs: null, backlogClearedAfterStoreBackMs: null, backlog: 0 };
    if (options.replicateAll && mode !== 'legacy') {
      // Every report copied to the object store, by the machine that holds it, within the settle bound.
      replication.checked = true;
      const ids = requested.filter((e) => e.expiresAt === undefined).map((e) => e.reportId);
      const notYet = async () =>
        ids.length === 0
          ? []
          : (await database.handle.db.selectFrom('report_status').select('report_id').where('report_id', 'in', ids).where('status', '<>', 'REPLICATED').execute()).map(
              (r) => r.report_id,
            );
      let left = await notYet();
      while (left.length > 0 && Date.now() < deadline) {
        await sleep(250);
        left = await notYet();
      }
      const now = Date.now();
      replication.notReplicated = left.slice(0, 20);
      replication.replicated = ids.length - left.length;
      if (left.length === 0) replication.afterWorkloadMs = now - workloadDone;
      const backlog = await sql<{ n: number; last: Date | string | null }>`
        SELECT count(*)::int AS n, max(r.recorded_at) AS last FROM events AS r
        WHERE r.type = 'ReportReplicated'
          AND EXISTS (SELECT 1 FROM events AS f WHERE f.stream_id = r.stream_id AND f.type = 'ReportFailed' AND f.data->>'stage' = 'replicate')`.execute(database.handle.db);
      replication.backlog = Number(backlog.rows[0]?.n ?? 0);
      const last = backlog.rows[0]?.last;
      if (last && storeBackAt !== null && left.length === 0) replication.backlogClearedAfterStoreBackMs = Math.max(0, new Date(last).getTime() - storeBackAt);
      say(`  ${mode}: ${replication.replicated}/${ids.length} replicated${left.length === 0 ? ` ${replication.afterWorkloadMs} ms after the workload` : ''}`);
    }

    // Expiring reports: EXPIRED, every copy purged (by the machine holding it, or any for the bucket), and GONE to their owner.
    const expiry: ModeResult['expiry'] = { requested: 0, purged: 0, gone: 0, notPurged: [], notGone: [] };
    const expiringEntries = requested.filter((e) => e.expiresAt !== undefined);
    if (expiringEntries.length > 0 && mode !== 'legacy') {
      const ids = expiringEntries.map((e) => e.reportId);
      expiry.requested = ids.length;
      const notPurged = async () =>
        (
          await database.handle.db
            .selectFrom('report_status as s')
            .select('s.report_id')
            .where('s.report_id', 'in', ids)
            .where((eb) => eb.or([eb('s.status', '<>', 'EXPIRED'), eb.exists(eb.selectFrom('report_locations as l').select('l.report_id').whereRef('l.report_id', '=', 's.report_id'))]))
            .execute()
        ).map((r) => r.report_id);
      let left = await notPurged();
      while (left.length > 0 && Date.now() < deadline) {
        await sleep(250);
        left = await notPurged();
      }
      expiry.notPurged = left.slice(0, 20);
      expiry.purged = ids.length - left.length;
      for (const entry of expiringEntries) {
        let attempt: Attempt | undefined;
        // An answer other than GONE is tried again a few times: under load the client may time out.
        for (let k = 0; k < 5 && (!attempt || (!attempt.ok && attempt.reason !== 'GONE')); k++) {
          if (k > 0) await sleep(500);
          attempt = await downloadQuire({ edgeUrl: edge.url, token: users[entry.user]! }, entry.reportId, entry.sha ?? '0'.repeat(64));
        }
        if (!attempt!.ok && attempt!.reason === 'GONE') expiry.gone++;
        else if (expiry.notGone.length < 10) expiry.notGone.push(`${entry.reportId}: ${attempt!.ok ? 'served' : `${attempt!.reason} ${attempt!.message ?? ''}`}`.trim());
      }
      say(`  ${mode}: ${expiry.purged}/${ids.length} expiring reports expired and purged, ${expiry.gone} answer GONE`);
    }

    // Every report from every machine (the edge's fly-force-instance-id): each answers createDownloadUrl and serves the bytes.
    const everyMachine = { checked: 0, ok: 0, failed: 0, failures: [] as string[] };
    const lostIds: string[] = [];
    const okSomewhere = new Set<string>();
    const queue = requested.filter((e) => e.expiresAt === undefined);
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let entry = queue.shift(); entry; entry = queue.shift()) {
          const state = await loadReportState(database.handle.db, entry.reportId);
          if (!state || !state.sha256 || state.status === 'FAILED' || state.status === 'LOST') continue;
          const client: Client = { edgeUrl: edge.url, token: users[entry.user]! };
          for (const { machine } of machines) {
            everyMachine.checked++;
            let attempt: Attempt | undefined;
            // A report still rendering at the end (a slow retry) gets a few seconds.
            for (let k = 0; k < 5; k++) {
              attempt = await (mode === 'legacy' ? downloadSeed : downloadQuire)(client, entry.reportId, state.sha256, { machine });
              if (attempt.ok || mode === 'legacy' || attempt.reason !== 'NOT_READY') break;
              await sleep(500);
            }
            if (attempt!.ok) {
              everyMachine.ok++;
              okSomewhere.add(entry.reportId);
            } else {
              everyMachine.failed++;
              if (everyMachine.failures.length < 10) everyMachine.failures.push(`${entry.reportId} from ${machine}: ${attempt!.reason} ${attempt!.message ?? ''}`.trim());
            }
          }
        }
      }),
    );
    for (const entry of requested) {
      if (entry.expiresAt !== undefined && mode !== 'legacy') continue;
      const state = await loadReportState(database.handle.db, entry.reportId);
      if (!state || state.status === 'FAILED' || state.status === 'LOST' || !state.sha256 || !okSomewhere.has(entry.reportId)) lostIds.push(entry.reportId);
    }
    // Verify the log at rest: every machine stopped, nothing appending any more.
    for (const r of machines) await r.stop().catch(() => undefined);
    const chains = await verifyLog(database.handle.db, { publicKeys: [sealKey.signer] });
    const events: ModeResult['events'] = { byType: {}, failedByStage: {}, givenUp: [] };
    for (const row of await sql<{ type: string; n: number }>`SELECT type, count(*)::int AS n FROM events GROUP BY type`.execute(database.handle.db).then((r) => r.rows)) {
      events.byType[row.type] = Number(row.n);
    }
    const failedRows = await sql<{ stream_id: string; stage: string; error: string; retry_at: string | null }>`
      SELECT stream_id, data->>'stage' AS stage, data->>'error' AS error, data->>'retryAt' AS retry_at FROM events WHERE type = 'ReportFailed'
      ORDER BY global_position`.execute(database.handle.db);
    for (const f of failedRows.rows) {
      events.failedByStage[f.stage] = (events.failedByStage[f.stage] ?? 0) + 1;
      if (f.retry_at === null && events.givenUp.length < 20) events.givenUp.push(`${f.stream_id} ${f.stage}: ${f.error}`.slice(0, 300));
    }

    // Classify failures.
    const inWindow = (at: number, kinds: FaultWindow['kind'][], slack = 2000) =>
      faults.find((w) => kinds.includes(w.kind) && at >= w.start - slack && at <= (w.end || Date.now()) + slack);
    const failed = attempts.filter((a) => !a.ok);
    const explain = (a: Attempt): string | null => {
      if (mode === 'legacy') return null;
      if (a.reason === 'object_store_unreachable') return inWindow(a.at, ['object_store_outage'], 1000) ? 'the object store is down' : null;
      if (a.typed && a.reason && TYPED_EXPLANATIONS[a.reason]) {
        if (a.reason === 'REGION_UNAVAILABLE' || a.reason === 'MACHINE_UNAVAILABLE' || a.reason === 'EDGE_UPSTREAM_ERROR') {
          return inWindow(a.at, ['machine_killed']) ? TYPED_EXPLANATIONS[a.reason]! : null;
        }
        return TYPED_EXPLANATIONS[a.reason]!;
      }
      const w = inWindow(a.at, ['db_connections_dropped', 'machine_killed', 'object_store_outage']);
      return w ? `untyped ${a.reason} during ${w.kind}` : null;
    };
    const byReason: Record<string, number> = {};
    const examples: string[] = [];
    const untypedSamples: string[] = [];
    let explained = 0;
    let recovered = 0;
    for (const a of failed) {
      byReason[a.reason ?? 'unknown'] = (byReason[a.reason ?? 'unknown'] ?? 0) + 1;
      const why = explain(a);
      if (why) explained++;
      else if (examples.length < 8) examples.push(`${a.reason}: ${a.message ?? ''} (${a.region ?? '?'})`.slice(0, 240));
      if (!a.typed && untypedSamples.length < 8) untypedSamples.push(`${a.reason}: ${a.message ?? ''} (${a.machine ?? a.region ?? '?'})`.slice(0, 240));
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
      regions: regionNames,
      machinesPerRegion: perRegion,
      wallMs: Date.now() - started,
      downloads: { attempted: attempts.length, succeeded: attempts.length - failed.length, byPath, failedByReason: byReason },
      requestFailures,
      replication,
      failures: { typed, untyped: failed.length - typed, explained, unexplained, recovered, unrecovered: failed.length - recovered, examples, untypedSamples },
      lost: lostIds.length,
      lostIds: lostIds.slice(0, 20),
      requestToFirstDownloadMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1) ?? null },
      everyMachine,
      hashChains: { streams: chains.streams, events: chains.events, breaks: chains.problemCount },
      events,
      faults: faults.map((w) => ({ ...w, start: w.start - t0, end: w.end ? w.end - t0 : 0 })),
      edge: { ...edge.stats },
      requestRetries,
      expiry,
      invariants: [],
      timeline,
    };
    result.invariants = [
      { name: 'every requested report was recorded', ok: requested.length === options.reports, detail: `${requested.length}/${options.reports}` },
      { name: 'no report lost', ok: lostIds.length === 0, detail: `lost ${lostIds.length}` },
      {
        name: 'every stored report downloads with its sha256 from every machine',
        ok: everyMachine.failed === 0,
        detail: `${everyMachine.ok}/${everyMachine.checked}`,
      },
      { name: 'every failure is typed and explained', ok: unexplained === 0, detail: `${unexplained} unexplained of ${failed.length}` },
      { name: 'every failed download succeeded later', ok: recovered === failed.length, detail: `${recovered}/${failed.length} recovered` },
      ...(replication.checked
        ? [{ name: 'every report REPLICATED', ok: replication.notReplicated.length === 0 && replication.replicated === requested.length, detail: `${replication.replicated}/${requested.length}${replication.afterWorkloadMs !== null ? `, ${replication.afterWorkloadMs} ms after the workload` : ''}` }]
        : []),
      ...(expiry.requested > 0
        ? [
            {
              name: 'every expiring report expired, every copy purged, GONE',
              ok: expiry.purged === expiry.requested && expiry.gone === expiry.requested,
              detail: `${expiry.purged}/${expiry.requested} purged, ${expiry.gone} GONE${expiry.notPurged.length ? `; not purged: ${expiry.notPurged.slice(0, 3).join(', ')}` : ''}${expiry.notGone.length ? `; not GONE: ${expiry.notGone.slice(0, 3).join('; ')}` : ''}`,
            },
          ]
        : []),
      ...(options.noFailedDownloads
        ? [{ name: 'every download succeeded at its first attempt', ok: failed.length === 0, detail: `${attempts.length - failed.length}/${attempts.length}` }]
        : []),
      { name: 'hash chains verify', ok: chains.ok, detail: `${chains.streams} streams, ${chains.events} events, ${chains.problemCount} problems${chains.firstProblem ? `; first: ${chains.firstProblem.kind} ${chains.firstProblem.message}` : ''}` },
    ];
    return result;
  } finally {
    await Promise.allSettled([...pending]);
    for (const r of machines) await r.stop().catch(() => undefined);
    await edge.close();
    await pool?.close();
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
