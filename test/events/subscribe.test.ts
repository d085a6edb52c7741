import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresNotifier } from '../../src/database/notifier.js';
import type { EventStore } from '../../src/events/event-store.js';
import { backends, openTestDatabase, type TestDatabase, testStore } from '../support/databases.js';
import { collect, waitFor } from '../support/collect.js';
import { newReportStream, requested } from '../support/fixtures.js';

describe.each(backends)('subscribe on %s', (kind) => {
  let database: TestDatabase;
  let store: EventStore;

  beforeAll(async () => {
    database = await openTestDatabase(kind);
    // A poll interval far beyond the test's waits: only NOTIFY (or a reconnect) can wake readers.
    store = testStore(database, { pollMs: 120_000 });
  });
  afterAll(() => database?.close());

  const appendNew = async () => {
    const s = newReportStream();
    return (await store.append(s.streamId, 'no_stream', [requested(s.reportId)])).events[0]!;
  };

  it('catches up from its checkpoint, then follows live, each event once', async () => {
    const start = await store.headCheckpoint();
    const earlier = [await appendNew(), await appendNew()];
    const controller = new AbortController();
    const live = collect(store.subscribe({ after: start, signal: controller.signal, batchSize: 1 }), controller);
    await waitFor(() => live.events.length === 2, 10_000, 'catch-up');
    const later = [await appendNew(), await appendNew(), await appendNew()];
    await waitFor(() => live.events.length === 5, 10_000, 'live events');
    await live.stop();
    expect(live.events.map((e) => e.eventId)).toEqual([...earlier, ...later].map((e) => e.eventId));

    // Resuming from the last delivered checkpoint delivers only what came after it.
    const resumedFrom = live.events[2]!.checkpoint;
    const again = new AbortController();
    const resumed = collect(store.subscribe({ after: resumedFrom, signal: again.signal }), again);
    await waitFor(() => resumed.events.length === 2, 10_000, 'resume');
    await resumed.stop();
    expect(resumed.events.map((e) => e.eventId)).toEqual(later.slice(1).map((e) => e.eventId));
  });

  if (kind === 'postgres') {
    it('a notified commit held back by an older running transaction is delivered soon after that ends, not at the next poll', async () => {
      const start = await store.headCheckpoint();
      const controller = new AbortController();
      const live = collect(store.subscribe({ after: start, signal: controller.signal }), controller);
      // An older transaction with an xid, still running: the safe read must not pass it.
      const holder = new pg.Client({ connectionString: database.url });
      await holder.connect();
      try {
        await holder.query('BEGIN');
        await holder.query('SELECT pg_current_xact_id()');
        const event = await appendNew();
        // NOTIFY has come and gone; the event is not safe to read while the holder runs.
        await new Promise((r) => setTimeout(r, 300));
        expect(live.events).toEqual([]);
        await holder.query('COMMIT');
        // pollMs is 120 s: only the held-back re-read can deliver it within the wait.
        await waitFor(() => live.events.length === 1, 10_000, 'the held-back event');
        expect(live.events.map((e) => e.eventId)).toEqual([event.eventId]);
      } finally {
        await holder.end();
        await live.stop();
      }
    });

    it('survives its LISTEN connection being killed and misses nothing', async () => {
      const listenerPids = async () =>
        (
          await sql<{ pid: number }>`
            SELECT pid FROM pg_stat_activity
            WHERE application_name = ${PostgresNotifier.applicationName} AND datname = current_database()`.execute(database.db)
        ).rows.map((r) => r.pid);

      const start = await store.headCheckpoint();
      const controller = new AbortController();
      const live = collect(store.subscribe({ after: start, signal: controller.signal }), controller);
      const first = await appendNew();
      await waitFor(() => live.events.length === 1, 10_000, 'the first event');

      const [before] = await listenerPids();
      expect(before).toBeTypeOf('number');
      // Kill the listener only: killing the pool's idle connections too raced the next append, which
      // could take one before pg had seen it die (CI: "terminating connection due to administrator command").
      const killed = await sql<{ killed: boolean }>`
        SELECT pg_terminate_backend(pid) AS killed FROM unnest(${await listenerPids()}::int[]) AS pid`.execute(database.db);
      expect(killed.rows.some((r) => r.killed)).toBe(true);

      // Appended while the listener is down: their notifications are lost.
      const during = [await appendNew(), await appendNew()];
      await waitFor(async () => (await listenerPids()).some((pid) => pid !== before), 10_000, 'the listener to reconnect');
      const after = await appendNew();

      await waitFor(() => live.events.length === 4, 10_000, 'every event after the reconnect');
      await new Promise((r) => setTimeout(r, 300));
      await live.stop();
      expect(live.events.map((e) => e.eventId)).toEqual([first, ...during, after].map((e) => e.eventId));
    });
  }
});
