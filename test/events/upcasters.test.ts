import { describe, expect, it } from 'vitest';
import { SCHEMA_VERSIONS } from '../../src/events/types.js';
import { upcast, UnknownSchemaVersionError } from '../../src/events/upcasters.js';
import { toRecordedEvent } from '../../src/events/read.js';
import type { EventRow } from '../../src/events/recorded-event.js';
import { foldReport } from '../../src/reports/report-state.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { chooseRoute } from '../../src/storage/resolve-download.js';

describe('upcasters', () => {
  it('lifts an old payload step by step to the current version', () => {
    const versions = { ...SCHEMA_VERSIONS, ReportFailed: 3 };
    const registry = {
      versions,
      upcasters: {
        ReportFailed: {
          1: (d: unknown) => ({ ...(d as object), attempt: 1 }),
          2: (d: unknown) => ({ ...(d as object), retryAt: null }),
        },
      },
    };
    expect(upcast('ReportFailed', 1, { stage: 'render', error: 'x' }, registry)).toEqual({
      stage: 'render',
      error: 'x',
      attempt: 1,
      retryAt: null,
    });
    expect(upcast('ReportFailed', 3, { a: 1 }, registry)).toEqual({ a: 1 });
  });

  it('refuses versions it cannot read', () => {
    expect(() => upcast('ReportFailed', 2, {})).toThrow(UnknownSchemaVersionError);
    expect(() => upcast('ReportFailed', 1, {}, { versions: { ...SCHEMA_VERSIONS, ReportFailed: 2 }, upcasters: {} })).toThrow(
      /no upcaster for ReportFailed v1/,
    );
  });
});

describe('volume events written before machines (v1)', () => {
  const row = (version: number, type: string, data: unknown, schemaVersion = 1, metadata: unknown = { region: 'iad', actor: null }): EventRow => ({
    global_position: version,
    event_id: `00000000-0000-4000-8000-00000000000${version}`,
    stream_id: 'report-5b0c3a52-2b0e-4c55-9d2f-3f0e7f3a1c11',
    stream_version: version,
    type,
    schema_version: schemaVersion,
    data,
    metadata,
    recorded_at: new Date('2026-01-01T00:00:00Z'),
    transaction_id: String(version),
    prev_hash: '0'.repeat(64),
    hash: '0'.repeat(64),
  });
  const reportId = '5b0c3a52-2b0e-4c55-9d2f-3f0e7f3a1c11';
  const sha = 'ab'.repeat(32);

  it('upcast to machine null and fold into a region-level copy that this region serves as before', () => {
    const events = [
      row(1, 'ReportRequested', { reportId, template: 'table', title: 'Old', params: {}, owner: 'alice' }),
      // v1: no machine in data or metadata.
      row(2, 'ReportStoredLocal', { region: 'iad', key: `reports/${reportId}/r.pdf`, sha256: sha, bytes: 10 }),
    ].map(toRecordedEvent);
    expect(events[1]).toMatchObject({ schemaVersion: 1, data: { region: 'iad', machine: null }, metadata: { region: 'iad' } });
    const state = foldReport(events)!;
    expect(state.status).toBe('STORED');
    expect(state.locations).toEqual([expect.objectContaining({ kind: 'volume', place: 'iad', region: 'iad', machine: null })]);
    const objectStore = { bucket: 'b' } as ObjectStore;
    // Any machine of iad serves it itself (region-level, as before); another region sends it to the region.
    expect(chooseRoute(state, { objectStore, region: 'iad', machine: 'm1', canReach: () => true })).toMatchObject({ source: 'LOCAL_VOLUME' });
    expect(chooseRoute(state, { objectStore, region: 'lax', machine: 'm2', canReach: (m, r) => m === null && r === 'iad' })).toMatchObject({
      source: 'REMOTE_VOLUME',
      location: { machine: null, region: 'iad' },
    });
    // A machine-level copy is never LOCAL_VOLUME on its sibling.
    const v2 = foldReport([events[0]!, toRecordedEvent(row(2, 'ReportStoredLocal', { region: 'iad', machine: 'm1', key: 'k.pdf', sha256: sha, bytes: 10 }, 2))])!;
    expect(v2.locations[0]).toMatchObject({ place: 'm1', machine: 'm1', region: 'iad' });
    expect(chooseRoute(v2, { objectStore, region: 'iad', machine: 'm2', canReach: () => true })).toMatchObject({ source: 'REMOTE_VOLUME' });
    expect(chooseRoute(v2, { objectStore, region: 'iad', machine: 'm1', canReach: () => true })).toMatchObject({ source: 'LOCAL_VOLUME' });
  });

  it('lifts v1 ReportMigrated and LegacyScanCompleted the same way', () => {
    expect(upcast('ReportMigrated', 1, { region: 'iad', bucket: 'b', key: 'k', sha256: sha, bytes: 1 })).toMatchObject({ machine: null });
    expect(upcast('LegacyScanCompleted', 1, { region: 'iad', checked: 1, found: 1, notHere: 0 })).toEqual({ region: 'iad', machine: null, checked: 1, found: 1, notHere: 0 });
  });
});
