/**
 * npm run bench:subscriptions — 10,000 graphql-ws subscribers on one quire instance.
 *
 * quire runs in this process, wired like `quire serve` (production config), on PostgreSQL (a
 * scratch database, dropped at the end; embedded PGlite without DATABASE_URL). The clients run in
 * BENCH_PROCESSES child processes (bench/support/subscriber-process.ts), one socket and one
 * `reportStatus` subscription each, client i on report i % BENCH_REPORTS, with the token of that
 * report's owner (BENCH_USERS owners), so this process holds the server's side only:
 *
 *  1. server memory per socket and per subscription: process.memoryUsage() after a forced GC,
 *     before the sockets, after they are connected, after every subscription sent its first state;
 *  2. append → delivery (p50/p99/max), stamped with performance.timeOrigin + performance.now() in
 *     both processes (same host; the IPC-measured offset between the clocks is printed):
 *     (a) one at a time: a ReportFailed is appended to each report in turn, and the next append
 *         waits until every subscriber of the last one received it;
 *     (b) burst: one append to every report at once (every subscriber gets one delivery);
 *  3. after every client let go: the hub's listeners and open live subscriptions are back to zero;
 *  4. the transport floor (BENCH_FLOORS, reportStatus only): the same clients reconnect to a bare
 *     `ws` server writing the same frames, then to a bare graphql-ws server over a graphql-js
 *     schema (bench/support/transport-floor.ts), and the same cases run against each, so quire's
 *     p99 and CPU per delivery stand beside what writing the frames alone costs, same run.
 *
 *   BENCH_CLIENTS=10000 BENCH_REPORTS=100 BENCH_PROCESSES=2 BENCH_BURSTS=3 npm run bench:subscriptions
 *
 * BENCH_PROFILE=dir writes a CPU profile of the server process during the bursts and prints its
 * self time by place. The fd limit (`ulimit -n`) must exceed BENCH_CLIENTS + a few hundred in this
 * process and BENCH_CLIENTS / BENCH_PROCESSES in each child: it is checked and printed, not raised.
 */
import { execSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString, writeHeapSnapshot } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { openLiveSubscriptions } from '../src/api/graphql/live-subscription.js';
import { startBenchQuire } from './support/bench-quire.js';
import { reportStreamId } from '../src/reports/report-state.js';
import { requestReport } from '../src/reports/request-report.js';
import { printSelfTime, profiled } from './support/cpu-profile.js';
import { SubscriberFleet, type Delivery } from './support/subscriber-fleet.js';
import { now, type Operation } from './support/subscriber-process.js';
import { startTransportFloor, type FloorKind } from './support/transport-floor.js';

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 10_000);
const REPORTS = Number(process.env.BENCH_REPORTS ?? 100);
const USERS = Number(process.env.BENCH_USERS ?? 10);
const PROCESSES = Number(process.env.BENCH_PROCESSES ?? 2);
const OPERATION: Operation = process.env.BENCH_OPERATION === 'viewerReports' ? 'viewerReports' : 'reportStatus';
const BURSTS = Number(process.env.BENCH_BURSTS ?? 3);
/** Sockets (and subscriptions) each child opens at a time. */
const BATCH = Number(process.env.BENCH_BATCH ?? 200);
const PROFILE_DIR = process.env.BENCH_PROFILE;
/** BENCH_HEAP_SNAPSHOT=dir: heap snapshots of the server process with the sockets only, then with the subscriptions. */
const SNAPSHOT_DIR = process.env.BENCH_HEAP_SNAPSHOT;
const DEADLINE_MS = Number(process.env.BENCH_DEADLINE_MS ?? 10 * 60_000);
const TARGET_P99_MS = 100;
/** BENCH_FLOORS=ws,graphql-ws (default; empty: none): the baselines run after quire with the same clients (reportStatus only). */
const FLOORS = (process.env.BENCH_FLOORS ?? 'ws,graphql-ws').split(',').filter((k): k is FloorKind => k === 'ws' || k === 'graphql-ws');

const deadline = setTimeout(() => {
  console.error(`bench:subscriptions: still running after ${DEADLINE_MS} ms, giving up`);
  process.exit(1);
}, DEADLINE_MS);
deadline.unref();

// A real gc() for the memory figures, without a node flag in the npm script.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const memoryAfterGc = () => {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage();
};

const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '–');
const percentile = (sorted: number[], p: number): number =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
const fdLimit = Number(execSync('ulimit -n', { shell: '/bin/sh' }).toString().trim());
const kib = (bytes: number) => fmt(bytes / 1024, 1);

// ─── quire, wired like `quire serve` ─────────────────────────────────────────────────────────────
const { dataDir, log, config, backend, database, runtime, http } = await startBenchQuire('subscriptions', {
  // Nothing may append behind the bench's back.
  WORKERS_ENABLED: 'false',
});
const wsUrl = `${http.url.replace(/^http/, 'ws')}/graphql`;

