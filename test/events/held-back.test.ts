import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventStore } from '../../src/events/event-store.js';
import { readAll } from '../../src/events/read.js';
import { firstHeldBackEvent } from '../../src/events/safe-read.js';
import { Metrics } from '../../src/metrics.js';
import { scrapeSources } from '../../src/projections/scrape-sources.js';
import { backends, openTestDatabase, testStore, type TestDatabase } from '../support/databases.js';
import { newReportStream, requested } from '../support/fixtures.js';
import { untilAllSafe } from '../support/safe-log.js';

/** The gauge's value in a scrape of `metrics`. */
async function heldBackSeconds(metrics: Metrics): Promise<number> {
  const text = await metrics.registry.getSingleMetricAsString('quire_events_held_back_seconds');
  return Number(/^quire_events_held_back_seconds (\S+)$/m.exec(text)![1]);
}

describe.each(backends)('events held back from safe reads, on %s', (kind) => {
  let database: TestDatabase;
  let store: EventStore;
  let metrics: Metrics;

  beforeAll(async () => {
    database = await openTestDatabase(kind);
    store = testStore(database);
    metrics = new Metrics({ defaultMetrics: false });
    metrics.watchDatabase(scrapeSources(database.db));
  });
  afterAll(() => database?.close());

  it('none once every transaction older than the log has ended: the gauge reads 0', async () => {
    const s = newReportStream();
    await store.append(s.streamId, 'no_stream', [requested(s.reportId)]);
    await untilAllSafe(database.db);
    expect(await scrapeSources(database.db).oldestHeldBackEventAt()).toBeNull();
    expect(await heldBackSeconds(metrics)).toBe(0);
  });

});

// PGlite has one connection: no other transaction can be open beside quire's.
describe.runIf(process.env.DATABASE_URL)('events held back on postgres', () => {
  let database: TestDatabase;
  let store: EventStore;
  let metrics: Metrics;

  beforeAll(async () => {
    database = await openTestDatabase('postgres');
    store = testStore(database);
    metrics = new Metrics({ defaultMetrics: false });
    metrics.watchDatabase(scrapeSources(database.db));
  });
  afterAll(() => database?.close());

  it('an older open transaction holds a committed event back, and the gauge shows for how long', async () => {
    const older = new pg.Client({ connectionString: database.url });
    await older.connect();
    try {
      await older.query('BEGIN');
      await older.query('SELECT pg_current_xact_id()'); // an xid: now it is "running" for every snapshot
      const s = newReportStream();
      const { events } = await store.append(s.streamId, 'no_stream', [requested(s.reportId)]);
      await new Promise((r) => setTimeout(r, 1100));

      // Committed, but a safe read does not show it while the older transaction runs.
      const safe = await readAll(store.db);
      expect(safe.events.map((e) => e.eventId)).not.toContain(events[0]!.eventId);
      const oldest = await scrapeSources(database.db).oldestHeldBackEventAt();
      expect(oldest?.getTime()).toBeLessThanOrEqual(events[0]!.recordedAt.getTime());
      expect(await heldBackSeconds(metrics)).toBeGreaterThanOrEqual(1);

      await older.query('COMMIT');
      await untilAllSafe(database.db);
      expect(await heldBackSeconds(metrics)).toBe(0);
      expect((await readAll(store.db)).events.map((e) => e.eventId)).toContain(events[0]!.eventId);
    } finally {
      await older.end();
    }
  });
});

/** Every node of an EXPLAIN (FORMAT JSON) plan. */
function planNodes(node: Record<string, unknown>): Array<Record<string, unknown>> {
  return [node, ...((node.Plans as Array<Record<string, unknown>> | undefined) ?? []).flatMap(planNodes)];
}

// A database of its own: the rows below are held back for good (their transaction ids lie far
// ahead of the cluster's), which would stall every safe read of a shared test database.
describe.runIf(process.env.DATABASE_URL)('the held-back scrape on a long hold-back, on postgres', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await openTestDatabase('postgres');
    // 5,000 committed rows above the horizon, as a transaction left open for a while on a busy log
    // leaves behind; recorded_at decreases with position, so the first in commit order is not the
    // oldest by clock (the gauge reads the next row safe reads will deliver).
    await sql`
      INSERT INTO events (event_id, stream_id, stream_version, type, schema_version, data, metadata, recorded_at, prev_hash, hash, transaction_id)
      SELECT gen_random_uuid(), 'report-held-' || g, 1, 'ReportRequested', 2, '{}', '{}', now() - g * interval '1 ms', '', '',
             (pg_snapshot_xmin(pg_current_snapshot())::text::bigint + 1000000000 + g)::text::xid8
      FROM generate_series(1, 5000) g`.execute(database.db);
    await sql`ANALYZE events`.execute(database.db);
  });
  afterAll(() => database?.close());

  it('reads one row off the commit-order index, however many are held back', async () => {
    const first = await database.db.selectFrom('events').select('recorded_at').orderBy('transaction_id').limit(1).executeTakeFirstOrThrow();
    expect((await scrapeSources(database.db).oldestHeldBackEventAt())?.getTime()).toBe(new Date(first.recorded_at).getTime());
    const [row] = await firstHeldBackEvent(database.db).select('recorded_at').explain('json', sql`analyze`);
    const nodes = planNodes((row as { 'QUERY PLAN': Array<{ Plan: Record<string, unknown> }> })['QUERY PLAN'][0]!.Plan);
    const scans = nodes.filter((n) => n['Relation Name'] === 'events');
    expect(scans.map((n) => [n['Node Type'], n['Index Name']])).toEqual([['Index Scan', 'events_commit_order_idx']]);
    // min(recorded_at) over the held-back range read all 5,000 here.
    expect(scans[0]!['Actual Rows']).toBe(1);
  });
});
