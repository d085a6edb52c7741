import { describe, expect, it } from 'vitest';
import type { RecordedEvent } from '../../src/events/recorded-event.js';
import { COPY_RETRY_MAX_MS, decide, isRetryable, ReportExistsError, ReportMovedOnError, type ReportCommand, type RetryTiming } from '../../src/reports/decide.js';
import { ENCRYPTED_TITLE, ERASED } from '../../src/reports/personal-data.js';
import { ErasureUnsupportedError, GoneError, NotHeldError, NotRetryableError, ReportHeldError } from '../../src/reports/errors.js';
import type { ReportEvent } from '../../src/reports/report-events.js';
import { copiesToPurge, evolve, foldReport, hasFile, isExpiryDue, isGone, isStuckCopy, type ReportState } from '../../src/reports/report-state.js';

/**
 * The report aggregate without a database: given the events of a stream, when a command is
 * decided, then these events (or this refusal), and the state they fold to.
 */

const REPORT_ID = '6f1c2a52-58a4-4a52-9a4f-1d2b3c4d5e6f';
const STREAM = `report-${REPORT_ID}`;
const SHA = 'a'.repeat(64);
const OTHER_SHA = 'b'.repeat(64);
const T0 = Date.parse('2026-01-01T00:00:00Z');

/** The events as the log would record them: versions 1.., a second apart. */
function recorded(events: readonly ReportEvent[], from = 1): RecordedEvent[] {
  return events.map(
    (e, i) =>
      ({
        ...e,
        eventId: `e${from + i}`,
        streamId: STREAM,
        streamVersion: from + i,
        globalPosition: from + i,
        schemaVersion: 1,
        metadata: { region: 'iad', actor: 'test' },
        recordedAt: new Date(T0 + (from + i) * 1000),
        checkpoint: { transactionId: String(from + i), globalPosition: from + i },
        prevHash: '',
        hash: '',
      }) as RecordedEvent,
  );
}

function given(...events: ReportEvent[]): ReportState | null {
  return foldReport(recorded(events));
}

/** Decides the command on the state the events give, then folds what it decided on top. */
function when(events: ReportEvent[], command: ReportCommand): { decided: ReportEvent[]; then: ReportState } {
  const state = given(...events);
  const decided = decide(command, state);
  const then = recorded(decided, events.length + 1).reduce<ReportState | null>(evolve, state);
  return { decided, then: then! };
}

const requested: ReportEvent = {
  type: 'ReportRequested',
  data: { reportId: REPORT_ID, template: 'table', title: 'Q1', params: {}, owner: 'alice' },
};
/** As requestReport appends it: title and params in an envelope (the fold never opens it). */
const requestedEncrypted: ReportEvent = {
  type: 'ReportRequested',
  data: { reportId: REPORT_ID, template: 'table', owner: 'alice', personal: { v: 1, alg: 'A256GCM', iv: 'AAAAAAAAAAAAAAAA', ct: 'c2VjcmV0', tag: 'AAAAAAAAAAAAAAAAAAAAAA' } },
};
const rendered: ReportEvent & { type: 'ReportRendered' } = {
  type: 'ReportRendered',
  data: { sha256: SHA, bytes: 1200, pages: 3, renderMs: 40, rendererVersion: 'pdfmake-test' },
};
const storedHere: ReportEvent & { type: 'ReportStoredLocal' } = {
  type: 'ReportStoredLocal',
  data: { region: 'iad', machine: 'm1', key: `reports/${REPORT_ID}/${SHA}.pdf`, sha256: SHA, bytes: 1200 },
};
const replicated: ReportEvent & { type: 'ReportReplicated' } = {
  type: 'ReportReplicated',
  data: { bucket: 'quire', key: `reports/${REPORT_ID}/${SHA}.pdf`, sha256: SHA, bytes: 1200, etag: '"x"' },
};
const imported: ReportEvent = {
  type: 'LegacyReportImported',
  data: { reportId: REPORT_ID, legacyId: 'L-1', owner: 'bob', title: 'Old', filePath: '/data/old.pdf', createdAt: '2020-05-01T10:00:00.000Z' },
};
const foundOnM2: ReportEvent & { type: 'ReportStoredLocal' } = {
  type: 'ReportStoredLocal',
  data: { region: 'fra', machine: 'm2', key: 'legacy/old.pdf', sha256: SHA, bytes: 900 },
};
const migrated: ReportEvent = {
  type: 'ReportMigrated',
  data: { region: 'fra', machine: 'm2', bucket: 'quire', key: `reports/${REPORT_ID}/${SHA}.pdf`, sha256: SHA, bytes: 900 },
};

const timing: RetryTiming = { backoff: { maxAttempts: 3, baseMs: 1000 }, now: new Date(T0), jitter: 0.5 };
const failed = (stage: 'render' | 'store' | 'replicate' | 'migrate', attempt: number, retryAt: string | null): ReportEvent => ({
  type: 'ReportFailed',
  data: { stage, error: `${stage} broke`, attempt, retryAt },
});
const renderFailure = (over: Partial<Extract<ReportCommand, { type: 'RecordRenderFailure' }>> = {}): ReportCommand => ({
  type: 'RecordRenderFailure',
  stage: 'render',
  error: 'boom',
  permanent: false,
  outage: false,
  timing,
  ...over,
});
const copyFailure = (mismatch: boolean, kind: 'replicate' | 'migrate' = 'replicate'): ReportCommand => ({
  type: 'RecordCopyFailure',
  kind,
  error: mismatch ? 'the file has changed' : 'the store did not answer',
  mismatch,
  timing,
});