console.log(
  `bench:subscriptions — node ${process.version}, ${backend === 'postgres' ? 'PostgreSQL' : 'PGlite (in memory)'}, ` +
    `${CLIENTS} graphql-ws clients (one socket + one ${OPERATION} subscription each) in ${PROCESSES} child processes, ` +
    `${REPORTS} reports of ${USERS} users, ulimit -n ${fdLimit}, load ${loadavg()}`,
);
if (fdLimit < CLIENTS + 500) console.log(`warning: ulimit -n ${fdLimit} is below ${CLIENTS + 500}: sockets past it will fail`);

// ─── reports, each owned by one of USERS users ───────────────────────────────────────────────────
const owners = Array.from({ length: USERS }, (_, u) => ({ id: `bench-user-${u}`, role: 'user' as const }));
const tokens = await Promise.all(owners.map((o) => runtime.userTokens.sign(o, 3 * 3600)));
const reports: Array<{ reportId: string; owner: number }> = [];
for (let r = 0; r < REPORTS; r++) {
  const { reportId } = await requestReport(
    runtime.store,
    { template: 'table', title: `Bench report ${r}`, params: { columns: [{ label: 'A', key: 'a' }], rows: [{ a: r }] } },
    owners[r % USERS]!,
  );
  reports.push({ reportId, owner: r % USERS });
}
const specs = Array.from({ length: CLIENTS }, (_, i) => {
  const report = reports[i % REPORTS]!;
  return { reportId: report.reportId, token: tokens[report.owner]! };
});
const reportsOf = new Map(tokens.map((token, u) => [token, reports.filter((r) => r.owner === u).map((r) => r.reportId)]));

// ─── 1. memory: before, sockets, subscriptions ───────────────────────────────────────────────────
const fleet = new SubscriberFleet(specs, PROCESSES, OPERATION, (spec) => (OPERATION === 'reportStatus' ? [spec.reportId] : reportsOf.get(spec.token)!));
const m0 = memoryAfterGc();
const connected = await fleet.connect(wsUrl, BATCH);
const m1 = memoryAfterGc();
if (SNAPSHOT_DIR) writeHeapSnapshot(join(SNAPSHOT_DIR, 'sockets.heapsnapshot'));
console.log(`\n${connected.ok}/${CLIENTS} sockets connected in ${fmt(connected.ms / 1000)} s (${connected.failed} failed${connected.firstError ? `: ${connected.firstError}` : ''}), load ${loadavg()}`);
const subscribed = await fleet.subscribe(BATCH);
// viewerReports sends nothing at once: subscribed once the server has opened every one.
for (const until = Date.now() + 60_000; openLiveSubscriptions() < subscribed.ok && Date.now() < until; ) await new Promise((resolve) => setTimeout(resolve, 50));
const m2 = memoryAfterGc();
if (SNAPSHOT_DIR) writeHeapSnapshot(join(SNAPSHOT_DIR, 'subscriptions.heapsnapshot'));
console.log(`${subscribed.ok}/${CLIENTS} subscriptions open${OPERATION === 'reportStatus' ? ' (first state received)' : ''} in ${fmt(subscribed.ms / 1000)} s (${subscribed.failed} failed${subscribed.firstError ? `: ${subscribed.firstError}` : ''}), load ${loadavg()}`);
console.log(`server: ${openLiveSubscriptions()} open live subscriptions, ${http.hub.listenerCount} event-hub listeners`);

const row = (what: string, a: NodeJS.MemoryUsage, b: NodeJS.MemoryUsage, n: number) =>
  `| ${what} | ${n} | ${kib((b.rss - a.rss) / n)} | ${kib((b.heapUsed - a.heapUsed) / n)} | ${kib((b.external - a.external) / n)} | ${kib((b.arrayBuffers - a.arrayBuffers) / n)} |`;
console.log(`\nserver process memory (after forced GC), KiB per unit:`);
console.log('| step | units | RSS | heapUsed | external | arrayBuffers |');
console.log('|---|---:|---:|---:|---:|---:|');
console.log(row('socket connected (graphql-ws acked)', m0, m1, connected.ok));
console.log(row(`+ ${OPERATION} subscription`, m1, m2, subscribed.ok));
console.log(row('socket + subscription', m0, m2, subscribed.ok));
console.log(`server RSS ${fmt(m0.rss / 2 ** 20, 0)} → ${fmt(m2.rss / 2 ** 20, 0)} MiB, heap ${fmt(m0.heapUsed / 2 ** 20, 0)} → ${fmt(m2.heapUsed / 2 ** 20, 0)} MiB`);

