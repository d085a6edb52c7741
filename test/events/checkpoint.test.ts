import { describe, expect, it } from 'vitest';
import { compareCheckpoints, decodeCheckpoint, encodeCheckpoint, InvalidCheckpointError } from '../../src/events/checkpoint.js';

describe('checkpoint cursors', () => {
  it('round-trips and orders by transaction id, then position', () => {
    const c = decodeCheckpoint('1000:7');
    expect(encodeCheckpoint(c)).toBe('1000:7');
    expect(compareCheckpoints(decodeCheckpoint('999:9'), c)).toBeLessThan(0);
    expect(compareCheckpoints(decodeCheckpoint('1000:8'), c)).toBeGreaterThan(0);
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
