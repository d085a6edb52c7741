import { QuireError } from '../errors.js';

/**
 * A position in the global log's total order: (transaction id, global position). Readers only
 * read below the oldest running transaction, so this order never lets a late commit slip behind
 * a checkpoint.
 */
export interface Checkpoint {
  /** xid8 as decimal text. */
  readonly transactionId: string;
  readonly globalPosition: number;
}

export const START: Checkpoint = Object.freeze({ transactionId: '0', globalPosition: 0 });

export function encodeCheckpoint(c: Checkpoint): string {
  return `${c.transactionId}:${c.globalPosition}`;
}

export class InvalidCheckpointError extends QuireError {
  readonly code = 'INVALID_CHECKPOINT';
  override readonly name = 'InvalidCheckpointError';
}

/** xid8 is an unsigned 64-bit integer: a larger one would fail in SQL instead of here. */
const MAX_XID8 = 2n ** 64n - 1n;

export function decodeCheckpoint(text: string): Checkpoint {
  const match = /^(\d{1,20}):(\d{1,16})$/.exec(text);
  if (!match || BigInt(match[1]!) > MAX_XID8) throw new InvalidCheckpointError(`invalid checkpoint ${JSON.stringify(text)}: expected "<xid>:<position>"`);
  return { transactionId: BigInt(match[1]!).toString(), globalPosition: Number(match[2]) };
}

const DECIMAL = /^(?:0|[1-9][0-9]*)$/;

/** Negative when a comes first in the global order, positive when b does, 0 when equal. */
export function compareCheckpoints(a: Checkpoint, b: Checkpoint): number {
  const x = a.transactionId;
  const y = b.transactionId;
  if (x === y) return a.globalPosition - b.globalPosition;
  // Decimals as xid8::text writes them (no sign, no leading zero) order by length, then by their
  // digits: what BigInt would say, without parsing two per compare (verify makes ~3 an event).
  if (DECIMAL.test(x) && DECIMAL.test(y)) return x.length !== y.length ? (x.length < y.length ? -1 : 1) : x < y ? -1 : 1;
  const tx = BigInt(x) - BigInt(y);
  if (tx !== 0n) return tx < 0n ? -1 : 1;
  return a.globalPosition - b.globalPosition;
}
