/**
 * npm run bench:api — the GraphQL API under load (PGlite in memory, or PostgreSQL when
 * DATABASE_URL is set: a scratch database, dropped at the end):
 *
 *  1. requests/s and p50/p99 latency at 50 concurrent keep-alive connections of `report(id)` and
 *     `createDownloadUrl` on STORED reports, against (a) a bare graphql-yoga answering a constant
 *     `{ hello }` (the transport) and (b) a bare graphql-yoga whose resolver runs report(id)'s
 *     one SQL statement as a prepared `pg` statement (the fair baseline), in the same run;
 *  2. `/files` against a plain static-file server over the same files, and one 200 MB file
 *     through each (the server process's RSS while it streams).
 *
 *   BENCH_SECONDS=5 BENCH_REPORTS=200 BENCH_CONNECTIONS=50 npm run bench:api
 *
 * The HTTP load comes from a child process (bench/support/http-load.ts): the servers do not share
 * their event loop with the client, only the machine's CPUs. Subscriptions: bench:subscriptions.
 */
import { closeSync, createReadStream, mkdirSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createSchema, createYoga } from 'graphql-yoga';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { printSelfTime, profiled } from './support/cpu-profile.js';
import { startLoadClient, type LoadResult as ClientResult } from './support/http-load.js';
import { loadReportState, selectReportWithLocations, toReportStateWithLocations } from '../src/reports/load-report.js';
import { startBenchQuire } from './support/bench-quire.js';
import { requestReport } from '../src/reports/request-report.js';
import { createWorkers } from '../src/workers/start-workers.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const REPORTS = Number(process.env.BENCH_REPORTS ?? 200);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
/** BENCH_PROFILE=dir: CPU-profile each quire case, write <dir>/<case>.cpuprofile and print self time by place. */
const PROFILE_DIR = process.env.BENCH_PROFILE;
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ')[0]!;
/** Hard stop for the whole run: nothing may hang the process. */
const DEADLINE_MS = Number(process.env.BENCH_DEADLINE_MS ?? 10 * 60_000);

const deadline = setTimeout(() => {
  console.error(`bench:api: still running after ${DEADLINE_MS} ms, giving up`);
  process.exit(1);
}, DEADLINE_MS);
deadline.unref();

const percentile = (sorted: number[], p: number): number =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '–');

interface LoadResult {
  name: string;
  latencies: number[];
  seconds: number;
  requests: number;
  errors: number;
  rps: number;
  p50: number;
  p99: number;
  /** CPU time of this (the servers') process, µs, while the case ran (its warm-up round included). */
  cpuMicros: number;
  /** Requests the case sent, its warm-up round included (what cpuMicros is divided by). */
  served: number;
}

const client = await startLoadClient();

/**
 * CONNECTIONS keep-alive connections from the load process, each sending one POST after the other
 * for `seconds`; every response must be 200 and contain `expect`, or it counts as an error.
 */
async function load(name: string, url: string, bodies: string[], headers: Record<string, string>, expect: string, seconds = SECONDS): Promise<LoadResult> {
  const cpu = process.cpuUsage();
  const r: ClientResult = await client.load({ name, method: 'POST', urls: [url], bodies, headers, expect, connections: CONNECTIONS, seconds });
  const used = process.cpuUsage(cpu);
  if (r.firstError) console.error(`  ${name}: ${r.firstError}`);
  return {
    name,
    latencies: r.latencies,
    seconds: r.seconds,
    requests: r.requests,
    errors: r.errors,
    rps: r.requests / r.seconds,
    p50: percentile(r.latencies, 50),
    p99: percentile(r.latencies, 99),
    cpuMicros: used.user + used.system,
    served: r.requests + CONNECTIONS,
  };
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
}

// ─── quire on embedded PGlite, wired like `quire serve` ──────────────────────────────────────────
const { dataDir, log, config, backend, database, runtime, http } = await startBenchQuire('api');
const quireUrl = `${http.url}/graphql`;
const token = await runtime.userTokens.sign({ id: 'bench-user', role: 'user' }, 3600);
const auth = { authorization: `Bearer ${token}` };

console.log(`bench:api — node ${process.version}, ${backend === 'postgres' ? 'PostgreSQL' : 'PGlite (in memory)'}, ${CONNECTIONS} connections, ${SECONDS} s per case, ${REPORTS} reports, load from a separate process`);

