import type { Logger } from 'pino';
import { compareCheckpoints, START, type Checkpoint } from '../events/checkpoint.js';
import { WrongExpectedVersionError } from '../events/errors.js';
import type { EventStore } from '../events/event-store.js';
import type { RecordedEvent } from '../events/recorded-event.js';
import { decide } from '../reports/decide.js';
import { foldReport } from '../reports/report-state.js';
import { loadReportStates } from '../reports/load-report.js';
import type { Volume } from '../storage/volume.js';
import { volumeKeyFor } from './legacy-row.js';

export interface ScanResult {
  checked: number;
  found: number;
  notHere: number;
  /** Where the scan got to: scan again from here to check only newer imports. */
  checkpoint: Checkpoint;
}

export interface ScanOptions {
  store: EventStore;
  volume: Volume;
  region: string;
  /** The machine whose volume this is: what it finds is recorded as on this machine. */
  machine: string;
  pathPrefix: string;
  log: Logger;
  /** Only imports after this checkpoint (a full scan by default). */
  after?: Checkpoint;
  pageSize?: number;
}

/** One stream of scans per machine (before machines: per region, `legacy-scan-<region>`). */
export function scanStreamId(machine: string): string {
  return `legacy-scan-${machine}`;
}

/**
 * Which imported legacy files are on this machine's volume: for each one found, its size and
 * sha256 go into a ReportStoredLocal naming this machine, after which downloads reach it from any
 * machine (fly-replay instance=) and this machine's migrator copies it. Two machines of one region
 * each scan their own volume. Ends with a LegacyScanCompleted for the machine.
 */
export async function scanVolume(options: ScanOptions): Promise<ScanResult> {
  const { store, volume, region, machine, pathPrefix, log, pageSize = 500 } = options;
  const result: ScanResult = { checked: 0, found: 0, notHere: 0, checkpoint: options.after ?? START };
  // Imports committed after this point are left to the next scan.
  const head = await store.headCheckpoint();
  for (;;) {
    const imports = await store.queryEvents({ after: result.checkpoint, limit: pageSize, types: ['LegacyReportImported'] });
    if (imports.length === 0) break;
    const states = await loadReportStates(
      store.db,
      imports.map((e) => (e.type === 'LegacyReportImported' ? e.data.reportId : '')),
    );
    for (const event of imports) {
      if (event.type !== 'LegacyReportImported') continue;
      result.checked++;
      const state = states.get(event.data.reportId);
      if (state?.locations.some((l) => l.kind === 'volume' && l.machine === machine)) {
        result.found++;
        continue;
      }
      const key = volumeKeyFor(event.data.filePath, pathPrefix);
      const file = key ? await volume.digest(key) : null;
      if (!key || !file) {
        result.notHere++;
        continue;
      }
      await recordFound(store, event, region, machine, key, file);
      result.found++;
    }
    result.checkpoint = imports.at(-1)!.checkpoint;
  }
  if (compareCheckpoints(head, result.checkpoint) > 0) result.checkpoint = head;
  // Nothing imported (yet): nothing worth a record.
  if (result.checked > 0) {
    await store.append(scanStreamId(machine), 'any', [
      { type: 'LegacyScanCompleted', data: { region, machine, checked: result.checked, found: result.found, notHere: result.notHere } },
    ]);
    log.info({ region, machine, checked: result.checked, found: result.found, notHere: result.notHere }, 'legacy volume scanned');
  }
  return result;
}

async function recordFound(
  store: EventStore,
  imported: RecordedEvent & { type: 'LegacyReportImported' },
  region: string,
  machine: string,
  key: string,
  file: { bytes: number; sha256: string },
): Promise<void> {
  // Another machine may record its own copy at the same moment: retry at the new version.
  for (let attempt = 0; attempt < 5; attempt++) {
    const state = foldReport(await store.readStream(imported.streamId));
    if (!state) throw new Error(`${imported.streamId} has no report`);
    const events = decide({ type: 'RecordLegacyFileFound', found: { region, machine, key, sha256: file.sha256, bytes: file.bytes } }, state);
    if (events.length === 0) return;
    try {
      await store.append(imported.streamId, state.version, events, { actor: `scanner:${machine}` });
      return;
    } catch (err) {
      if (!(err instanceof WrongExpectedVersionError)) throw err;
    }
  }
  throw new Error(`could not record ${key} for ${imported.streamId}: the stream kept changing`);
}
