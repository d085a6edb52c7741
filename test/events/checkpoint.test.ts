import { describe, expect, it } from 'vitest';
import { compareCheckpoints, decodeCheckpoint, encodeCheckpoint, InvalidCheckpointError } from '../../src/events/checkpoint.js';

describe('checkpoint cursors', () => {
  it('round-trips and orders by transaction id, then position', () => {
    const c = decodeCheckpoint('1000:7');
    expect(encodeCheckpoint(c)).toBe('1000:7');
    expect(compareCheckpoints(decodeCheckpoint('999:9'), c)).toBeLessThan(0);
    expect(compareCheckpoints(decodeCheckpoint('1000:8'), c)).toBeGreaterThan(0);
  });

  it('orders transaction ids as BigInt does, decimal text compared without parsing or not', () => {
    // The order before the fast path: parse both, subtract.
    const reference = (a: string, b: string) => {
      const tx = BigInt(a) - BigInt(b);
      return tx === 0n ? 0 : tx < 0n ? -1 : 1;
    };
    const ids = ['0', '1', '2', '9', '10', '11', '99', '100', '101', '123456789', '123456790', '18446744073709551615', '9223372036854775808', '010', '007', ' 12', '0x10', ''];
    for (const a of ids) {
      for (const b of ids) {
        const at = { transactionId: a, globalPosition: 5 };
        const bt = { transactionId: b, globalPosition: 7 };
        const expected = reference(a, b) || -2;
        expect(compareCheckpoints(at, bt), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`).toBe(expected);
      }
    }
    for (let i = 0; i < 2000; i++) {
      const a = String(Math.floor(Math.random() * 10 ** (1 + (i % 19))));
      const b = String(Math.floor(Math.random() * 10 ** (1 + ((i * 7) % 19))));
      expect(Math.sign(compareCheckpoints({ transactionId: a, globalPosition: 1 }, { transactionId: b, globalPosition: 1 }))).toBe(reference(a, b));
    }
  });

  it('a malformed `after` cursor is a typed INVALID_CHECKPOINT error, never a database error', () => {
    for (const bad of ['', 'zzz', '1:2:3', '-1:2', '1:', ':1', '1.5:2', '99999999999999999999:1', '1:99999999999999999', ' 1:2', '\u0000']) {
      let thrown: unknown;
      try {
        decodeCheckpoint(bad);
      } catch (err) {
        thrown = err;
      }
      expect(thrown, JSON.stringify(bad)).toBeInstanceOf(InvalidCheckpointError);
      expect((thrown as InvalidCheckpointError).code).toBe('INVALID_CHECKPOINT');
    }
  });
});
