import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, openTestDatabase, type TestDatabase, testStore } from '../support/databases.js';
import { newReportStream, requested } from '../support/fixtures.js';

describe.each(backends)('events table on %s is append-only', (kind) => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await openTestDatabase(kind);
    const store = testStore(database);
    const { reportId, streamId } = newReportStream();
    await store.append(streamId, 'no_stream', [requested(reportId)]);
  });
  afterAll(() => database?.close());

  const snapshot = async () =>
    (await sql<{ rows: string }>`SELECT string_agg(hash || type || data::text, ',' ORDER BY global_position) AS rows FROM events`.execute(database.db))
      .rows[0]!.rows;

  it.each([
    ['UPDATE', sql`UPDATE events SET type = 'ReportFailed'`, /append-only; UPDATE is not allowed/],
    ['UPDATE of no row', sql`UPDATE events SET type = 'x' WHERE false`, /append-only; UPDATE is not allowed/],
    ['DELETE', sql`DELETE FROM events`, /append-only; DELETE is not allowed/],
    ['TRUNCATE', sql`TRUNCATE events`, /append-only; TRUNCATE is not allowed/],
  ])('rejects %s with raw SQL and changes nothing', async (_, statement, message) => {
    const before = await snapshot();
    expect(before.length).toBeGreaterThan(0);
    await expect(statement.execute(database.db)).rejects.toThrow(message);
    expect(await snapshot()).toBe(before);
  });
});
