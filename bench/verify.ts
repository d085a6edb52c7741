/**
 * npm run bench:verify — `quire audit verify` over 1,000,000 events against a raw server-side
 * cursor read (DECLARE … CURSOR / FETCH) of the same rows and columns in the same order, in the
 * same run, on a scratch PostgreSQL database created beside DATABASE_URL.
 *
 * The log is generated quickly: hashes computed in JS with the real chainHash, rows inserted
 * 10,000 per statement (unnest), 20,000 report streams at a time each taken through 10 events
 * (ReportRequested, then failures/renders), so a stream's previous event is ~20,000 events back in
 * commit order. Then the log is sealed (10,000 events a seal) and verified: by COPY (the default on
 * PostgreSQL), then by FETCH through the cursor (the path before COPY) for comparison.
 *
 *   BENCH_EVENTS=1000000 npm run bench:verify     events (default 1,000,000)
 *   BENCH_KEEP=1                                  keep the scratch database
 *   BENCH_REUSE=quire_bench_verify_<hex>          measure a database an earlier run kept (no generate, no seal)
 *   BENCH_ROUNDS=3                                rounds of raw / verify / raw / FETCH / raw / rebuild / raw
 *   BENCH_ENCRYPTED=1                             requests encrypted as the service writes them (data keys), not in clear
 *   BENCH_VERIFY_WORKERS=2                        hash workers of both verifies (default: verifyLog's)
 */
import { sql, type Kysely } from 'kysely';
import { sealPending } from '../src/audit/seal.js';
import { generateSealKey } from '../src/audit/seal-key.js';
import { verifyLog, type VerifyReport } from '../src/audit/verify.js';
import { openScratchDatabase } from '../src/database/scratch-database.js';
import type { Database } from '../src/database/schema.js';
import { generate, PER_STREAM } from './support/generate-log.js';
import { EVENT_COLUMNS, safeEvents } from '../src/events/safe-read.js';
import { createLogger } from '../src/log.js';
import { keyEncryptionKey, PersonalData } from '../src/reports/personal-data.js';
import { rebuildProjections } from '../src/projections/rebuild.js';
import { readFileSync } from 'node:fs';
import { openDatabase, type DatabaseHandle } from '../src/database/connect.js';

const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ')[0]!;

const { signer } = generateSealKey();

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const workers = process.env.BENCH_VERIFY_WORKERS ? { workers: Number(process.env.BENCH_VERIFY_WORKERS) } : {};
const log = createLogger('silent');
const adminUrl = process.env.DATABASE_URL;
if (!adminUrl) {
  console.error('bench:verify needs DATABASE_URL (a scratch database is created beside it)');
  process.exit(2);
}

/** The floor: a server-side cursor over the same rows and columns, in commit order, nothing checked. */
async function rawCursorRead(db: Kysely<Database>): Promise<number> {
  return db.transaction().execute(async (trx) => {
    await sql`DECLARE raw NO SCROLL CURSOR FOR ${safeEvents(trx).select(EVENT_COLUMNS)}`.execute(trx);
    let n = 0;
    for (;;) {
      const { rows } = await sql`FETCH 2000 FROM raw`.execute(trx);
      if (rows.length === 0) return n;
      n += rows.length;
    }
  });
}

const rate = (n: number, ms: number) => Math.round((n / ms) * 1000).toLocaleString('en-US');
const formatRate = (n: number, ms: number) => `${rate(n, ms)} events/s`;

const reuse = process.env.BENCH_REUSE;
// The service encrypts every request's title and params (a data key a report): the rebuild then
// decrypts each request, one key query a batch. A fixed key, so that a kept log can be reused.
const encrypted = process.env.BENCH_ENCRYPTED === '1';
const personalData = new PersonalData(keyEncryptionKey('bench: the key-encryption key of bench:verify logs'));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) {
  console.error(`BENCH_ROUNDS must be a positive integer, got ${process.env.BENCH_ROUNDS}`);
  process.exit(2);
}
const scratch = reuse ? null : await openScratchDatabase('postgres', { adminUrl, prefix: 'quire_bench_verify', poolMax: 4, log });
const database = scratch ?? (await openKept(reuse!));
/** A database an earlier run kept (BENCH_KEEP=1): generating 1M events takes a minute each time. Never dropped here. */
async function openKept(name: string): Promise<DatabaseHandle> {
  if (!/^quire_bench_verify_[0-9a-f]+$/.test(name)) throw new Error(`BENCH_REUSE must name a database an earlier bench:verify kept, got ${name}`);
  const url = new URL(adminUrl!);
  url.pathname = `/${name}`;
  return openDatabase({ kind: 'postgres', url: url.toString(), poolMax: 4, log });
}

// A reused log's seals were signed by a key an earlier run threw away: those are its only problems.
const unknownKeyOnly = (r: VerifyReport) => r.problemCount === r.seals && r.problems.every((p) => p.message.endsWith('give its public key to check the signature'));
/** A figure's rate over the raw read's, the raw read timed as the mean of the reads just before and after it (same rows). */
const ratio = (rawBeforeMs: number, ms: number, rawAfterMs: number) => (rawBeforeMs + rawAfterMs) / 2 / ms;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

