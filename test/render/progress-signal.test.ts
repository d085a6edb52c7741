import { describe, expect, it } from 'vitest';
import { formatProgress, parseProgress } from '../../src/render/progress-signal.js';

describe('render progress signal', () => {
  const a = '0b7a1c9e-1f52-4a4e-9a57-5d0f7f3c2b11';
  const b = '6f1f3d2a-7c1e-4b8a-8f0e-2a9c4d5e6f70';

  it('reads back what it writes', () => {
    expect(parseProgress(formatProgress(a, 0.25))).toEqual([{ reportId: a, fraction: 0.25 }]);
  });

  it('reads every step of a payload the notifier coalesced, not only the first', () => {
    expect(parseProgress(`${formatProgress(a, 0.1)},${formatProgress(b, 0.5)}`)).toEqual([
      { reportId: a, fraction: 0.1 },
      { reportId: b, fraction: 0.5 },
    ]);
  });

  it('drops what is not a step: the overflow marker, torn or out-of-range items (never NaN)', () => {
    expect(parseProgress('*')).toEqual([]);
    expect(parseProgress(`${a}:`)).toEqual([]);
    expect(parseProgress(`${a}:x`)).toEqual([]);
    expect(parseProgress(`${a}:1.5`)).toEqual([]);
    expect(parseProgress(`${a}:0.2:9,${b}:0.3`)).toEqual([{ reportId: b, fraction: 0.3 }]);
  });
});