const actor = { id: 'bench-user', role: 'user' as const };
const reports: Array<{ reportId: string; streamId: string }> = [];
for (let i = 0; i < REPORTS; i++) {
  reports.push(
    await requestReport(runtime.store, {
      template: 'table',
      title: `Bench report ${i}`,
      params: { columns: [{ label: 'Region', key: 'region' }, { label: 'Revenue', key: 'revenue' }], rows: Array.from({ length: 20 }, (_, r) => ({ region: `r${r}`, revenue: r * 100 })) },
    }, actor),
  );
}
const renderStart = performance.now();
const workers = createWorkers(runtime);
await workers.render.drain();
await workers.stop();
const stored = await database.db.selectFrom('report_status').select(({ fn }) => fn.countAll<number>().as('n')).where('status', '=', 'STORED').executeTakeFirst().catch(() => undefined);
console.log(`rendered ${REPORTS} reports in ${fmt((performance.now() - renderStart) / 1000, 1)} s${stored ? ` (${Number(stored.n)} STORED)` : ''}`);

// ─── bare graphql-yoga: one constant field ────────────────────────────────────────────────────────
const bareYoga = createYoga({
  schema: createSchema({ typeDefs: 'type Query { hello: String }', resolvers: { Query: { hello: () => 'world' } } }),
  logging: false,
  graphiql: false,
});
const bareServer = createServer(bareYoga);
const bareUrl = await listen(bareServer);

// ─── the fair baseline: a bare yoga whose resolver runs report(id)'s one SQL statement ─────────────
// The statement quire runs for report(id) (report_status row + locations as a JSON array), compiled
// once by Kysely and sent as a named prepared statement through its own pg pool (same size as
// quire's) on the same database; on PGlite, the compiled query through the same connection.
// On PostgreSQL a second copy sends it unnamed (parsed and planned on every call, as quire did
// before its hot read was prepared): what preparing is worth on this machine, in the same run.
const reportSql = selectReportWithLocations(database.db).where('s.report_id', '=', '00000000-0000-0000-0000-000000000000').compile();
const fairPool = database.url ? new pg.Pool({ connectionString: database.url, max: 20 }) : undefined;
// A connection ended by the server (another session's pg_terminate_backend, the drop at the end) must not end the run.
fairPool?.on('error', (err) => console.error(`  yoga+pg pool: ${err.message}`));
const readReportRow = (named: boolean) => async (id: string) => {
  if (fairPool) return (await fairPool.query(named ? { name: 'bench_report', text: reportSql.sql, values: [id] } : { text: reportSql.sql, values: [id] })).rows[0];
  return (await database.db.executeQuery({ ...reportSql, parameters: [id] })).rows[0];
};
const rowYoga = (read: (id: string) => Promise<unknown>, options: { maxRequestBodySize?: false } = {}) =>
  createYoga({
    ...options,
    schema: createSchema({
      typeDefs: 'type Query { report(id: ID!): Report } type Report { reportId: String! status: String! title: String! locations: [Location!]! } type Location { kind: String! }',
      resolvers: {
        Query: {
          report: async (_: unknown, { id }: { id: string }) => {
            const row = (await read(id)) as { report_id: string; status: string; title: string; locations: Array<{ kind: string }> } | undefined;
            return row && { reportId: row.report_id, status: row.status, title: row.title, locations: row.locations };
          },
        },
      },
    }),
    logging: false,
    graphiql: false,
  });
const fairServer = createServer(rowYoga(readReportRow(true)));
const fairUrl = await listen(fairServer);
// The same baseline with yoga's own body limit off, as quire runs it (its HTTP server holds the limit):
// what that limit costs a bare yoga, in the same run.
const unlimitedServer = createServer(rowYoga(readReportRow(true), { maxRequestBodySize: false }));
const unlimitedUrl = await listen(unlimitedServer);
const unnamedServer = fairPool ? createServer(rowYoga(readReportRow(false))) : undefined;
const unnamedUrl = unnamedServer && (await listen(unnamedServer));
// The same row, mapped the way quire maps it, must come back: the baseline answers the same question.
toReportStateWithLocations((await readReportRow(true)(reports[0]!.reportId)) as never);

// ─── 1. HTTP load ─────────────────────────────────────────────────────────────────────────────────
const reportQuery = 'query Report($id: ID!) { report(id: $id) { reportId status title locations { kind } } }';
const downloadMutation = 'mutation Download($id: ID!) { createDownloadUrl(reportId: $id, ttlSeconds: 300) { __typename ... on MutationCreateDownloadUrlSuccess { data { url expiresAt source } } } }';