try {
  let generated = '';
  if (!reuse) {
    let t0 = performance.now();
    await generate(database.db, EVENTS, encrypted ? { personalData } : {});
    const generateMs = performance.now() - t0;
    await sql`VACUUM ANALYZE events`.execute(database.db);
    t0 = performance.now();
    const seals = await sealPending(database.db, { signer, maxEvents: 10_000 });
    const sealMs = performance.now() - t0;
    generated = [
      `generate + insert: ${(generateMs / 1000).toFixed(1)} s`,
      `seal:              ${(sealMs / 1000).toFixed(1)} s, ${seals.length} seals of ≤10,000 (${formatRate(EVENTS, sealMs)})`,
    ].join('\n');
  }
  const publicKeys = reuse ? [] : [signer];

  // Warm the cache once so neither side pays the first cold read.
  await rawCursorRead(database.db);
  const timed = async <T>(run: () => Promise<T>): Promise<{ result: T; ms: number; load: string }> => {
    const t0 = performance.now();
    const result = await run();
    return { result, ms: performance.now() - t0, load: loadavg() };
  };
  // Each round: raw, verify by COPY, raw, verify by FETCH, raw, rebuild, raw. Each figure's
  // baseline is the mean of the raw reads just before and just after it: the raw read itself
  // swings by ±20% between minutes on this machine.
  const table = ['| round | raw before | verify by COPY | ratio | raw | verify by FETCH | ratio | raw | rebuild | ratio | raw after | load |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|'];
  const ratios = { copy: [] as number[], fetch: [] as number[], rebuild: [] as number[] };
  let clean = true;
  let rss = 0;
  let events = 0;
  for (let round = 1; round <= ROUNDS; round++) {
    const raw1 = await timed(() => rawCursorRead(database.db));
    const copy = await timed(() => verifyLog(database.db, { cursor: true, publicKeys, ...workers }));
    const raw2 = await timed(() => rawCursorRead(database.db));
    const fetch = await timed(() => verifyLog(database.db, { cursor: true, copy: false, publicKeys, ...workers }));
    const raw3 = await timed(() => rawCursorRead(database.db));
    const rebuild = await timed(() => rebuildProjections(database.db, personalData));
    const raw4 = await timed(() => rawCursorRead(database.db));
    // The rebuild deleted every projection row: vacuumed between rounds (this server runs without
    // autovacuum), each round's rebuild deletes what one rebuild wrote, not what all before it did.
    await sql`VACUUM report_status, report_locations`.execute(database.db);
    rss = Math.max(rss, process.memoryUsage().rss);
    const n = (events = raw1.result);
    const ok = (r: VerifyReport) => (r.ok || (reuse !== undefined && unknownKeyOnly(r))) && r.events === n;
    if (!ok(copy.result) || !ok(fetch.result) || rebuild.result.events !== n || [raw2, raw3, raw4].some((r) => r.result !== n) || (!reuse && n !== EVENTS)) {
      console.error('verify did not come out clean:', JSON.stringify({ round, events: n, copy: copy.result.firstProblem, fetch: fetch.result.firstProblem }));
      clean = false;
    }
    const r = { copy: ratio(raw1.ms, copy.ms, raw2.ms), fetch: ratio(raw2.ms, fetch.ms, raw3.ms), rebuild: ratio(raw3.ms, rebuild.ms, raw4.ms) };
    ratios.copy.push(r.copy);
    ratios.fetch.push(r.fetch);
    ratios.rebuild.push(r.rebuild);
    table.push(
      `| ${round} | ${rate(n, raw1.ms)} | ${rate(n, copy.ms)} | ${r.copy.toFixed(2)} | ${rate(n, raw2.ms)} | ${rate(n, fetch.ms)} | ${r.fetch.toFixed(2)} | ${rate(n, raw3.ms)} | ${rate(n, rebuild.ms)} | ${r.rebuild.toFixed(2)} | ${rate(n, raw4.ms)} | ${[raw1, copy, fetch, rebuild].map((t) => t.load).join('–')} |`,
    );
  }
  if (!clean) process.exitCode = 1;
  console.log(
    [
      `events:            ${events.toLocaleString('en-US')} (${(events / PER_STREAM).toLocaleString('en-US')} streams × ${PER_STREAM})${encrypted ? ', requests encrypted' : ''}${reuse ? ` — reused ${reuse} (seal signatures not checked)` : ''}`,
      ...(generated ? [generated] : []),
      `rounds:            ${ROUNDS}, events/s; each ratio against the mean of the raw cursor reads just before and after it`,
      '',
      ...table,
      '',
      `median ratio:      verify by COPY ${median(ratios.copy).toFixed(2)}, by FETCH ${median(ratios.fetch).toFixed(2)}, rebuild ${median(ratios.rebuild).toFixed(2)} (target ≥ 0.6 each)`,
      `process RSS, max:  ${Math.round(rss / 2 ** 20)} MiB`,
    ].join('\n'),
  );
} finally {
  if (scratch && !process.env.BENCH_KEEP) await scratch.drop();
  else await database.close();
}