describe('evolve', () => {
  it('a request makes a REQUESTED report without a file', () => {
    const state = given(requested)!;
    expect(state).toMatchObject({ reportId: REPORT_ID, owner: 'alice', status: 'REQUESTED', sha256: null, bytes: null, pages: null, version: 1, locations: [] });
    expect(hasFile(state)).toBe(false);
  });

  it('rendered and stored on a volume: STORED, with the file’s hash, size and pages guaranteed', () => {
    const state = given(requested, rendered, storedHere)!;
    expect(state.status).toBe('STORED');
    if (!hasFile(state)) throw new Error('a STORED report has a file');
    // The type guarantees these: no null checks.
    const { sha256, bytes, pages } = state;
    expect({ sha256, bytes, pages }).toEqual({ sha256: SHA, bytes: 1200, pages: 3 });
    expect(state.locations).toMatchObject([{ kind: 'volume', place: 'm1', region: 'iad', machine: 'm1', sha256: SHA }]);
  });

  it('rendered straight to the object store (object mode): REPLICATED with only the object copy', () => {
    const state = given(requested, rendered, replicated)!;
    expect(state).toMatchObject({ status: 'REPLICATED', sha256: SHA, locations: [{ kind: 'object', place: 'quire', machine: null }] });
  });

  it('a volume copy recorded after the object copy leaves the report REPLICATED', () => {
    expect(given(requested, rendered, replicated, storedHere)!.status).toBe('REPLICATED');
  });

  it('a legacy file’s hash is learned late: IMPORTED without one, STORED with the first found, kept when another machine finds a different file', () => {
    expect(given(imported)).toMatchObject({ status: 'IMPORTED', template: 'legacy', sha256: null, requestedAt: new Date('2020-05-01T10:00:00.000Z') });
    const found = given(imported, foundOnM2)!;
    expect(found).toMatchObject({ status: 'STORED', sha256: SHA, bytes: 900, pages: null });
    const other: ReportEvent = { type: 'ReportStoredLocal', data: { ...foundOnM2.data, machine: 'm3', sha256: OTHER_SHA, bytes: 901 } };
    const twice = given(imported, foundOnM2, other)!;
    expect(twice).toMatchObject({ sha256: SHA, bytes: 900 });
    expect(twice.locations.map((l) => [l.place, l.sha256])).toEqual([
      ['m2', SHA],
      ['m3', OTHER_SHA],
    ]);
    expect(given(imported, foundOnM2, migrated)!.status).toBe('REPLICATED');
  });

  it('only a render or store failure with no retry left makes a report FAILED', () => {
    expect(given(requested, failed('render', 3, null))).toMatchObject({ status: 'FAILED', attempts: 3, failedStage: 'render', lastError: 'render broke', nextAttemptAt: null });
    expect(given(requested, failed('store', 1, null))!.status).toBe('FAILED');
    const retrying = given(requested, failed('render', 1, '2026-01-01T00:00:05.000Z'))!;
    expect(retrying).toMatchObject({ status: 'REQUESTED', attempts: 1, nextAttemptAt: new Date('2026-01-01T00:00:05.000Z') });
  });

  it('a copy failure never makes a report FAILED, even given up on: the file on the volume stays usable', () => {
    for (const stage of ['replicate', 'migrate'] as const) {
      const state = given(requested, rendered, storedHere, failed(stage, 1, null))!;
      expect(state).toMatchObject({ status: 'STORED', failedStage: stage, nextAttemptAt: null, sha256: SHA });
      expect(isStuckCopy(state)).toBe(true);
    }
  });

  it('a success clears the failure it recovered from', () => {
    const state = given(requested, rendered, storedHere, failed('replicate', 2, '2026-01-01T00:01:00.000Z'), replicated)!;
    expect(state).toMatchObject({ status: 'REPLICATED', attempts: 0, lastError: null, failedStage: null, nextAttemptAt: null });
  });

  it('a retry puts a FAILED report back to REQUESTED and a given-up copy back in the copy queue', () => {
    const retry: ReportEvent = { type: 'ReportRetryRequested', data: {} };
    expect(given(requested, failed('render', 3, null), retry)).toMatchObject({ status: 'REQUESTED', attempts: 0, lastError: null, failedStage: null });
    const copy = given(requested, rendered, storedHere, failed('replicate', 1, null), retry)!;
    expect(copy).toMatchObject({ status: 'STORED', attempts: 0, failedStage: null });
    expect(isStuckCopy(copy)).toBe(false);
  });

  it('forgetting the volume of the only copy makes the report LOST; another copy keeps it', () => {
    const forgotten: ReportEvent = { type: 'ReportVolumeForgotten', data: { machine: 'm1', region: 'iad', reason: 'destroyed' } };
    const lost = given(requested, rendered, storedHere, forgotten)!;
    expect(lost).toMatchObject({ status: 'LOST', locations: [], failedStage: 'lost', sha256: SHA });
    expect(lost.lastError).toMatch(/machine m1.*destroyed/);
    expect(given(requested, rendered, storedHere, replicated, forgotten)).toMatchObject({ status: 'REPLICATED', locations: [{ kind: 'object' }] });
  });

  it('an encrypted request folds without its title (nobody decrypted it here) and is marked erasable', () => {
    expect(given(requestedEncrypted)).toMatchObject({ status: 'REQUESTED', title: ENCRYPTED_TITLE, encrypted: true, owner: 'alice' });
    expect(given(requested)).toMatchObject({ title: 'Q1', encrypted: false });
    // Decrypted (PersonalData.reveal): the title beside the envelope, still erasable.
    const revealed = { ...requestedEncrypted, data: { ...requestedEncrypted.data, title: 'Q1', params: {} } } as ReportEvent;
    expect(given(revealed)).toMatchObject({ title: 'Q1', encrypted: true });
  });

  it('is idempotent: an event at or below the state’s version is ignored, and a second first event changes nothing', () => {
    const state = given(requested, rendered, storedHere)!;
    const [, again] = recorded([rendered, failed('render', 1, null)], 2);
    expect(evolve(state, again!)).toBe(state);
    expect(evolve(state, recorded([requested])[0]!)).toBe(state);
    expect(evolve(null, recorded([rendered], 2)[0]!)).toBeNull();
  });
});

