/**
 * npm run bench:scale — how the cost of the hot queries grows with the log, on a scratch
 * PostgreSQL database beside DATABASE_URL. The log is grown in steps (BENCH_SCALE_STEPS, events in
 * total after each step, default 100000,500000,1000000; synthetic streams of 10 events written by
 * COPY with their report_status rows, one report in 100 left waiting for a render retry, see
 * support/generate-log.ts), then, at each size:
 *
 *  - append: 200 sequential appends of a new report through EventStore with the report
 *    projection (the service's path: INSERT + projection, one transaction), p50 / p99;
 *  - report(id): 500 `loadReportState` of random reports (the statement report(id) and
 *    createDownloadUrl run), p50 / p99;
 *  - catch-up: `readAll` of the 1,000 events after a checkpoint 1,000 events behind the head (what a
 *    subscription re-reads after a reconnect), p50 / p99 of 50;
 *  - work claim: `claimDue` (render stage, 10 at a time) rolled back, p50 / p99 of 50; and the same
 *    in a transaction that dropped migration 0014's index (rolled back too): the claim before 0014;
 *  - EXPLAIN (ANALYZE) of each of those statements: the plan's node types and indexes;
 *  - at the sizes in BENCH_SCALE_VERIFY_AT (default: every step): `verifyLog` of the whole log and
 *    `rebuildProjections`, timed, in seconds per million events.
 *
 * With BENCH_LOCK=<file> each timed phase (the latencies; verify; rebuild) holds `flock <file>`,
 * and generating does not, so other benchmarks wait only while this one measures.
 *
 * BENCH_KEEP=1 keeps the scratch database; BENCH_SCALE_DB=<its url> grows it on in a later run.
 *
 *   DATABASE_URL=… BENCH_SCALE_STEPS=1000000,10000000 BENCH_SCALE_VERIFY_AT=1000000,10000000 \
 *     BENCH_LOCK=/path/bench.lock npm run bench:scale
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import { verifyLog } from '../src/audit/verify.js';
import { openDatabase } from '../src/database/connect.js';
import { openScratchDatabase, type ScratchDatabase } from '../src/database/scratch-database.js';
import type { Database } from '../src/database/schema.js';
import { EventStore } from '../src/events/event-store.js';
import { readAll } from '../src/events/read.js';
import { checkpointOf, EVENT_COLUMNS, safeEvents } from '../src/events/safe-read.js';
import { createLogger } from '../src/log.js';
import { keyEncryptionKey, PersonalData } from '../src/reports/personal-data.js';
import { rebuildProjections } from '../src/projections/rebuild.js';
import { reportProjection } from '../src/projections/report-projection.js';
import { loadReportState, selectReportWithLocations } from '../src/reports/load-report.js';
import { claimDue } from '../src/workers/leases.js';
import { generate } from './support/generate-log.js';

/** Thrown to roll a claim back: the bench measures the statement, it takes no work. */
class Rollback extends Error {}

const numbers = (s: string) => s.split(',').map(Number);
const STEPS = numbers(process.env.BENCH_SCALE_STEPS ?? '100000,500000,1000000');
const VERIFY_AT = new Set(process.env.BENCH_SCALE_VERIFY_AT ? numbers(process.env.BENCH_SCALE_VERIFY_AT) : STEPS);
/** One report in this many waits for a render retry: the due backlog grows with the log. */
const RENDER_BACKLOG_EVERY = 100;
const log = createLogger('silent');
const adminUrl = process.env.DATABASE_URL;
if (!adminUrl) {
  console.error('bench:scale needs DATABASE_URL (a scratch database is created beside it)');
  process.exit(2);
}
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ')[0]!;
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
const utc = () => new Date().toISOString().slice(11, 19);