const offsets = await fleet.clockOffsets();
console.log(
  `\nclock: performance.timeOrigin + performance.now() in every process; child − server offset by IPC round trip: ` +
    offsets.map((o) => `${fmt(o.offsetMs, 3)} ± ${fmt(o.plusMinusMs, 3)} ms`).join(', '),
);

// ─── 2. append → delivery ────────────────────────────────────────────────────────────────────────
interface Summary {
  server: string;
  name: string;
  appends: number;
  deliveries: number;
  missed: number;
  p50: number;
  p99: number;
  max: number;
  /** The append call alone (until it resolved: committed), p50 / p99: the part of the latency that is not fan-out. */
  appendP50: number;
  appendP99: number;
  /** From the append call's return (committed) to each delivery: the fan-out's own share. */
  afterCommitP50: number;
  afterCommitP99: number;
  /** This (the server's) process's CPU time (user + system) during the case, per delivery. */
  cpuUsPerDelivery: number;
  load: string;
}
function summarize(server: string, name: string, appends: number, results: Array<Delivery & { appendMs: number }>, cpu: NodeJS.CpuUsage): Summary {
  const latencies = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const appendMs = results.map((r) => r.appendMs).sort((a, b) => a - b);
  const afterCommit = results.flatMap((r) => r.latencies.map((ms) => ms - r.appendMs)).sort((a, b) => a - b);
  return {
    server,
    name,
    appends,
    deliveries: latencies.length,
    missed: results.reduce((n, r) => n + r.missed, 0),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies.at(-1) ?? NaN,
    appendP50: percentile(appendMs, 50),
    appendP99: percentile(appendMs, 99),
    afterCommitP50: percentile(afterCommit, 50),
    afterCommitP99: percentile(afterCommit, 99),
    cpuUsPerDelivery: (cpu.user + cpu.system) / latencies.length,
    load: loadavg(),
  };
}

const summaries: Summary[] = [];
const perAppend = OPERATION === 'reportStatus' ? CLIENTS / REPORTS : CLIENTS / USERS;
const ONE_AT_A_TIME = `one at a time (${perAppend} subscribers per append)`;
const BURST = `burst: ${REPORTS} appends at once, ${REPORTS * perAppend} deliveries (×${BURSTS})`;

/**
 * The same cases against any server: `publish(reportId)` makes the next version of the report
 * (quire: appends a ReportFailed) and resolves once it is made (quire: committed); every
 * subscriber of that report is expected to receive it.
 */