describe('decide', () => {
  describe('request', () => {
    it('a new report: ReportRequested', () => {
      expect(decide({ type: 'RequestReport', data: requested.data as never }, null)).toEqual([requested]);
    });
    it('refuses a stream that exists', () => {
      expect(() => decide({ type: 'RequestReport', data: requested.data as never }, given(requested))).toThrow(ReportExistsError);
    });
  });

  describe('render succeeded', () => {
    const command: ReportCommand = { type: 'RecordRender', rendered: rendered.data, stored: storedHere };
    it('a REQUESTED report: ReportRendered and where the file went, together', () => {
      const { decided, then } = when([requested], command);
      expect(decided).toEqual([rendered, storedHere]);
      expect(then.status).toBe('STORED');
    });
    it('straight to the object store: REPLICATED', () => {
      expect(when([requested], { ...command, stored: replicated }).then.status).toBe('REPLICATED');
    });
    it('refused once the report moved on (another worker stored it, or no report at all)', () => {
      expect(() => decide(command, given(requested, rendered, storedHere))).toThrow(ReportMovedOnError);
      expect(() => decide(command, given(requested, failed('render', 3, null)))).toThrow(ReportMovedOnError);
      expect(() => decide(command, null)).toThrow(ReportMovedOnError);
    });
  });

  describe('render failed', () => {
    it('counts the attempt and schedules the next with backoff', () => {
      const { decided, then } = when([requested, failed('render', 1, '2026-01-01T00:00:01.000Z')], renderFailure());
      // Attempt 2 of 3: base 1s doubled, jitter 0.5 → exactly 2s.
      expect(decided).toEqual([{ type: 'ReportFailed', data: { stage: 'render', error: 'boom', attempt: 2, retryAt: '2026-01-01T00:00:02.000Z' } }]);
      expect(then).toMatchObject({ status: 'REQUESTED', attempts: 2 });
    });
    it('the last attempt gives up: FAILED', () => {
      const { decided, then } = when([requested, failed('render', 1, '2026-01-01T00:00:01.000Z'), failed('render', 2, '2026-01-01T00:00:03.000Z')], renderFailure());
      expect(decided[0]).toMatchObject({ data: { attempt: 3, retryAt: null } });
      expect(then.status).toBe('FAILED');
    });
    it('a job that can never render is not tried again', () => {
      const { decided, then } = when([requested], renderFailure({ permanent: true }));
      expect(decided[0]).toMatchObject({ data: { attempt: 1, retryAt: null } });
      expect(then.status).toBe('FAILED');
    });
    it('a store failure that gives up makes the report FAILED too', () => {
      const { then } = when([requested], renderFailure({ stage: 'store', permanent: true }));
      expect(then).toMatchObject({ status: 'FAILED', failedStage: 'store' });
    });
    it('an object-store outage is waited out, past the attempts the policy allows', () => {
      const { decided, then } = when([requested, failed('store', 5, '2026-01-01T00:00:01.000Z')], renderFailure({ stage: 'store', outage: true }));
      expect(decided[0]).toMatchObject({ data: { stage: 'store', attempt: 6, retryAt: expect.any(String) } });
      expect(then.status).toBe('REQUESTED');
    });
    it('keeps at most 4000 characters of the error', () => {
      expect(decide(renderFailure({ error: 'e'.repeat(5000) }), given(requested))[0]).toMatchObject({ data: { error: 'e'.repeat(4000) } });
    });
    it('refused once the report moved on', () => {
      expect(() => decide(renderFailure(), given(requested, rendered, storedHere))).toThrow(ReportMovedOnError);
    });
  });

  describe('abandoned render', () => {
    const abandoned = 'render abandoned: the process rendering it died';
    it('is an attempt at the render stage, with backoff', () => {
      const { decided, then } = when([requested], { type: 'RecordAbandonedRender', error: abandoned, timing });
      expect(decided).toEqual([
        { type: 'ReportFailed', data: { stage: 'render', error: abandoned, attempt: 1, retryAt: '2026-01-01T00:00:01.000Z' } },
      ]);
      expect(then.status).toBe('REQUESTED');
    });
    it('a report that kills every process rendering it ends FAILED', () => {
      const { then } = when([requested, failed('render', 1, '2026-01-01T00:00:01.000Z'), failed('render', 2, '2026-01-01T00:00:03.000Z')], {
        type: 'RecordAbandonedRender',
        error: abandoned,
        timing,
      });
      expect(then).toMatchObject({ status: 'FAILED', attempts: 3 });
    });
    it('refused for a report that is no longer REQUESTED', () => {
      expect(() => decide({ type: 'RecordAbandonedRender', error: abandoned, timing }, given(requested, failed('render', 3, null)))).toThrow(ReportMovedOnError);
    });
  });

  describe('copy succeeded', () => {
    it('replicate: a STORED report becomes REPLICATED', () => {
      const { decided, then } = when([requested, rendered, storedHere], { type: 'RecordCopy', copied: replicated });
      expect(decided).toEqual([replicated]);
      expect(then.locations.map((l) => l.kind).sort()).toEqual(['object', 'volume']);
    });
    it('migrate: a legacy file found on a volume becomes REPLICATED', () => {
      const { then } = when([imported, foundOnM2], { type: 'RecordCopy', copied: migrated as never });
      expect(then).toMatchObject({ status: 'REPLICATED', sha256: SHA });
    });
    it('refused for a report that is not STORED (copied already, or its file not found yet)', () => {
      expect(() => decide({ type: 'RecordCopy', copied: replicated }, given(requested, rendered, replicated))).toThrow(ReportMovedOnError);
      expect(() => decide({ type: 'RecordCopy', copied: migrated as never }, given(imported))).toThrow(ReportMovedOnError);
    });
  });

  describe('copy failed', () => {
    it('an unreachable store is retried for ever: never FAILED', () => {
      const { decided, then } = when([requested, rendered, storedHere, failed('replicate', 9, '2026-01-01T00:00:01.000Z')], copyFailure(false));
      expect(decided[0]).toMatchObject({ data: { stage: 'replicate', attempt: 10, retryAt: expect.any(String) } });
      expect(then).toMatchObject({ status: 'STORED', failedStage: 'replicate' });
    });
    it('an unreachable store is tried again at least every COPY_RETRY_MAX_MS, however many attempts failed', () => {
      const { decided } = when([requested, rendered, storedHere, failed('replicate', 20, '2026-01-01T00:00:01.000Z')], copyFailure(false));
      const retryAt = Date.parse((decided[0]!.data as { retryAt: string }).retryAt);
      expect(retryAt - T0).toBeLessThanOrEqual(COPY_RETRY_MAX_MS * 1.2);
      expect(retryAt - T0).toBeGreaterThan(0);
    });
    it('a file that does not match its record is given up on, and the report stays STORED (not FAILED)', () => {
      for (const kind of ['replicate', 'migrate'] as const) {
        const events = kind === 'migrate' ? [imported, foundOnM2] : [requested, rendered, storedHere];
        const { decided, then } = when(events, copyFailure(true, kind));
        expect(decided[0]).toMatchObject({ data: { stage: kind, attempt: 1, retryAt: null } });
        expect(then.status).toBe('STORED');
        expect(isStuckCopy(then)).toBe(true);
      }
    });
    it('refused once the copy was recorded', () => {
      expect(() => decide(copyFailure(false), given(requested, rendered, storedHere, replicated))).toThrow(ReportMovedOnError);
    });
  });

  describe('retry', () => {
    it('a FAILED report goes back to the render queue', () => {
      const { decided, then } = when([requested, failed('render', 3, null)], { type: 'RetryReport' });
      expect(decided).toEqual([{ type: 'ReportRetryRequested', data: {} }]);
      expect(then).toMatchObject({ status: 'REQUESTED', attempts: 0 });
    });
    it('a copy that was given up on goes back to the copy queue, with the reason recorded', () => {
      const { decided, then } = when([requested, rendered, storedHere, failed('replicate', 1, null)], { type: 'RetryReport', reason: 'file restored' });
      expect(decided).toEqual([{ type: 'ReportRetryRequested', data: { reason: 'file restored' } }]);
      expect(then).toMatchObject({ status: 'STORED', failedStage: null });
    });
    it.each<[string, ReportEvent[]]>([
      ['REQUESTED', [requested]],
      ['REQUESTED waiting for its next attempt', [requested, failed('render', 1, '2026-01-01T00:00:01.000Z')]],
      ['STORED', [requested, rendered, storedHere]],
      ['STORED with a copy still being retried', [requested, rendered, storedHere, failed('replicate', 1, '2026-01-01T00:00:01.000Z')]],
      ['REPLICATED', [requested, rendered, storedHere, replicated]],
      ['IMPORTED', [imported]],
      ['LOST', [requested, rendered, storedHere, { type: 'ReportVolumeForgotten', data: { machine: 'm1', region: 'iad', reason: 'gone' } }]],
    ])('refuses a report that is %s: NotRetryableError', (_, events) => {
      const state = given(...events)!;
      expect(isRetryable(state)).toBe(false);
      expect(() => decide({ type: 'RetryReport' }, state)).toThrow(NotRetryableError);
    });
  });

  describe('legacy file found', () => {
    it('records the copy on the machine that found it', () => {
      const { decided, then } = when([imported], { type: 'RecordLegacyFileFound', found: foundOnM2.data });
      expect(decided).toEqual([foundOnM2]);
      expect(then).toMatchObject({ status: 'STORED', sha256: SHA });
    });
    it('nothing when this machine’s copy is recorded already (a scan run twice)', () => {
      expect(decide({ type: 'RecordLegacyFileFound', found: foundOnM2.data }, given(imported, foundOnM2))).toEqual([]);
    });
    it('a second machine’s copy is recorded too', () => {
      expect(decide({ type: 'RecordLegacyFileFound', found: { ...foundOnM2.data, machine: 'm3' } }, given(imported, foundOnM2))).toHaveLength(1);
    });
  });

  describe('forget a volume', () => {
    const command: ReportCommand = { type: 'ForgetVolumeCopy', machine: 'm1', reason: 'destroyed' };
    it('removes the copy there, naming its region; the only copy gone: LOST', () => {
      const { decided, then } = when([requested, rendered, storedHere], command);
      expect(decided).toEqual([{ type: 'ReportVolumeForgotten', data: { machine: 'm1', region: 'iad', reason: 'destroyed' } }]);
      expect(then.status).toBe('LOST');
    });
    it('nothing for a report with no copy on that machine', () => {
      expect(decide(command, given(imported, foundOnM2))).toEqual([]);
      expect(decide(command, given(requested))).toEqual([]);
    });
  });

  describe('erase', () => {
    const erase: ReportCommand = { type: 'EraseReport', by: 'admin-1', reason: 'GDPR request #42' };
    it('an encrypted report at any stage: ReportErased with who and why; then ERASED, the title erased, its copies still to purge', () => {
      for (const events of [[requestedEncrypted], [requestedEncrypted, rendered, storedHere, replicated]]) {
        const { decided, then } = when(events, erase);
        expect(decided).toEqual([{ type: 'ReportErased', data: { by: 'admin-1', reason: 'GDPR request #42' } }]);
        expect(then).toMatchObject({ status: 'ERASED', title: ERASED, encrypted: true, lastError: null });
        expect(then.locations).toHaveLength(events.length === 1 ? 0 : 2);
      }
    });
    it('a failed report too', () => {
      const failed: ReportEvent = { type: 'ReportFailed', data: { stage: 'render', error: 'bad', attempt: 1, retryAt: null } };
      expect(when([requestedEncrypted, failed], erase).then.status).toBe('ERASED');
    });
    it('nothing new for a report erased already (a retried command)', () => {
      expect(decide(erase, given(requestedEncrypted, { type: 'ReportErased', data: { by: 'admin-1', reason: 'first' } }))).toEqual([]);
    });
    it('refuses a report whose title and params are in the log in clear: ErasureUnsupportedError, naming why', () => {
      expect(() => decide(erase, given(requested, rendered, storedHere))).toThrow(ErasureUnsupportedError);
      expect(() => decide(erase, given(requested))).toThrow(/requested before personal data was encrypted/);
      expect(() => decide(erase, given(imported, foundOnM2))).toThrow(/imported from the legacy application/);
    });
    it('held: refused until released (HELD), then erased', () => {
      const held: ReportEvent = { type: 'ReportHeld', data: { by: 'root', reason: 'litigation' } };
      expect(() => decide(erase, given(requestedEncrypted, rendered, held))).toThrow(ReportHeldError);
      const released: ReportEvent = { type: 'ReportReleased', data: { by: 'root' } };
      expect(when([requestedEncrypted, rendered, held, released], erase).then.status).toBe('ERASED');
    });
    it('a deleted (or expired) report is still erasable: its request is in the log until the key goes; the copies left are still purged', () => {
      const deleted: ReportEvent = { type: 'ReportDeleted', data: { by: 'alice' } };
      const { decided, then } = when([requestedEncrypted, rendered, storedHere, replicated, deleted], erase);
      expect(decided).toHaveLength(1);
      expect(then).toMatchObject({ status: 'ERASED', title: ERASED, goneAt: new Date(T0 + 5000) });
      expect(copiesToPurge(then).map((l) => l.place).sort()).toEqual(['m1', 'quire']);
      const purged = decide({ type: 'RecordPurge', copies: [{ kind: 'volume', place: 'm1' }] }, then);
      expect(purged).toEqual([{ type: 'ReportPurged', data: { location: { kind: 'volume', region: 'iad', machine: 'm1', key: storedHere.data.key } } }]);
    });
    it('an erased report is never rendered, copied, retried or found again', () => {
      const erased = [requestedEncrypted, rendered, storedHere, { type: 'ReportErased', data: { by: 'a', reason: 'r' } } as ReportEvent];
      expect(() => decide({ type: 'RecordRender', rendered: rendered.data, stored: storedHere }, given(requestedEncrypted, { type: 'ReportErased', data: { by: 'a', reason: 'r' } }))).toThrow(ReportMovedOnError);
      expect(() => decide({ type: 'RecordCopy', copied: replicated }, given(...erased))).toThrow(ReportMovedOnError);
      expect(() => decide({ type: 'RetryReport' }, given(...erased))).toThrow(GoneError);
      expect(() => decide({ type: 'DeleteReport', by: 'alice' }, given(...erased))).toThrow(GoneError);
      expect(() => decide({ type: 'RecordLegacyFileFound', found: foundOnM2.data }, given(...erased))).toThrow(ReportMovedOnError);
    });
  });

  describe('retention: expiry, deletion, legal hold, purge', () => {
    const EXPIRES = '2026-01-01T01:00:00.000Z';
    const expiring: ReportEvent = { type: 'ReportRequested', data: { reportId: REPORT_ID, template: 'table', title: 'Q1', params: {}, owner: 'alice', expiresAt: EXPIRES } };
    const before = new Date(Date.parse(EXPIRES) - 1);
    const after = new Date(Date.parse(EXPIRES));
    const expire = (now: Date): ReportCommand => ({ type: 'ExpireReport', now });
    const del: ReportCommand = { type: 'DeleteReport', by: 'alice' };
    const hold: ReportCommand = { type: 'HoldReport', by: 'root', reason: 'litigation' };
    const release: ReportCommand = { type: 'ReleaseReport', by: 'root' };
    const held: ReportEvent = { type: 'ReportHeld', data: { by: 'root', reason: 'litigation' } };
    const released: ReportEvent = { type: 'ReportReleased', data: { by: 'root' } };
    const deleted: ReportEvent = { type: 'ReportDeleted', data: { by: 'alice' } };
    const expired: ReportEvent = { type: 'ReportExpired', data: { at: EXPIRES } };
    const purge = (...places: [kind: 'volume' | 'object', place: string][]): ReportCommand => ({ type: 'RecordPurge', copies: places.map(([kind, place]) => ({ kind, place })) });

    it('a request carries its expiry into the state; without one the report is kept until deleted', () => {
      expect(given(expiring)).toMatchObject({ expiresAt: new Date(EXPIRES), held: false, goneAt: null });
      expect(given(requested)).toMatchObject({ expiresAt: null, held: false });
      expect(isExpiryDue(given(requested)!, new Date(8.64e15))).toBe(false);
    });

    it('expire: due once expiresAt has passed, and the report is EXPIRED with every copy still to purge', () => {
      const events = [expiring, rendered, storedHere, replicated];
      expect(isExpiryDue(given(...events)!, before)).toBe(false);
      const { decided, then } = when(events, expire(after));
      expect(decided).toEqual([{ type: 'ReportExpired', data: { at: EXPIRES } }]);
      expect(then).toMatchObject({ status: 'EXPIRED', goneAt: new Date(T0 + 5000), nextAttemptAt: null });
      expect(isGone(then)).toBe(true);
      expect(copiesToPurge(then).map((l) => l.place).sort()).toEqual(['m1', 'quire']);
    });
    it('expire: refused before expiresAt, and for a report without one (the sweep read an old row)', () => {
      expect(() => decide(expire(before), given(expiring))).toThrow(ReportMovedOnError);
      expect(() => decide(expire(after), given(requested))).toThrow(ReportMovedOnError);
    });
    it('expire: a report still rendering or failed expires too (nothing to purge)', () => {
      expect(when([expiring], expire(after)).then).toMatchObject({ status: 'EXPIRED', locations: [] });
      expect(when([expiring, failed('render', 3, null)], expire(after)).then).toMatchObject({ status: 'EXPIRED', failedStage: null, lastError: null });
    });
    it('expire: refused while held, and for a gone report', () => {
      expect(() => decide(expire(after), given(expiring, held))).toThrow(ReportHeldError);
      expect(() => decide(expire(after), given(expiring, deleted))).toThrow(GoneError);
      expect(() => decide(expire(after), given(expiring, expired))).toThrow(GoneError);
    });
    it('expire after release: the hold only delayed it', () => {
      expect(when([expiring, held, released], expire(after)).decided).toEqual([expired]);
    });

    it('delete: DELETED, whoever asked recorded, copies still to purge', () => {
      const { decided, then } = when([requested, rendered, storedHere], { type: 'DeleteReport', by: 'alice', reason: 'typo' });
      expect(decided).toEqual([{ type: 'ReportDeleted', data: { by: 'alice', reason: 'typo' } }]);
      expect(then).toMatchObject({ status: 'DELETED' });
      expect(copiesToPurge(then)).toHaveLength(1);
    });
    it('delete twice: the second is refused as gone', () => {
      expect(() => decide(del, given(requested, deleted))).toThrow(GoneError);
    });
    it('delete held: refused until released, then allowed', () => {
      expect(() => decide(del, given(requested, held))).toThrow(ReportHeldError);
      expect(when([requested, held, released], del).decided).toEqual([deleted]);
    });
    it('a gone report takes no other command: nothing renders, copies or retries it (a retry asked for is answered GONE)', () => {
      const gone = given(requested, deleted);
      expect(() => decide({ type: 'RecordRender', rendered: rendered.data, stored: storedHere }, gone)).toThrow(ReportMovedOnError);
      expect(() => decide({ type: 'RetryReport' }, gone)).toThrow(GoneError);
      expect(() => decide({ type: 'RecordCopy', copied: replicated }, given(requested, rendered, storedHere, deleted))).toThrow(ReportMovedOnError);
    });

    it('hold and release: the flag, and nothing else, changes', () => {
      const { decided, then } = when([requested, rendered, storedHere], hold);
      expect(decided).toEqual([held]);
      expect(then).toMatchObject({ held: true, status: 'STORED' });
      const back = when([requested, rendered, storedHere, held], release);
      expect(back.decided).toEqual([released]);
      expect(back.then).toMatchObject({ held: false, status: 'STORED' });
    });
    it('hold twice is refused (already held); release of a report not held is refused', () => {
      expect(() => decide(hold, given(requested, held))).toThrow(ReportHeldError);
      expect(() => decide(release, given(requested))).toThrow(NotHeldError);
      expect(() => decide(release, given(requested, held, released))).toThrow(NotHeldError);
    });
    it('hold or release a gone report: refused as gone', () => {
      expect(() => decide(hold, given(requested, deleted))).toThrow(GoneError);
      expect(() => decide(release, given(requested, expired))).toThrow(GoneError);
    });

    it('purge: one ReportPurged per copy named, each removed from the state; the report stays gone', () => {
      const events = [requested, rendered, storedHere, replicated, deleted];
      const { decided, then } = when(events, purge(['volume', 'm1'], ['object', 'quire']));
      expect(decided).toEqual([
        { type: 'ReportPurged', data: { location: { kind: 'volume', region: 'iad', machine: 'm1', key: storedHere.data.key } } },
        { type: 'ReportPurged', data: { location: { kind: 'object', bucket: 'quire', key: replicated.data.key } } },
      ]);
      expect(then).toMatchObject({ status: 'DELETED', locations: [] });
      expect(copiesToPurge(then)).toEqual([]);
    });
    it('purge: a copy purged already (a purge run twice) or never there is not recorded again', () => {
      const once = when([requested, rendered, storedHere, replicated, deleted], purge(['object', 'quire']));
      const events = [requested, rendered, storedHere, replicated, deleted, ...once.decided];
      expect(decide(purge(['object', 'quire'], ['volume', 'm9']), given(...events))).toEqual([]);
      expect(copiesToPurge(given(...events)!).map((l) => l.place)).toEqual(['m1']);
    });
    it('purge: refused for a report that is not gone (its copies are in use)', () => {
      expect(() => decide(purge(['volume', 'm1']), given(requested, rendered, storedHere))).toThrow(ReportMovedOnError);
    });
    it('a gone report’s copy on a forgotten volume leaves its copies to purge; the report stays gone (not LOST)', () => {
      const { decided, then } = when([requested, rendered, storedHere, deleted], { type: 'ForgetVolumeCopy', machine: 'm1', reason: 'destroyed' });
      expect(decided).toEqual([{ type: 'ReportVolumeForgotten', data: { machine: 'm1', region: 'iad', reason: 'destroyed' } }]);
      expect(then).toMatchObject({ status: 'DELETED', locations: [] });
    });
    it('a region-level copy (machine null) is purged by its region', () => {
      const regionLevel: ReportEvent = { type: 'ReportStoredLocal', data: { ...foundOnM2.data, machine: null } };
      const { decided, then } = when([imported, regionLevel, deleted], purge(['volume', 'fra']));
      expect(decided).toEqual([{ type: 'ReportPurged', data: { location: { kind: 'volume', region: 'fra', machine: null, key: 'legacy/old.pdf' } } }]);
      expect(then.locations).toEqual([]);
    });
  });
});

