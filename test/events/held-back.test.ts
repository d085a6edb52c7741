import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventStore } from '../../src/events/event-store.js';
import { readAll } from '../../src/events/read.js';
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
