import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/events/canonical-json.js';
import type { EventStore } from '../../src/events/event-store.js';
import { chainHash, GENESIS_HASH, hashedBody } from '../../src/events/hash-chain.js';
import { verifyLog } from '../../src/audit/verify.js';
import { untilAllSafe } from '../support/safe-log.js';
import { backends, openTestDatabase, type TestDatabase, testStore } from '../support/databases.js';
import { failed, newReportStream, requested } from '../support/fixtures.js';

describe('canonical JSON', () => {
  it('orders keys and formats numbers as RFC 8785 does', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } })).toBe('{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
    // The RFC's number examples.
    expect(canonicalJson([1e21, 1e-7, 0.000001, -0, 4.5, 2e-3, 333333333.3333333, 1e30])).toBe(
      '[1e+21,1e-7,0.000001,0,4.5,0.002,333333333.3333333,1e+30]',
    );
    expect(canonicalJson({ '€': 1, '\r': 2, '1': 3 })).toBe('{"\\r":2,"1":3,"€":1}');
  });

  it('writes the event body exactly as canonical JSON of the whole event would', () => {
    const fields = {
      eventId: '5b9f7d0e-4bde-4c47-9f0f-2b8a4a8e3c11',
      streamId: 'report-x',
      streamVersion: 12,
      type: 'ReportStoredLocal',
      schemaVersion: 1,
      data: { region: 'syd', key: 'k.pdf', sha256: 'a'.repeat(64), bytes: 10, '1': 'x', 'é': [1.5, null, { b: 1, a: 2 }] },
      metadata: { region: 'syd', actor: 'worker:syd', requestId: 'r-1' },
      recordedAt: new Date('2026-01-02T03:04:05.678Z'),
    };
    expect(hashedBody(fields)).toBe(canonicalJson({ ...fields, recordedAt: fields.recordedAt.toISOString() }));
  });

  it('gives the same hash for the same event whatever the key order', () => {
    const base = {
      eventId: '5b9f7d0e-4bde-4c47-9f0f-2b8a4a8e3c11',
      streamId: 'report-x',
      streamVersion: 1,
      type: 'ReportFailed',
      schemaVersion: 1,
      metadata: { region: 'iad', actor: null },
      recordedAt: new Date('2026-01-02T03:04:05.678Z'),
    };
    const a = chainHash(GENESIS_HASH, { ...base, data: { stage: 'render', error: 'e', attempt: 1, retryAt: null } });
    const b = chainHash(GENESIS_HASH, { ...base, data: { retryAt: null, attempt: 1, error: 'e', stage: 'render' } });
    expect(a).toBe(b);
    // The exact bytes a verifier in another process must hash: prev_hash, then the canonical text.
    const bytes =
      GENESIS_HASH +
      '{"data":{"attempt":1,"error":"e","retryAt":null,"stage":"render"},"eventId":"5b9f7d0e-4bde-4c47-9f0f-2b8a4a8e3c11",' +
      '"metadata":{"actor":null,"region":"iad"},"recordedAt":"2026-01-02T03:04:05.678Z","schemaVersion":1,' +
      '"streamId":"report-x","streamVersion":1,"type":"ReportFailed"}';
    expect(a).toBe(createHash('sha256').update(bytes, 'utf8').digest('hex'));
    expect(a).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe.each(backends)('hash chain on %s', (kind) => {
  let database: TestDatabase;
  let store: EventStore;

  beforeAll(async () => {
    database = await openTestDatabase(kind);
    store = testStore(database, { region: 'syd' });
  });
  afterAll(() => database?.close());

  it('recomputing every stream from its rows reproduces every stored hash', async () => {
    for (let i = 0; i < 12; i++) {
      const { reportId, streamId } = newReportStream();
      await store.append(streamId, 'no_stream', [requested(reportId, `user-${i}`)], { actor: `user-${i}` });
      for (let v = 1; v <= i % 4; v++) await store.append(streamId, v, [failed(v)]);
    }
    // Unicode, floats and nesting must survive the jsonb round trip byte-for-byte in the hash.
    const odd = newReportStream();
    await store.append(odd.streamId, 'no_stream', [
      {
        type: 'ReportRequested',
        data: { reportId: odd.reportId, template: 'table', title: 'Ünïcødé 报告 🚀', params: { f: 0.1 + 0.2, big: 1e21, neg: -5, nested: { z: [1, 'a'], a: null } }, owner: 'o' },
      },
    ]);
    // On a shared PostgreSQL other databases' transactions can hold events above the safe horizon a while.
    await untilAllSafe(database.db);
    const report = await verifyLog(database.db, { batchSize: 5 });
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.streams).toBe(13);
    expect(report.events).toBe(12 + (0 + 1 + 2 + 3) * 3 + 1);
  });

  it('finds an event rewritten behind the triggers’ back', async () => {
    const { reportId, streamId } = newReportStream();
    await store.append(streamId, 'no_stream', [requested(reportId), failed(1), failed(2)]);
    // Only the tables' owner or a superuser can do this (not the service's role); the chain is what makes it evident.
    await sql`ALTER TABLE events DISABLE TRIGGER events_append_only`.execute(database.db);
    try {
      await sql`UPDATE events SET data = jsonb_set(data, '{error}', '"rewritten"') WHERE stream_id = ${streamId} AND stream_version = 2`.execute(database.db);
    } finally {
      await sql`ALTER TABLE events ENABLE TRIGGER events_append_only`.execute(database.db);
    }
    await untilAllSafe(database.db);
    const report = await verifyLog(database.db);
    expect(report.ok).toBe(false);
    expect(report.firstProblem).toMatchObject({ kind: 'CONTENT', streamId, streamVersion: 2 });
  });
});
