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
 *   BENCH_VERIFY_WORKERS=2                        hash workers of both verifies (default: verifyLog's)
 */
import { sql, type Kysely } from 'kysely';
import { sealPending } from '../src/audit/seal.js';
import { generateSealKey } from '../src/audit/seal-key.js';
import { verifyLog } from '../src/audit/verify.js';
import { openScratchDatabase } from '../src/database/scratch-database.js';
import type { Database } from '../src/database/schema.js';
import { generate, PER_STREAM } from './support/generate-log.js';
import { EVENT_COLUMNS, safeEvents } from '../src/events/safe-read.js';
import { createLogger } from '../src/log.js';
import { keyEncryptionKey, PersonalData } from '../src/reports/personal-data.js';
import { rebuildProjections } from '../src/projections/rebuild.js';
import { readFileSync } from 'node:fs';

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

function formatRate(n: number, ms: number): string {
  return `${Math.round((n / ms) * 1000).toLocaleString('en-US')} events/s`;
}

const database = await openScratchDatabase('postgres', { adminUrl, prefix: 'quire_bench_verify', poolMax: 4, log });
try {
  let t0 = performance.now();
  await generate(database.db, EVENTS);
  const generateMs = performance.now() - t0;
  await sql`VACUUM ANALYZE events`.execute(database.db);

  t0 = performance.now();
  const seals = await sealPending(database.db, { signer, maxEvents: 10_000 });
  const sealMs = performance.now() - t0;

  // Warm the cache once so neither side pays the first cold read.
  await rawCursorRead(database.db);
  t0 = performance.now();
  const rawRows = await rawCursorRead(database.db);
  const rawMs = performance.now() - t0;

  t0 = performance.now();
  const report = await verifyLog(database.db, { cursor: true, publicKeys: [signer], ...workers });
  const verifyMs = performance.now() - t0;
  const verifyLoad = loadavg();
  // The same verify with its rows FETCHed through the cursor (session 5's path), same run.
  t0 = performance.now();
  const fetched = await verifyLog(database.db, { cursor: true, copy: false, publicKeys: [signer], ...workers });
  const fetchMs = performance.now() - t0;
  const fetchLoad = loadavg();
  t0 = performance.now();
  const rebuilt = await rebuildProjections(database.db, new PersonalData(keyEncryptionKey("bench: events in clear need no key")));
  const rebuildMs = performance.now() - t0;
  const rss = process.memoryUsage().rss;

  if (!report.ok || report.events !== EVENTS || rawRows !== EVENTS || !fetched.ok || fetched.events !== EVENTS) {
    console.error('verify did not come out clean:', JSON.stringify({ ok: report.ok, events: report.events, rawRows, first: report.firstProblem ?? fetched.firstProblem }));
    process.exitCode = 1;
  }
  const ratio = rawMs / verifyMs;
  const lines = [
    `events:            ${EVENTS.toLocaleString('en-US')} (${(EVENTS / PER_STREAM).toLocaleString('en-US')} streams × ${PER_STREAM})`,
    `generate + insert: ${(generateMs / 1000).toFixed(1)} s`,
    `seal:              ${(sealMs / 1000).toFixed(1)} s, ${seals.length} seals of ≤10,000 (${formatRate(EVENTS, sealMs)})`,
    `raw cursor read:   ${(rawMs / 1000).toFixed(2)} s (${formatRate(rawRows, rawMs)})`,
    `verify:            ${(verifyMs / 1000).toFixed(2)} s (${formatRate(report.events, verifyMs)}), ${report.seals} seals, ok=${report.ok}`,
    `verify / raw rate: ${ratio.toFixed(2)} (target ≥ 0.6), load average ${verifyLoad}`,
    `verify by FETCH:   ${(fetchMs / 1000).toFixed(2)} s (${formatRate(fetched.events, fetchMs)}); / raw rate ${(rawMs / fetchMs).toFixed(2)}, load average ${fetchLoad}`,
    `rebuild:           ${(rebuildMs / 1000).toFixed(2)} s (${formatRate(rebuilt.events, rebuildMs)}), ${rebuilt.reports.toLocaleString('en-US')} reports; rebuild / raw rate ${(rawMs / rebuildMs).toFixed(2)}, load average ${loadavg()}`,
    `process RSS after: ${Math.round(rss / 2 ** 20)} MiB`,
  ];
  console.log(lines.join('\n'));
} finally {
  if (process.env.BENCH_KEEP) await database.close();
  else await database.drop();
}