/** Runs `work` holding `flock BENCH_LOCK` (a child process holds it until its stdin closes). */
async function locked<T>(what: string, work: () => Promise<T>): Promise<T> {
  const file = process.env.BENCH_LOCK;
  if (!file) return work();
  const holder = spawn('flock', [file, 'sh', '-c', 'echo locked; read _'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = once(holder, 'exit');
  await new Promise<void>((resolve, reject) => {
    holder.stdout.once('data', () => resolve());
    exited.then(() => reject(new Error(`flock ${file} exited before taking the lock`)), reject);
  });
  console.error(`${utc()} lock taken: ${what}`);
  try {
    return await work();
  } finally {
    holder.stdin.end();
    await exited;
    console.error(`${utc()} lock released: ${what}`);
  }
}

async function timed(n: number, op: (i: number) => Promise<unknown>): Promise<{ p50: number; p99: number }> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await op(i);
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return { p50: percentile(ms, 50), p99: percentile(ms, 99) };
}
const pp = (l: { p50: number; p99: number }, digits = 1) => `${l.p50.toFixed(digits)} / ${l.p99.toFixed(digits)}`;

/** The plan's nodes, one line: node type and the index or relation it reads. */
async function plan(db: Kysely<Database>, query: { sql: string; parameters: readonly unknown[] }): Promise<string> {
  const { rows } = await db.executeQuery<{ 'QUERY PLAN': string }>({ sql: `EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ${query.sql}`, parameters: query.parameters, query: query as never, queryId: { queryId: 'explain' } as never });
  return rows
    .map((r) => r['QUERY PLAN'].trim().replace(/^->\s*/, ''))
    .filter((l) => /Scan|Join|Loop|Insert|Limit|Sort|LockRows|Result|Aggregate|CTE/.test(l) && !/^(Sort Key|Sort Method|Filter|Index Cond|Join Filter|Hash Cond|Rows Removed)/.test(l))
    .map((l) => l.replace(/ \(actual rows=(\d+) loops=(\d+)\)/, ' ×$1'))
    .join(' → ');
}

/** The render stage's claim candidates: claimDue's first statement, as it runs for render. */
const CLAIM_CANDIDATES = {
  sql: `SELECT s.report_id FROM report_status AS s WHERE s.status = 'REQUESTED' AND (s.next_attempt_at IS NULL OR s.next_attempt_at <= now())
        AND NOT EXISTS (SELECT 1 FROM work_leases AS l WHERE l.report_id = s.report_id AND l.stage = 'render' AND l.expires_at > now())
        ORDER BY s.requested_at LIMIT 10 FOR UPDATE OF s SKIP LOCKED`,
  parameters: [],
};
const claimRender = (db: Kysely<Database>) => claimDue(db, { stage: 'render', owner: 'bench', limit: 10, leaseMs: 60_000, due: sql<boolean>`s.status = 'REQUESTED'` });

/**
 * BENCH_SCALE_DB: the URL of a scratch database an earlier run left (BENCH_KEEP, or killed while it
 * waited for the lock): the log grows on from the events it holds.
 */
async function continued(url: string): Promise<ScratchDatabase> {
  const handle = await openDatabase({ kind: 'postgres', url, poolMax: 8, log });
  const name = new URL(url).pathname.slice(1);
  return {
    ...handle,
    url,
    async drop() {
      await handle.close();
      const admin = new pg.Client({ connectionString: adminUrl });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).finally(() => admin.end());
    },
  };
}