async function measureDeliveries(server: string, startVersions: Map<string, number>, publish: (reportId: string, version: number) => Promise<void>): Promise<void> {
  const versions = new Map(startVersions);
  const appendAndDeliver = async (reportId: string): Promise<Delivery & { appendMs: number }> => {
    const version = versions.get(reportId)!;
    let t0 = NaN;
    const delivered = fleet.expect(reportId, version + 1, () => t0);
    t0 = now();
    await publish(reportId, version);
    const appendMs = now() - t0;
    versions.set(reportId, version + 1);
    return { ...(await delivered), appendMs };
  };
  // Warm-up: every report once (code paths compiled), not counted.
  for (const { reportId } of reports) await appendAndDeliver(reportId);
  {
    const results: Array<Delivery & { appendMs: number }> = [];
    const cpu = process.cpuUsage();
    for (const { reportId } of reports) results.push(await appendAndDeliver(reportId));
    summaries.push(summarize(server, ONE_AT_A_TIME, reports.length, results, process.cpuUsage(cpu)));
  }
  const bursts = async () => {
    const results: Array<Delivery & { appendMs: number }> = [];
    for (let b = 0; b < BURSTS; b++) {
      results.push(...(await Promise.all(reports.map((r) => appendAndDeliver(r.reportId)))));
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    return results;
  };
  const burstCpu = process.cpuUsage();
  const burstResults = PROFILE_DIR
    ? await profiled(bursts, join(PROFILE_DIR, `subscriptions-burst-${server.replace(/[^a-z0-9-]+/gi, '_')}.cpuprofile`)).then(
        ({ result, profile }) => (printSelfTime(`${server}: server process during the bursts`, profile), result),
      )
    : await bursts();
  summaries.push(summarize(server, BURST, REPORTS * BURSTS, burstResults, process.cpuUsage(burstCpu)));
}

await measureDeliveries('quire', new Map(reports.map((r) => [r.reportId, subscribed.versions.get(r.reportId) ?? 1])), async (reportId, version) => {
  await runtime.store.append(reportStreamId(reportId), version, [
    { type: 'ReportFailed', data: { stage: 'replicate', error: 'bench', attempt: 1, retryAt: new Date(Date.now() + 3600e3).toISOString() } },
  ] as never);
});

// ─── 3. let go: nothing left behind ──────────────────────────────────────────────────────────────
const { completedByServer } = await fleet.unsubscribe();
const settleBy = Date.now() + 30_000;
const openSockets = () => new Promise<number>((resolve) => http.server.getConnections((_err, n) => resolve(n)));
// Until the server has closed its side of every socket, not only ended every subscription.
while ((openLiveSubscriptions() > 0 || http.hub.listenerCount > 0 || (await openSockets()) > 0) && Date.now() < settleBy) await new Promise((resolve) => setTimeout(resolve, 100));
const m3 = memoryAfterGc();
console.log(
  `\nafter every client let go: ${openLiveSubscriptions()} open live subscriptions, ${http.hub.listenerCount} event-hub listeners, ${await openSockets()} sockets open, ` +
    `${completedByServer} completed by the server; server heap ${fmt(m3.heapUsed / 2 ** 20, 0)} MiB (${fmt(m0.heapUsed / 2 ** 20, 0)} before the clients), load ${loadavg()}`,
);

// ─── 4. the transport floor: the same clients, the same frames, no quire ─────────────────────────
const floorMemory: Array<{ kind: FloorKind; perSocket: NodeJS.MemoryUsage; n: number }> = [];
for (const kind of OPERATION === 'reportStatus' ? FLOORS : []) {
  const floor = await startTransportFloor(kind);
  const f0 = memoryAfterGc();
  const c = await fleet.connect(floor.url, BATCH);
  const s = await fleet.subscribe(BATCH);
  for (const until = Date.now() + 30_000; floor.subscriptions() < s.ok && Date.now() < until; ) await new Promise((resolve) => setTimeout(resolve, 50));
  const f1 = memoryAfterGc();
  const n = Math.max(1, s.ok);
  floorMemory.push({ kind, n, perSocket: { rss: (f1.rss - f0.rss) / n, heapUsed: (f1.heapUsed - f0.heapUsed) / n } as NodeJS.MemoryUsage });
  console.log(`\nfloor ${kind}: ${c.ok}/${CLIENTS} sockets, ${s.ok} subscriptions (${c.failed + s.failed} failed${c.firstError ?? s.firstError ? `: ${c.firstError ?? s.firstError}` : ''}), load ${loadavg()}`);
  await measureDeliveries(`floor: ${kind}`, new Map(reports.map((r) => [r.reportId, 1])), async (reportId) => floor.publish(reportId));
  await fleet.unsubscribe();
  await floor.close();
}

console.log(`\n| server | case | appends | deliveries | missed | append → delivery p50 / p99 / max ms | append call alone p50 / p99 ms | its return → delivery p50 / p99 ms | server CPU µs per delivery | load avg |`);
console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---|');
for (const s of summaries)
  console.log(`| ${s.server} | ${s.name} | ${s.appends} | ${s.deliveries} | ${s.missed} | ${fmt(s.p50)} / ${fmt(s.p99)} / ${fmt(s.max)} | ${fmt(s.appendP50)} / ${fmt(s.appendP99)} | ${fmt(s.afterCommitP50)} / ${fmt(s.afterCommitP99)} | ${fmt(s.cpuUsPerDelivery, 0)} | ${s.load} |`);
if (floorMemory.length > 0) {
  console.log(`\nserver memory per socket + subscription (after forced GC), KiB: quire RSS ${kib((m2.rss - m0.rss) / subscribed.ok)} / heap ${kib((m2.heapUsed - m0.heapUsed) / subscribed.ok)}` +
    floorMemory.map((f) => `; floor ${f.kind} heap ${kib(f.perSocket.heapUsed)}`).join('') +
    (floorMemory.length > 0 ? ' (the floors after quire: RSS does not shrink back, so only their heap is a figure)' : ''));
}
for (const s of summaries.filter((x) => x.server === 'quire'))
  console.log(`quire, ${s.name}: p99 ${fmt(s.p99)} ms (target < ${TARGET_P99_MS} ms at ${CLIENTS}: ${s.p99 < TARGET_P99_MS && s.missed === 0 ? 'met' : 'NOT met'})`);
for (const s of summaries.filter((x) => x.server !== 'quire')) {
  const q = summaries.find((x) => x.server === 'quire' && x.name === s.name)!;
  console.log(`quire / ${s.server}, ${s.name}: p99 ${fmt(q.p99 / s.p99, 2)}×, p50 ${fmt(q.p50 / s.p50, 2)}×, CPU per delivery ${fmt(q.cpuUsPerDelivery / s.cpuUsPerDelivery, 2)}× (${s.server}: p99 ${fmt(s.p99)} ms, ${fmt(s.cpuUsPerDelivery, 0)} µs)`);
}

await fleet.exit();
await http.close();
// runtime.close() would close the database that drop() closes (and, on PostgreSQL, drops).
runtime.revocations.close();
await database.drop();
rmSync(dataDir, { recursive: true, force: true });