describe('completion webhooks', () => {
  const HOOK = 'https://hooks.example.com/quire';
  const requestedWithHook: ReportEvent = { type: 'ReportRequested', data: { ...(requested.data as object), callbackUrl: HOOK } as never };
  const gaveUp = failed('render', 3, null);
  const retry: ReportEvent = { type: 'ReportRetryRequested', data: {} };
  const webhookTiming: RetryTiming = { backoff: { maxAttempts: 3, baseMs: 1000 }, now: new Date(T0 + 60_000), jitter: 0.5 };
  const attempt = (deliveryId: string, outcome: Extract<ReportCommand, { type: 'RecordWebhookAttempt' }>['outcome']): ReportCommand => ({
    type: 'RecordWebhookAttempt',
    deliveryId,
    outcome,
    timing: webhookTiming,
  });
  const answered500 = { delivered: false as const, httpStatus: 500, error: 'answered 500', permanent: false };
  const pending = (state: ReportState | null) => state?.webhook?.pending.map((p) => `${p.status}@${p.version}`);

  describe('evolve: which transitions queue a delivery', () => {
    it('none without a callbackUrl', () => {
      expect(given(requested, rendered, storedHere, replicated)!.webhook).toBeNull();
    });
    it('STORED then REPLICATED: one each, in order, due when reached; RENDERED is not announced', () => {
      const state = given(requestedWithHook, rendered, storedHere, replicated)!;
      expect(state.webhook!.url).toBe(HOOK);
      expect(pending(state)).toEqual(['STORED@3', 'REPLICATED@4']);
      expect(state.webhook!.pending[0]).toMatchObject({ deliveryId: `msg_${REPORT_ID}_3`, attempts: 0, dueAt: new Date(T0 + 3000) });
    });
    it('straight to the object store: REPLICATED only', () => {
      expect(pending(given(requestedWithHook, rendered, replicated))).toEqual(['REPLICATED@3']);
    });
    it('a second volume copy (STORED → STORED) or one after REPLICATED announces nothing new', () => {
      const secondCopy: ReportEvent = { type: 'ReportStoredLocal', data: { ...storedHere.data, machine: 'm2' } };
      expect(pending(given(requestedWithHook, rendered, storedHere, secondCopy))).toEqual(['STORED@3']);
      expect(pending(given(requestedWithHook, rendered, replicated, secondCopy))).toEqual(['REPLICATED@3']);
    });
    it('FAILED once per failure a retry ended; attempts that will be retried announce nothing', () => {
      expect(pending(given(requestedWithHook, failed('render', 1, '2026-01-01T00:00:05.000Z')))).toEqual([]);
      expect(pending(given(requestedWithHook, gaveUp, retry, failed('render', 3, null)))).toEqual(['FAILED@2', 'FAILED@4']);
      expect(pending(given(requestedWithHook, gaveUp, retry, rendered, storedHere))).toEqual(['FAILED@2', 'STORED@5']);
    });
    it('delivery events change the queue, never the report: status and updatedAt stay', () => {
      const before = given(requestedWithHook, rendered, storedHere)!;
      const { then } = when([requestedWithHook, rendered, storedHere], attempt(`msg_${REPORT_ID}_3`, { delivered: true, httpStatus: 204 }));
      expect(then).toMatchObject({ status: 'STORED', updatedAt: before.updatedAt, version: 4, webhook: { url: HOOK, pending: [] } });
    });
  });

  describe('decide: record an attempt', () => {
    const stored = [requestedWithHook, rendered, storedHere];
    const id = `msg_${REPORT_ID}_3`;
    it('delivered: WebhookDelivered, and the next delivery comes up', () => {
      const { decided, then } = when([...stored, replicated], attempt(id, { delivered: true, httpStatus: 200 }));
      expect(decided).toEqual([{ type: 'WebhookDelivered', data: { deliveryId: id, status: 'STORED', attempt: 1, httpStatus: 200 } }]);
      expect(pending(then)).toEqual(['REPLICATED@4']);
    });
    it('failed: WebhookAttemptFailed with the next attempt after backoff', () => {
      const first = when(stored, attempt(id, answered500));
      expect(first.decided).toEqual([
        { type: 'WebhookAttemptFailed', data: { deliveryId: id, status: 'STORED', attempt: 1, httpStatus: 500, error: 'answered 500', retryAt: '2026-01-01T00:01:01.000Z' } },
      ]);
      expect(first.then.webhook!.pending[0]).toMatchObject({ attempts: 1, dueAt: new Date(T0 + 61_000) });
      const second = when([...stored, ...first.decided], attempt(id, answered500));
      expect(second.decided[0]).toMatchObject({ data: { attempt: 2, retryAt: '2026-01-01T00:01:02.000Z' } });
    });
    it('the last attempt: WebhookAttemptFailed and WebhookFailed, the delivery leaves the queue', () => {
      const failedAttempt = (n: number, retryAt: string): ReportEvent => ({
        type: 'WebhookAttemptFailed',
        data: { deliveryId: id, status: 'STORED', attempt: n, httpStatus: 500, error: 'answered 500', retryAt },
      });
      const { decided, then } = when([...stored, failedAttempt(1, '2026-01-01T00:00:05.000Z'), failedAttempt(2, '2026-01-01T00:00:07.000Z')], attempt(id, answered500));
      expect(decided).toEqual([
        { type: 'WebhookAttemptFailed', data: { deliveryId: id, status: 'STORED', attempt: 3, httpStatus: 500, error: 'answered 500', retryAt: null } },
        { type: 'WebhookFailed', data: { deliveryId: id, status: 'STORED', attempts: 3, error: 'answered 500' } },
      ]);
      expect(then.webhook!.pending).toEqual([]);
    });
    it('a refused URL is given up on at once', () => {
      const { decided } = when(stored, attempt(id, { delivered: false, httpStatus: null, error: 'refused: host x is not on the allow-list', permanent: true }));
      expect(decided.map((e) => e.type)).toEqual(['WebhookAttemptFailed', 'WebhookFailed']);
    });
    it('refused when that delivery is no longer the one due (recorded by another worker), or nothing is pending', () => {
      const delivered: ReportEvent = { type: 'WebhookDelivered', data: { deliveryId: id, status: 'STORED', attempt: 1, httpStatus: 200 } };
      expect(() => decide(attempt(id, answered500), given(...stored, delivered))).toThrow(ReportMovedOnError);
      expect(() => decide(attempt(id, answered500), given(requested, rendered, storedHere))).toThrow(ReportMovedOnError);
    });
    it('a deleted or expired report: the attempt is still recorded (it announces a transition made before)', () => {
      const deleted: ReportEvent = { type: 'ReportDeleted', data: { by: 'alice' } };
      const expired: ReportEvent = { type: 'ReportExpired', data: { at: '2026-01-01T00:00:04.000Z' } };
      for (const gone of [deleted, expired]) {
        const { decided, then } = when([...stored, gone], attempt(id, { delivered: true, httpStatus: 200 }));
        expect(decided).toEqual([{ type: 'WebhookDelivered', data: { deliveryId: id, status: 'STORED', attempt: 1, httpStatus: 200 } }]);
        expect(then.webhook!.pending).toEqual([]);
      }
    });
  });

  describe('erased: nothing more is delivered', () => {
    const requestedEncryptedWithHook: ReportEvent = { type: 'ReportRequested', data: { ...(requestedEncrypted.data as object), callbackUrl: HOOK } as never };
    const id = `msg_${REPORT_ID}_3`;
    const retrying: ReportEvent = {
      type: 'WebhookAttemptFailed',
      data: { deliveryId: id, status: 'STORED', attempt: 1, httpStatus: 500, error: 'answered 500', retryAt: '2026-01-01T00:00:10.000Z' },
    };
    const erase: ReportCommand = { type: 'EraseReport', by: 'admin-1', reason: 'GDPR request #42' };
    const erasedOnly: ReportEvent = { type: 'ReportErased', data: { by: 'admin-1', reason: 'before erasures cancelled deliveries' } };

    it('the erasure cancels every delivery still queued, in order, in the same append; the queue is empty after it', () => {
      const { decided, then } = when([requestedEncryptedWithHook, rendered, storedHere, retrying, replicated], erase);
      expect(decided).toEqual([
        { type: 'ReportErased', data: { by: 'admin-1', reason: 'GDPR request #42' } },
        { type: 'WebhookCancelled', data: { deliveryId: id, status: 'STORED', reason: 'erased' } },
        { type: 'WebhookCancelled', data: { deliveryId: `msg_${REPORT_ID}_5`, status: 'REPLICATED', reason: 'erased' } },
      ]);
      expect(then).toMatchObject({ status: 'ERASED', webhook: { url: HOOK, pending: [] } });
    });
    it('nothing queued (delivered already, or no callbackUrl): the erasure alone', () => {
      const delivered: ReportEvent = { type: 'WebhookDelivered', data: { deliveryId: id, status: 'STORED', attempt: 1, httpStatus: 200 } };
      expect(decide(erase, given(requestedEncryptedWithHook, rendered, storedHere, delivered)).map((e) => e.type)).toEqual(['ReportErased']);
      expect(decide(erase, given(requestedEncrypted, rendered, storedHere)).map((e) => e.type)).toEqual(['ReportErased']);
    });
    it('an attempt that was in flight when the report was erased is not recorded', () => {
      const erasedNow = when([requestedEncryptedWithHook, rendered, storedHere, retrying], erase);
      const events = [requestedEncryptedWithHook, rendered, storedHere, retrying, ...erasedNow.decided];
      expect(() => decide(attempt(id, { delivered: true, httpStatus: 200 }), given(...events))).toThrow(ReportMovedOnError);
      // Erased before erasures cancelled deliveries: still not recorded, whatever the queue says.
      expect(() => decide(attempt(id, { delivered: true, httpStatus: 200 }), given(requestedEncryptedWithHook, rendered, storedHere, retrying, erasedOnly))).toThrow(ReportMovedOnError);
    });
    it('CancelWebhooks: an erased report whose deliveries are still queued has them cancelled; nothing on a live report', () => {
      const { decided, then } = when([requestedEncryptedWithHook, rendered, storedHere, retrying, erasedOnly], { type: 'CancelWebhooks' });
      expect(decided).toEqual([{ type: 'WebhookCancelled', data: { deliveryId: id, status: 'STORED', reason: 'erased' } }]);
      expect(then.webhook!.pending).toEqual([]);
      expect(decide({ type: 'CancelWebhooks' }, then)).toEqual([]);
      expect(() => decide({ type: 'CancelWebhooks' }, given(requestedEncryptedWithHook, rendered, storedHere))).toThrow(ReportMovedOnError);
    });
  });
});