const database = process.env.BENCH_SCALE_DB ? await continued(process.env.BENCH_SCALE_DB) : await openScratchDatabase('postgres', { adminUrl, prefix: 'quire_bench_scale', poolMax: 8, log });
console.error(`${utc()} scratch database ${database.url}`);
const db = database.db;
const personalData = new PersonalData(keyEncryptionKey('bench: events in clear need no key'));
const store = new EventStore({ db, notifier: database.notifier, region: 'iad', log, personalData, projections: [reportProjection(personalData)] });
const rows: string[] = [];
const costs: string[] = [];
const plans: string[] = [];
try {
  let total = Number((await sql<{ n: string }>`SELECT count(*) AS n FROM events`.execute(db)).rows[0]!.n);
  for (const target of STEPS.filter((n) => n > total)) {
    let t0 = performance.now();
    await generate(db, target - total, { url: database.url, projection: true, renderBacklogEvery: RENDER_BACKLOG_EVERY });
    const generateS = (performance.now() - t0) / 1000;
    total = target;
    await sql`VACUUM ANALYZE events`.execute(db);
    await sql`VACUUM ANALYZE report_status`.execute(db);
    console.error(`${utc()} ${total} events, generated in ${generateS.toFixed(0)} s`);

    await locked(`latencies at ${total}`, async () => {
      const load0 = loadavg();
      const append = await timed(200, async () => {
        const reportId = randomUUID();
        await store.append(`report-${reportId}`, 'no_stream', [
          { type: 'ReportRequested', data: { reportId, template: 'table', title: 'Scale', params: { rows: 3 }, owner: 'user-1' } },
        ]);
      });
      const ids = (await sql<{ report_id: string }>`SELECT report_id FROM report_status TABLESAMPLE SYSTEM (1) LIMIT 500`.execute(db)).rows.map((r) => r.report_id);
      const read = await timed(500, (i) => loadReportState(db, ids[i % ids.length]!));
      // A checkpoint 1,000 events behind the safe head: what a reconnecting subscriber re-reads.
      const behind = await safeEvents(db, { newestFirst: true }).select(EVENT_COLUMNS).offset(1000).limit(1).executeTakeFirstOrThrow();
      const from = checkpointOf(behind);
      const catchUp = await timed(50, () => readAll(db, from, 1000));
      const claim = await timed(50, () =>
        db
          .transaction()
          .execute(async (trx) => {
            await claimRender(trx);
            throw new Rollback();
          })
          .catch((e) => {
            if (!(e instanceof Rollback)) throw e;
          }),
      );
      const due = (await sql<{ n: string }>`SELECT count(*) AS n FROM report_status WHERE status = 'REQUESTED'`.execute(db)).rows[0]!.n;
      // The same claims without migration 0014's index: dropped in a transaction that is rolled back.
      let claimBefore = { p50: NaN, p99: NaN };
      let claimBeforePlan = '';
      await db
        .transaction()
        .execute(async (trx) => {
          await sql`DROP INDEX report_status_claim_order_idx`.execute(trx);
          claimBefore = await timed(50, async () => {
            await sql`SAVEPOINT claim`.execute(trx);
            await claimRender(trx);
            await sql`ROLLBACK TO SAVEPOINT claim`.execute(trx);
          });
          claimBeforePlan = await plan(trx, CLAIM_CANDIDATES);
          throw new Rollback();
        })
        .catch((e) => {
          if (!(e instanceof Rollback)) throw e;
        });
      const load = `${load0}–${loadavg()}`;
      const line = `| ${total.toLocaleString('en-US')} | ${pp(append)} | ${pp(read, 2)} | ${pp(catchUp)} | ${pp(claim)} | ${pp(claimBefore)} | ${Number(due).toLocaleString('en-US')} | ${generateS.toFixed(0)} | ${load} |`;
      console.log(line);
      rows.push(line);

      const reportPlan = await plan(db, selectReportWithLocations(db).where('s.report_id', '=', ids[0]!).compile());
      const catchUpPlan = await plan(db, safeEvents(db, { after: from }).select(EVENT_COLUMNS).limit(1000).compile());
      const headPlan = await plan(db, db.selectFrom('events').select('hash').where('stream_id', '=', `report-${ids[0]}`).where('stream_version', '=', 1).compile());
      const claimPlan = await plan(db, CLAIM_CANDIDATES);
      const planLines = [`**${total.toLocaleString('en-US')} events**`, `- report(id): ${reportPlan}`, `- catch-up: ${catchUpPlan}`, `- append's head lookup: ${headPlan}`, `- claim candidates: ${claimPlan}`, `- claim candidates without 0014: ${claimBeforePlan}`];
      console.log(planLines.join('\n'));
      plans.push(...planLines);
    });

    if (VERIFY_AT.has(total)) {
      const verify = await locked(`verify at ${total}`, async () => {
        const load0 = loadavg();
        t0 = performance.now();
        const verified = await verifyLog(db, { cursor: true });
        const s = (performance.now() - t0) / 1000;
        if (!verified.ok) console.error(`verify at ${total}: ${verified.problemCount} problems, first ${JSON.stringify(verified.firstProblem)}`);
        return { s, events: verified.events, ok: verified.ok, load: `${load0}–${loadavg()}` };
      });
      const rebuild = await locked(`rebuild at ${total}`, async () => {
        const load0 = loadavg();
        t0 = performance.now();
        const rebuilt = await rebuildProjections(db, personalData);
        return { s: (performance.now() - t0) / 1000, events: rebuilt.events, load: `${load0}–${loadavg()}` };
      });
      await sql`VACUUM ANALYZE report_status`.execute(db);
      const line = `| ${total.toLocaleString('en-US')} | ${verify.s.toFixed(0)} | ${((verify.s / total) * 1e6).toFixed(1)}${verify.ok ? '' : ' (NOT ok)'} | ${verify.load} | ${rebuild.s.toFixed(0)} | ${((rebuild.s / rebuild.events) * 1e6).toFixed(1)} | ${rebuild.load} |`;
      console.log(line);
      costs.push(line);
    }
  }
} finally {
  console.log('\n| events | append p50 / p99 ms | report(id) p50 / p99 ms | catch-up 1,000 p50 / p99 ms | claim p50 / p99 ms | claim without 0014 p50 / p99 ms | due render backlog | generate s | load |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) console.log(r);
  console.log('\n| events | verify s | verify s per 1M | load | rebuild s | rebuild s per 1M | load |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of costs) console.log(r);
  console.log(`\n${plans.join('\n')}`);
  if (process.env.BENCH_KEEP) console.log(`kept ${database.url}`);
  else await database.drop();
}
