import { WrongExpectedVersionError } from '../events/errors.js';
import type { EventStore } from '../events/event-store.js';
import { QuireError } from '../errors.js';
import { loadReportState } from '../reports/load-report.js';
import { decide } from '../reports/decide.js';
import { storableJsonIssues } from '../events/storable-json.js';

const MACHINE_ID = /^[A-Za-z0-9-]{1,64}$/;

export class InvalidMachineIdError extends QuireError {
  readonly code = 'INVALID_PARAMS';
  constructor(readonly machine: string) {
    super(`${JSON.stringify(machine)} is not a machine id (letters, digits and dashes, at most 64)`);
    this.name = 'InvalidMachineIdError';
  }
}

export class InvalidForgetReasonError extends QuireError {
  readonly code = 'INVALID_PARAMS';
  constructor() {
    super('the reason must be 1 to 500 characters of text (no NUL, no lone surrogates)');
    this.name = 'InvalidForgetReasonError';
  }
}

/** No copy was ever recorded on this machine (a typo would otherwise be recorded for ever). */
export class UnknownMachineError extends QuireError {
  readonly code = 'NOT_FOUND';
  constructor(readonly machine: string) {
    super(`no copy was ever recorded on the volume of machine ${machine}`);
    this.name = 'UnknownMachineError';
  }
}

/** Forgetting the volume of the machine that is asking: it is evidently still there. */
export class OwnVolumeError extends QuireError {
  readonly code = 'FORBIDDEN';
  constructor(readonly machine: string) {
    super(`${machine} is this machine: its volume is here; pass force to forget it anyway`);
    this.name = 'OwnVolumeError';
  }
}

export interface ForgetVolumeResult {
  machine: string;
  region: string | null;
  /** True when the volume had been forgotten before (this run only finished what was left). */
  alreadyForgotten: boolean;
  /** Reports whose copy there was removed from their locations. */
  copiesForgotten: number;
  /** Of those, reports left without any copy: now LOST. */
  lost: string[];
}

export function volumeStreamId(machine: string): string {
  return `volume-${machine}`;
}

/**
 * `quire volumes forget <machine>`: a machine was destroyed and its volume with it. Appends
 * VolumeForgotten on `volume-<machine>` (the decision, first), then a ReportVolumeForgotten to every
 * report that still lists a copy there; a report left without any copy becomes LOST with the
 * reason. Idempotent: a second run appends nothing new, and a run cut short is finished by the
 * next. Refuses this very machine (`ownMachine`) unless forced, and machines never seen.
 */
export async function forgetVolume(
  store: EventStore,
  request: { machine: string; reason?: string; force?: boolean; ownMachine: string; actor: string },
): Promise<ForgetVolumeResult> {
  const { machine, ownMachine, actor } = request;
  const reason = request.reason ?? 'the machine was destroyed with its volume';
  if (!MACHINE_ID.test(machine)) throw new InvalidMachineIdError(machine);
  if (reason.length < 1 || reason.length > 500 || storableJsonIssues(reason).length > 0) throw new InvalidForgetReasonError();
  if (machine === ownMachine && !request.force) throw new OwnVolumeError(machine);

  const copies = await store.db
    .selectFrom('report_locations')
    .select(['report_id', 'region'])
    .where('kind', '=', 'volume')
    .where('machine', '=', machine)
    .orderBy('report_id')
    .execute();
  const streamId = volumeStreamId(machine);
  const previous = (await store.readStream(streamId)).find((e) => e.type === 'VolumeForgotten');
  if (!previous && copies.length === 0) {
    const seen = await store.db.selectFrom('events').select('global_position').where('stream_id', '=', `legacy-scan-${machine}`).limit(1).executeTakeFirst();
    if (!seen) throw new UnknownMachineError(machine);
  }
  const region = copies[0]?.region ?? (previous?.type === 'VolumeForgotten' ? previous.data.region : null);
  if (!previous) {
    try {
      await store.append(streamId, 'no_stream', [{ type: 'VolumeForgotten', data: { machine, region, reason } }], { actor });
    } catch (err) {
      // Another operator forgot it at the same moment: the same decision, recorded once.
      if (!(err instanceof WrongExpectedVersionError)) throw err;
    }
  }

  const result: ForgetVolumeResult = { machine, region, alreadyForgotten: previous !== undefined, copiesForgotten: 0, lost: [] };
  for (const copy of copies) {
    // A report may change meanwhile (a copy lands, a retry): read it again and append at its version.
    for (let attempt = 0; ; attempt++) {
      const state = await loadReportState(store.db, copy.report_id);
      const events = state ? decide({ type: 'ForgetVolumeCopy', machine, reason }, state) : [];
      if (!state || events.length === 0) break;
      try {
        await store.append(state.streamId, state.version, events, { actor });
        result.copiesForgotten++;
        if ((await loadReportState(store.db, copy.report_id))?.status === 'LOST') result.lost.push(copy.report_id);
        break;
      } catch (err) {
        if (!(err instanceof WrongExpectedVersionError) || attempt >= 5) throw err;
      }
    }
  }
  return result;
}
