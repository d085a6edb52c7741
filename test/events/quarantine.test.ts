import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyLog } from '../../src/audit/verify.js';
import { START } from '../../src/events/checkpoint.js';
import { EventHub } from '../../src/events/event-hub.js';
import { chainHash, GENESIS_HASH } from '../../src/events/hash-chain.js';
import type { RecordedEvent } from '../../src/events/recorded-event.js';
import { requestReport } from '../../src/reports/request-report.js';
import { collect, waitFor } from '../support/collect.js';
import { backends } from '../support/databases.js';
import { startTestRuntime, type TestRuntime } from '../support/runtime.js';

const alice = { id: 'alice', role: 'user' as const };
const tableParams = { columns: [{ label: 'A', key: 'a' }], rows: [{ a: 1 }] };

/**
 * Rows no reader of this version can read — one written by a newer version during a rolling
 * deploy (a schema version from the future, correctly hashed) and a bad row — inserted by the
 * database's superuser past the store. Every global reader must skip them and go on.
 */
describe.each(backends)('quarantining unreadable events on %s', (kind) => {
  let runtime: TestRuntime;
  let hub: EventHub;
  const seen: RecordedEvent[] = [];

  beforeAll(async () => {
    runtime = await startTestRuntime(kind);
    hub = new EventHub(runtime.store, runtime.log);
    await hub.start();
    hub.onAny((e) => seen.push(e));
  });
  afterAll(async () => {
    await hub?.stop();
    await runtime?.close();
  });

  async function asSuperuser(statement: string, values: unknown[]): Promise<void> {
    if (kind === 'postgres') {
      const client = new pg.Client({ connectionString: runtime.database.url });
      await client.connect();
      try {
        await client.query(statement, values);
      } finally {
        await client.end();
      }
      return;
    }
    // PGlite has one role, the superuser.
    const parts = statement.split(/\$\d+/);
    await sql.join(parts.map((p, i) => (i < values.length ? sql`${sql.raw(p)}${values[i]}` : sql.raw(p))), sql``).execute(runtime.database.db);
  }

  async function insertRow(row: { streamId: string; type: string; schemaVersion: number; data: unknown; hash?: string }): Promise<void> {
    const eventId = randomUUID();
    const recordedAt = new Date(Math.floor(Date.now()));
    const metadata = { region: 'iad', machine: 'iad-2', actor: 'alice' };
    const hash =
      row.hash ??
      chainHash(GENESIS_HASH, { eventId, streamId: row.streamId, streamVersion: 1, type: row.type, schemaVersion: row.schemaVersion, data: row.data, metadata, recordedAt });
    await asSuperuser(
      `INSERT INTO events (event_id, stream_id, stream_version, type, schema_version, data, metadata, recorded_at, prev_hash, hash)
       VALUES ($1, $2, 1, $3, $4, $5::jsonb, $6::jsonb, $7, $8, $9)`,
      [eventId, row.streamId, row.type, row.schemaVersion, JSON.stringify(row.data), JSON.stringify(metadata), recordedAt.toISOString(), GENESIS_HASH, hash],
    );
  }

  it('skips them everywhere, keeps serving the rest, counts them once, and audit verify names them', async () => {
    const controller = new AbortController();
    const tail = collect(runtime.store.subscribe({ after: START, signal: controller.signal }), controller);

    const before = await requestReport(runtime.store, { template: 'table', title: 'Before', params: tableParams }, alice);
    await waitFor(() => seen.some((e) => e.streamId === before.streamId), 20_000, 'the hub to deliver the first event');

    const future = `report-${randomUUID()}`;
    const future2 = randomUUID();
    await insertRow({
      streamId: future,
      type: 'ReportRequested',
      schemaVersion: 99,
      data: { reportId: future2, template: 'table', title: 'From the future', params: {}, owner: 'alice', priority: 'high' },
    });
    const bad = `report-${randomUUID()}`;
    await insertRow({ streamId: bad, type: 'ReportRendered', schemaVersion: 1, data: { nonsense: true }, hash: 'f'.repeat(64) });

    const after = await requestReport(runtime.store, { template: 'table', title: 'After', params: tableParams }, alice);
    // The hub and a subscription from the start both get past the unreadable rows.
    await waitFor(() => seen.some((e) => e.streamId === after.streamId), 20_000, 'the hub to deliver the event after the bad rows');
    await waitFor(() => tail.events.some((e) => e.streamId === after.streamId), 20_000, 'the subscription to deliver the event after the bad rows');
    await tail.stop();
    expect(tail.events.map((e) => e.streamId)).toEqual([before.streamId, after.streamId]);
    expect(seen.map((e) => e.streamId)).toEqual([before.streamId, after.streamId]);

    // readAll skips them, says so, and its checkpoint moves past them.
    const page = await runtime.store.readAll(START, 10);
    expect(page.events.map((e) => e.streamId)).toEqual([before.streamId, after.streamId]);
    expect(page.quarantined.map((q) => [q.streamId, q.type])).toEqual([
      [future, 'ReportRequested'],
      [bad, 'ReportRendered'],
    ]);
    expect(page.quarantined[0]!.reason).toMatch(/v99 is newer than this code/);
    expect(page.quarantined[1]!.reason).toMatch(/does not match its schema/);
    expect((await runtime.store.readAll(page.checkpoint, 10)).events).toEqual([]);
    // The auditors' query too.
    expect((await runtime.store.queryEvents({ after: START, limit: 10 })).map((e) => e.streamId)).toEqual([before.streamId, after.streamId]);

    // Counted once per row, however many readers met it.
    const metric = await runtime.metrics.registry.getSingleMetric('quire_events_quarantined_total')!.get();
    expect(metric.values[0]!.value).toBe(2);

    // audit verify names both; the row from the future is intact (hashed right), the bad row is not.
    const report = await verifyLog(runtime.database.db);
    const unreadable = report.problems.filter((p) => p.kind === 'UNREADABLE');
    expect(unreadable.map((p) => p.streamId)).toEqual([future, bad]);
    expect(report.problems.filter((p) => p.streamId === future).map((p) => p.kind)).toEqual(['UNREADABLE']);
    expect(report.problems.filter((p) => p.streamId === bad).map((p) => p.kind)).toContain('CONTENT');
    expect(report.ok).toBe(false);

    // Every row is accounted for: delivered or quarantined.
    const rows = await runtime.database.db.selectFrom('events').select(['stream_id']).execute();
    expect(rows.length).toBe(page.events.length + page.quarantined.length);
    expect(rows.length).toBe(4);
  });
});
