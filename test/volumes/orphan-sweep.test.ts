import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStream } from '../../src/events/read.js';
import { loadReportState } from '../../src/reports/load-report.js';
import { RenderPool } from '../../src/render/render-pool.js';
import { requestReport } from '../../src/reports/request-report.js';
import { volumeStreamId } from '../../src/volumes/forget-volume.js';
import { createWorkers, type Workers } from '../../src/workers/start-workers.js';
import { waitFor } from '../support/collect.js';
import { backends } from '../support/databases.js';
import { countEventsByType, startTestRuntime, type TestRuntime } from '../support/runtime.js';

const alice = { id: 'alice', role: 'user' as const };
const tableParams = (title: string) => ({ columns: [{ label: 'A', key: 'a' }], rows: [{ a: title }] });
const GRACE_MS = 60_000;

describe.each(backends)('sweeping orphaned volume files on %s', (kind) => {
  let runtime: TestRuntime;
  let pool: RenderPool;
  let workers: Workers;

  beforeAll(async () => {
    runtime = await startTestRuntime(kind, { STORAGE_MODE: 'volume', ORPHAN_GRACE_MS: String(GRACE_MS) });
    pool = new RenderPool({ size: 1 });
    workers = createWorkers(runtime, { pool, owner: 'worker-a' });
  });
  afterAll(async () => {
    await workers?.stop();
    await pool?.close();
    await runtime?.close();
  });

  const request = (title: string) => requestReport(runtime.store, { template: 'table', title, params: tableParams(title) }, alice);
  /** A file as a render that crashed before its append left it, `ageMs` old. */
  async function leaveFile(key: string, ageMs: number, bytes = Buffer.from(`%PDF-1.3 ${randomUUID()}`)): Promise<string> {
    const path = runtime.volume.pathOf(key);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, bytes);
    const at = new Date(Date.now() - ageMs);
    await utimes(path, at, at);
    return key;
  }
  const randomSha = () => createHash('sha256').update(randomUUID()).digest('hex');

  it('removes only old files no event references, records them on the machine’s volume stream first, and keeps everything else', async () => {
    // A stored report whose file is old: referenced, kept.
    const stored = await request('Stored');
    expect(await workers.render.drain()).toBe(1);
    const storedState = await loadReportState(runtime.store.db, stored.reportId);
    const storedKey = storedState!.locations[0]!.key;
    const at = new Date(Date.now() - 2 * GRACE_MS);
    await utimes(runtime.volume.pathOf(storedKey), at, at);

    // A crash between write and append, then the re-render stored another file: the first is an orphan.
    const crashed = await request('Crashed once');
    const orphan = await leaveFile(`reports/${crashed.reportId}/${randomSha()}.pdf`, 2 * GRACE_MS);
    expect(await workers.render.drain()).toBe(1);
    // A temp file of an atomic write cut short.
    const temp = await leaveFile(`reports/${crashed.reportId}/.${randomUUID()}.tmp`, 2 * GRACE_MS);
    // Younger than the grace: kept although nothing references it.
    const young = await leaveFile(`reports/${crashed.reportId}/${randomSha()}.pdf`, 1000);
    // A report still being rendered: its file may be about to be appended; kept.
    const pending = await request('Pending');
    const pendingFile = await leaveFile(`reports/${pending.reportId}/${randomSha()}.pdf`, 2 * GRACE_MS);
    // Legacy files are not quire's layout: never touched.
    const legacy = await leaveFile('2019/07/invoice-17.pdf', 10 * GRACE_MS);
    const legacyLookalike = await leaveFile(`reports/not-a-report/${randomSha()}.pdf`, 10 * GRACE_MS);

    const result = await workers.orphanSweeper!.sweepOnce();
    expect(result.removed.map((f) => f.key).sort()).toEqual([orphan, temp].sort());
    expect(existsSync(runtime.volume.pathOf(orphan))).toBe(false);
    expect(existsSync(runtime.volume.pathOf(temp))).toBe(false);
    for (const kept of [storedKey, young, pendingFile, legacy, legacyLookalike, (await loadReportState(runtime.store.db, crashed.reportId))!.locations[0]!.key]) {
      expect(existsSync(runtime.volume.pathOf(kept)), kept).toBe(true);
    }

    const volumeEvents = await readStream(runtime.store.db, volumeStreamId('iad-1'));
    expect(volumeEvents).toHaveLength(1);
    expect(volumeEvents[0]).toMatchObject({
      type: 'VolumeOrphansRemoved',
      data: { machine: 'iad-1', region: 'iad', graceMs: GRACE_MS },
      metadata: { actor: 'sweeper:iad-1' },
    });
    const recorded = volumeEvents[0]!.type === 'VolumeOrphansRemoved' ? volumeEvents[0]!.data.files : [];
    expect(recorded.map((f) => f.key).sort()).toEqual([orphan, temp].sort());
    expect(recorded.every((f) => f.bytes > 0)).toBe(true);

    // A second sweep finds nothing more and records nothing.
    expect((await workers.orphanSweeper!.sweepOnce()).removed).toEqual([]);
    expect(await readStream(runtime.store.db, volumeStreamId('iad-1'))).toHaveLength(1);

    // Every report and event is accounted for: the stored ones still download from the volume.
    for (const id of [stored.reportId, crashed.reportId]) {
      const state = await loadReportState(runtime.store.db, id);
      expect(state?.status).toBe('STORED');
      expect(await runtime.volume.digest(state!.locations[0]!.key)).toEqual({ bytes: state!.bytes, sha256: state!.sha256 });
    }
    expect(await countEventsByType(runtime)).toEqual({ ReportRequested: 3, ReportRendered: 2, ReportStoredLocal: 2, VolumeOrphansRemoved: 1 });
  });
});

describe.each(backends)('the orphan sweeper loop on %s', (kind) => {
  it('runs by itself every quarter of the grace and removes an old orphan', async () => {
    const runtime = await startTestRuntime(kind, { STORAGE_MODE: 'volume', ORPHAN_GRACE_MS: '1000' });
    const workers = createWorkers(runtime, { pool: new RenderPool({ size: 1 }), owner: 'worker-b' });
    try {
      const { reportId } = await requestReport(runtime.store, { template: 'table', title: 'Crashed', params: tableParams('x') }, alice);
      // Crashed once, then given up on: nothing will ever reference this file.
      await runtime.store.append(`report-${reportId}`, 1, [{ type: 'ReportFailed', data: { stage: 'render', error: 'gave up', attempt: 1, retryAt: null } }], { actor: 'test' });
      const key = `reports/${reportId}/${createHash('sha256').update('orphan').digest('hex')}.pdf`;
      await mkdir(dirname(runtime.volume.pathOf(key)), { recursive: true });
      await writeFile(runtime.volume.pathOf(key), 'orphan');
      workers.orphanSweeper!.start();
      await waitFor(() => !existsSync(runtime.volume.pathOf(key)), 30_000, 'the sweeper to remove the orphan');
      const recorded = await readStream(runtime.store.db, volumeStreamId('iad-1'));
      expect(recorded.map((e) => (e.type === 'VolumeOrphansRemoved' ? e.data.files.map((f) => f.key) : []))).toEqual([[key]]);
      expect(await countEventsByType(runtime)).toEqual({ ReportRequested: 1, ReportFailed: 1, VolumeOrphansRemoved: 1 });
    } finally {
      await workers.stop();
      await workers.pool.close();
      await runtime.close();
    }
  });
});
