/**
 * What an appender believes about a stream: an exact version (the number of events in it),
 * `no_stream` (it must not exist yet), `stream_exists`, or `any` (no check; still gapless).
 */
export type ExpectedVersion = number | 'no_stream' | 'stream_exists' | 'any';

export function satisfies(expected: ExpectedVersion, actual: number): boolean {
  switch (expected) {
    case 'any':
      return true;
    case 'no_stream':
      return actual === 0;
    case 'stream_exists':
      return actual > 0;
    default:
      return actual === expected;
  }
}
