import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { EventStore } from '../events/event-store.js';
import type { EventData } from '../events/types.js';
import { reportStreamId } from '../reports/report-state.js';
import { isUuid } from '../reports/uuid.js';
import type { Volume } from '../storage/volume.js';
import { volumeStreamId } from './forget-volume.js';

/** What quire itself writes under `reports/<report id>/` (report-key.ts, atomic-write.ts). */
const RENDERED = /^([0-9a-f]{64})\.pdf$/;
const TEMP = /^\.[0-9a-f-]{36}\.tmp$/;
/** Report directories looked up per query, and files per VolumeOrphansRemoved event. */
const BATCH = 500;
const FILES_PER_EVENT = 1000;

export interface SweepOptions {
  store: EventStore;
  volume: Volume;
  region: string;
  machine: string;
  /** Files younger than this are never removed (a render between its write and its append). */
  graceMs: number;
  log: Logger;
  now?: Date;
}

export interface SweepResult {
  /** Files of quire's own layout looked at. */
  checked: number;
  removed: Array<EventData<'VolumeOrphansRemoved'>['files'][number]>;
}

interface Candidate {
  key: string;
  reportId: string;
  sha256: string | null;
  bytes: number;
  mtimeMs: number;
  ino: number;
}

/**
 * Removes the files on this machine's volume that no event references, once older than the grace
 * period: a crash between writing a rendered file and appending its event leaves one (the
 * re-render's file is the one the log names). Only quire's own layout is looked at —
 * `reports/<report id>/<sha256>.pdf` and the temp files of atomic writes beside them — never a
 * legacy file. A PDF is kept when any event of its report names its sha256 or key, and while the
 * report is REQUESTED (a render may be about to append it: a deterministic re-render writes the same
 * key). What is removed is recorded first, as VolumeOrphansRemoved on `volume-<machine>`.
 */
export async function sweepOrphans(options: SweepOptions): Promise<SweepResult> {
  const { store, volume, region, machine, graceMs, log } = options;
  const cutoff = (options.now ?? new Date()).getTime() - graceMs;
  const result: SweepResult = { checked: 0, removed: [] };
  let reportIds: string[];
  try {
    reportIds = (await readdir(join(volume.dir, 'reports'))).filter(isUuid).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return result;
    throw err;
  }
  for (let i = 0; i < reportIds.length; i += BATCH) {
    const candidates: Candidate[] = [];
    for (const reportId of reportIds.slice(i, i + BATCH)) {
      for (const name of await readdir(join(volume.dir, 'reports', reportId)).catch(() => [] as string[])) {
        const rendered = RENDERED.exec(name);
        if (!rendered && !TEMP.test(name)) continue;
        const key = `reports/${reportId}/${name}`;
        const info = await stat(volume.pathOf(key)).catch(() => null);
        if (!info?.isFile()) continue;
        result.checked++;
        if (info.mtimeMs > cutoff) continue;
        candidates.push({ key, reportId, sha256: rendered?.[1] ?? null, bytes: info.size, mtimeMs: info.mtimeMs, ino: info.ino });
      }
    }
    const orphans = await unreferenced(store, candidates);
    for (let j = 0; j < orphans.length; j += FILES_PER_EVENT) {
      const chunk = orphans.slice(j, j + FILES_PER_EVENT);
      // A file replaced meanwhile (a re-render renamed a new one over it) is not the one we judged.
      const still: Candidate[] = [];
      for (const c of chunk) {
        const now = await stat(volume.pathOf(c.key)).catch(() => null);
        if (now && now.ino === c.ino && now.mtimeMs === c.mtimeMs) still.push(c);
      }
      if (still.length === 0) continue;
      const files = still.map((c) => ({ key: c.key, bytes: c.bytes, modifiedAt: new Date(c.mtimeMs).toISOString() }));
      // Recorded before removed: the log never lacks a removal (a crash in between repeats it).
      await store.append(volumeStreamId(machine), 'any', [{ type: 'VolumeOrphansRemoved', data: { machine, region, graceMs, files } }], {
        actor: `sweeper:${machine}`,
      });
      for (const c of still) await volume.remove(c.key);
      result.removed.push(...files);
      log.info({ machine, files: files.length, keys: files.slice(0, 10).map((f) => f.key) }, 'orphaned volume files removed');
    }
  }
  return result;
}

/** The candidates no event of their report references (and whose report is not being rendered). */
async function unreferenced(store: EventStore, candidates: Candidate[]): Promise<Candidate[]> {
  if (candidates.length === 0) return [];
  const reportIds = [...new Set(candidates.map((c) => c.reportId))];
  const streams = reportIds.map(reportStreamId);
  const { rows } = await sql<{ stream_id: string; key: string | null; sha256: string | null }>`
    SELECT stream_id, data->>'key' AS key, data->>'sha256' AS sha256 FROM events
    WHERE stream_id = ANY(${streams}::text[]) AND (data ? 'key' OR data ? 'sha256')`.execute(store.db);
  const referenced = new Set(rows.flatMap((r) => [r.key && `key:${r.key}`, r.sha256 && `sha:${r.stream_id}:${r.sha256}`].filter(Boolean) as string[]));
  const rendering = new Set(
    (await store.db.selectFrom('report_status').select('report_id').where('report_id', 'in', reportIds).where('status', '=', 'REQUESTED').execute()).map(
      (r) => r.report_id,
    ),
  );
  return candidates.filter((c) => {
    if (c.sha256 === null) return true; // a temp file of a write that never finished
    if (rendering.has(c.reportId)) return false;
    return !referenced.has(`key:${c.key}`) && !referenced.has(`sha:${reportStreamId(c.reportId)}:${c.sha256}`);
  });
}
