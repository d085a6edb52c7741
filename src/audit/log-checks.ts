import { compareCheckpoints, type Checkpoint } from '../events/checkpoint.js';
import { chainHash, GENESIS_HASH, hashedFieldsOfRow, type HashedFields } from '../events/hash-chain.js';
import type { EventRow } from '../events/recorded-event.js';
import { GENESIS_SEAL_HASH, sealHash, sealSignatureProblem, type Seal, type SealTrust } from './seal.js';

/**
 * The checks an auditor makes, as pure functions: the live verifier (verify.ts) and the offline
 * check of an export (export.ts) both judge events and seals with these, so a log and its export
 * pass or fail for the same reasons.
 */

/** What a check found wrong; the caller says where (position, line, seal). */
export interface Finding {
  kind: 'CONTENT' | 'CHAIN' | 'VERSION_GAP' | 'ORDER' | 'SEAL' | 'SIGNATURE' | 'SEALED_EVENT' | 'SEAL_ROOT';
  message: string;
}

/** An event as export and proof files carry it: every field its hash covers, as stored (not upcast). */
export type EventJson = { globalPosition: number; transactionId: string } & Omit<HashedFields, 'recordedAt'> & { recordedAt: string; prevHash: string; hash: string };

export function eventJson(row: EventRow): EventJson {
  const { recordedAt, ...fields } = hashedFieldsOfRow(row);
  return {
    globalPosition: Number(row.global_position),
    transactionId: row.transaction_id,
    ...fields,
    recordedAt: recordedAt.toISOString(),
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

/** The hash an event's fields reproduce: a stored row's, or a file's (then '' when they are malformed). */
export function recomputedHash(event: EventRow | EventJson): string {
  if ('event_id' in event) return chainHash(event.prev_hash, hashedFieldsOfRow(event));
  try {
    const fields: HashedFields = { ...event, recordedAt: new Date(event.recordedAt) };
    return chainHash(String(event.prevHash), fields);
  } catch {
    return '';
  }
}

/** An event as the chain checks see it. */
export interface ChainedEvent {
  position: number;
  streamId: string;
  version: number;
  prevHash: string;
  hash: string;
  /** recomputedHash of its fields. */
  computedHash: string;
  /** Where it stands in commit order, when known. */
  checkpoint?: Checkpoint;
}

/** The event of the same stream the chain says came before (or the last one seen of it). */
export interface Predecessor {
  version: number;
  hash: string;
  checkpoint?: Checkpoint;
}

function eventDescription(e: ChainedEvent): string {
  return `event at position ${e.position} (${e.streamId} v${e.version})`;
}

/**
 * One event against its content and its stream's previous event. `pred` undefined: none is known;
 * that is a deleted event unless `predecessorMayBeAbsent` (an export that starts mid-log).
 */
export function checkEvent(e: ChainedEvent, pred: Predecessor | undefined, predecessorMayBeAbsent = false): Finding[] {
  const found: Finding[] = [];
  // The description is written only when something is found: verify checks every event, and most
  // have nothing to say (and a closure per call costs as much: the TS loader wraps each in __name).
  if (e.computedHash !== e.hash) found.push({ kind: 'CONTENT', message: `${eventDescription(e)}: hash does not match its content — the event was changed after it was written` });
  if (pred) {
    if (pred.version !== e.version - 1) {
      found.push({ kind: 'VERSION_GAP', message: `${eventDescription(e)}: the stream jumps from v${pred.version} to v${e.version} — an event was deleted or moved` });
    } else if (pred.hash !== e.prevHash) {
      const where = pred.checkpoint ? ` (position ${pred.checkpoint.globalPosition})` : '';
      found.push({ kind: 'CHAIN', message: `${eventDescription(e)}: prev_hash is not the hash of v${pred.version}${where}` });
    }
    if (pred.checkpoint && e.checkpoint && compareCheckpoints(pred.checkpoint, e.checkpoint) > 0) {
      found.push({
        kind: 'ORDER',
        message: `${eventDescription(e)} precedes its stream's v${pred.version} (position ${pred.checkpoint.globalPosition}) in commit order — events were inserted or moved`,
      });
    }
  } else if (e.version === 1) {
    if (e.prevHash !== GENESIS_HASH) found.push({ kind: 'CHAIN', message: `${eventDescription(e)}: prev_hash is not the genesis hash` });
  } else if (!predecessorMayBeAbsent) {
    found.push({ kind: 'VERSION_GAP', message: `${eventDescription(e)}: version ${e.version - 1} of the stream is missing — an event was deleted` });
  }
  return found;
}

/**
 * One seal against its own fields, its signature and the seal before it. `prev`: the previous
 * seal, null before seal 1, or 'unknown' (an export that starts mid-log: the link is not in the
 * file). `sawSigned`: a signed seal came earlier (an unsigned one after it was forged).
 */
export function checkSeal(seal: Seal, prev: Seal | null | 'unknown', sawSigned: boolean, trust: SealTrust): Finding[] {
  const found: Finding[] = [];
  const known = prev === 'unknown' ? null : { seq: prev?.seq ?? 0, sealHash: prev?.sealHash ?? GENESIS_SEAL_HASH, total: prev?.total ?? 0 };
  if (known) {
    if (seal.seq !== known.seq + 1) found.push({ kind: 'SEAL', message: `seal ${known.seq + 1} is missing (the next seal is ${seal.seq})` });
    else if (seal.prevSealHash !== known.sealHash) found.push({ kind: 'SEAL', message: `seal ${seal.seq} does not link to seal ${known.seq}: prev_seal_hash differs` });
  }
  if (sealHash(seal) !== seal.sealHash) found.push({ kind: 'SEAL', message: `seal ${seal.seq}'s hash does not match its fields: the seal was rewritten` });
  const unsigned = seal.format < 2 && sawSigned ? `seal ${seal.seq} is unsigned but follows signed seals: it was written by someone without the key` : sealSignatureProblem(seal, trust);
  if (unsigned) found.push({ kind: 'SIGNATURE', message: unsigned });
  if (known && seal.total !== known.total + seal.count) found.push({ kind: 'SEAL', message: `seal ${seal.seq}'s total ${seal.total} is not the previous total plus its count` });
  if (prev && prev !== 'unknown' && compareCheckpoints(seal.first, prev.last) <= 0) found.push({ kind: 'SEAL', message: `seal ${seal.seq} overlaps seal ${prev.seq}` });
  return found;
}

/**
 * A seal against the events found in its range: exactly `count` of them (`seen`), whose leaves
 * reproduce its Merkle root (`root`, of the leaves seen).
 */
export function checkSealRange(seal: Seal, seen: number, root: string | null): Finding | null {
  if (seen !== seal.count) return { kind: 'SEALED_EVENT', message: `seal ${seal.seq} covers ${seal.count} events, ${seen} of them are there` };
  if (root !== seal.merkleRoot) return { kind: 'SEAL_ROOT', message: `seal ${seal.seq}'s Merkle root does not match its events` };
  return null;
}