// Each case runs twice, in the order A B C D E E D C B A, and the two halves are merged: a load that
// drifts during the run (other work on the machine) then weighs on every case about equally.
const results = new Map<string, LoadResult & { loads: string[]; halves: number[] }>();
const runCase = async (key: string, run: () => Promise<LoadResult>) => {
  let r: LoadResult;
  if (!PROFILE_DIR) r = await run();
  else {
    const { result, profile } = await profiled(run, join(PROFILE_DIR, `${key}.cpuprofile`));
    printSelfTime(result.name, profile);
    r = result;
  }
  const seen = results.get(r.name);
  if (!seen) return void results.set(r.name, { ...r, loads: [loadavg()], halves: [r.rps] });
  const latencies = [...seen.latencies, ...r.latencies].sort((a, b) => a - b);
  const seconds = seen.seconds + r.seconds;
  results.set(r.name, {
    name: r.name,
    latencies,
    seconds,
    requests: latencies.length,
    errors: seen.errors + r.errors,
    rps: latencies.length / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    cpuMicros: seen.cpuMicros + r.cpuMicros,
    served: seen.served + r.served,
    loads: [...seen.loads, loadavg()],
    halves: [...seen.halves, r.rps],
  });
};
const reportBodies = reports.map(({ reportId }) => JSON.stringify({ query: reportQuery, variables: { id: reportId } }));
const downloadBodies = reports.map(({ reportId }) => JSON.stringify({ query: downloadMutation, variables: { id: reportId } }));
const cases: Array<[string, () => Promise<LoadResult>]> = [
  ['bare', () => load('bare yoga { hello }', bareUrl, [JSON.stringify({ query: '{ hello }' })], {}, '"world"', SECONDS / 2)],
  ['fair', () => load('bare yoga + pg report SQL', fairUrl, reportBodies, {}, '"STORED"', SECONDS / 2)],
  ['unlimited', () => load('bare yoga + pg report SQL, no yoga body limit', unlimitedUrl, reportBodies, {}, '"STORED"', SECONDS / 2)],
  ...(unnamedUrl ? [['unnamed', () => load('bare yoga + pg report SQL, unnamed', unnamedUrl, reportBodies, {}, '"STORED"', SECONDS / 2)] as [string, () => Promise<LoadResult>]] : []),
  ['report', () => load('quire report(id)', quireUrl, reportBodies, auth, '"STORED"', SECONDS / 2)],
  ['download', () => load('quire createDownloadUrl', quireUrl, downloadBodies, auth, 'MutationCreateDownloadUrlSuccess', SECONDS / 2)],
];
// BENCH_CASES=fair,report runs only those cases (keys: bare, fair, unlimited, unnamed, report, download).
const only = process.env.BENCH_CASES?.split(',');
const chosen = only ? cases.filter(([key]) => only.includes(key)) : cases;
// BENCH_ROUNDS=n repeats the A…E E…A sequence n times (default 1).
for (let round = 0; round < Number(process.env.BENCH_ROUNDS ?? 1); round++) {
  for (const [key, run] of chosen) await runCase(round ? `${key}-${2 * round + 1}` : key, run);
  for (const [key, run] of [...chosen].reverse()) await runCase(`${key}-${2 * round + 2}`, run);
}
const result = (name: string) => results.get(name)!;
const none = { rps: NaN, p99: NaN } as LoadResult;
const [bare, fair, report, download] = [result('bare yoga { hello }') ?? none, result('bare yoga + pg report SQL') ?? none, result('quire report(id)') ?? none, result('quire createDownloadUrl') ?? none];
console.log('\n| case | requests | errors | req/s (1st, 2nd half) | p50 ms | p99 ms | vs constant yoga | vs yoga + pg | server CPU µs/req | load avg |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---|');
for (const r of results.values()) {
  console.log(`| ${r.name} | ${r.requests} | ${r.errors} | ${fmt(r.rps, 0)} (${r.halves.map((h) => fmt(h, 0)).join(', ')}) | ${fmt(r.p50, 1)} | ${fmt(r.p99, 1)} | ${fmt(r.rps / bare.rps, 2)} | ${fmt(r.rps / fair.rps, 2)} | ${fmt(r.cpuMicros / r.served, 0)} | ${r.loads.join(' → ')} |`);
}
const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');
console.log(`report(id) / yoga+pg = ${fmt(report.rps / fair.rps, 2)} (target ≥ 0.8: ${verdict(report.rps / fair.rps >= 0.8)}); p99 ${fmt(report.p99)} ms (< 50: ${verdict(report.p99 < 50)})`);
console.log(`createDownloadUrl / yoga+pg = ${fmt(download.rps / fair.rps, 2)} (target ≥ 0.7: ${verdict(download.rps / fair.rps >= 0.7)}); p99 ${fmt(download.p99)} ms (< 50: ${verdict(download.p99 < 50)})`);

// ─── 2. /files vs a plain static-file server over the same files ────────────────────────────────
// GET at CONNECTIONS connections on the reports' own files (one signed link each, as createDownloadUrl
// gives them), against node:http + fs.createReadStream serving the same paths; then one 200 MB file
// through each, sampling the servers' process's RSS while it streams (the client, in its own
// process, discards the bytes).
const FILE_MB = Number(process.env.BENCH_FILE_MB ?? 200);
if (FILE_MB > 0) {
  const links: Array<{ token: string; path: string }> = [];
  for (const { reportId } of reports) {
    const state = (await loadReportState(database.db, reportId))!;
    const location = state.locations.find((l) => l.kind === 'volume')!;
    const { token } = await runtime.fileTokens.sign(
      { reportId, key: location.key, location: 'volume', region: location.region, machine: location.machine, sha256: location.sha256, filename: 'r.pdf' },
      3600,
    );
    links.push({ token, path: runtime.volume.pathOf(location.key) });
  }
  const staticServer = createServer((req, res) => {
    const path = staticPaths.get(req.url ?? '');
    if (!path) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/pdf' });
    createReadStream(path).pipe(res);
  });
  const staticPaths = new Map(links.map((l) => [`/static/${l.token}`, l.path]));
  const staticBase = (await listen(staticServer)).replace('/graphql', '');
  const quireBase = http.url;
  const getLoad = async (name: string, urls: string[], seconds: number) => {
    const r = await client.load({ name, method: 'GET', urls, connections: CONNECTIONS, seconds });
    if (r.firstError) console.error(`  ${name}: ${r.firstError}`);
    return { name, rps: r.requests / r.seconds, mbps: r.bytes / 2 ** 20 / r.seconds, p99: percentile(r.latencies, 99), errors: r.errors, load: loadavg() };
  };
  const fileCases = [
    () => getLoad('static node:http + createReadStream', links.map((l) => `${staticBase}/static/${l.token}`), SECONDS / 2),
    () => getLoad('quire /files', links.map((l) => `${quireBase}/files/${l.token}`), SECONDS / 2),
  ];
  const fileRuns: Array<Awaited<ReturnType<typeof getLoad>>> = [];
  for (const run of [...fileCases, ...[...fileCases].reverse()]) fileRuns.push(await run());
  console.log('\n| /files case | req/s | MiB/s | p99 ms | errors | load |\n|---|---:|---:|---:|---:|---|');
  for (const r of fileRuns) console.log(`| ${r.name} | ${fmt(r.rps, 0)} | ${fmt(r.mbps, 1)} | ${fmt(r.p99, 1)} | ${r.errors} | ${r.load} |`);
  const rate = (name: string) => fileRuns.filter((r) => r.name === name).reduce((a, r) => a + r.rps, 0);
  console.log(`/files / static = ${fmt(rate('quire /files') / rate('static node:http + createReadStream'), 2)} (files of ~${Math.round(statSync(links[0]!.path).size / 1024)} KiB)`);

  // One big file: written straight to the volume, then streamed once through each server.
  const bigKey = `bench/big-${FILE_MB}mb.pdf`;
  const bigPath = runtime.volume.pathOf(bigKey);
  mkdirSync(dirname(bigPath), { recursive: true });
  const chunk = randomBytes(1 << 20);
  const fd = openSync(bigPath, 'w');
  for (let i = 0; i < FILE_MB; i++) writeSync(fd, chunk);
  closeSync(fd);
  const { token: bigToken } = await runtime.fileTokens.sign(
    { reportId: reports[0]!.reportId, key: bigKey, location: 'volume', region: config.region, machine: config.machineId, sha256: '', filename: 'big.pdf' },
    3600,
  );
  staticPaths.set(`/static/${bigToken}`, bigPath);
  for (const [name, url] of [
    ['static', `${staticBase}/static/${bigToken}`],
    ['quire /files', `${quireBase}/files/${bigToken}`],
  ] as const) {
    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const { bytes, seconds } = await client.fetch(url);
    clearInterval(sampler);
    console.log(`${FILE_MB} MB through ${name}: ${fmt(bytes / 2 ** 20 / seconds, 0)} MiB/s, RSS ${Math.round(before / 2 ** 20)} → peak ${Math.round(peak / 2 ** 20)} MiB (+${Math.round((peak - before) / 2 ** 20)}), load ${loadavg()}`);
  }
  rmSync(bigPath, { force: true });
  await new Promise<void>((resolve) => staticServer.close(() => resolve()));
  staticServer.closeAllConnections();
}

// ─── shut down ───────────────────────────────────────────────────────────────────────────────────
await client.close();
for (const server of [fairServer, unlimitedServer]) {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
}
if (unnamedServer) {
  await new Promise<void>((resolve) => unnamedServer.close(() => resolve()));
  unnamedServer.closeAllConnections();
}
await fairPool?.end();
await http.close();
await new Promise<void>((resolve) => bareServer.close(() => resolve()));
bareServer.closeAllConnections();
await runtime.close();
// The runtime closed the database; on PostgreSQL the scratch database is dropped too.
if (backend === 'postgres') await database.drop();
rmSync(dataDir, { recursive: true, force: true });
