import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** `destination`: where lines go (stdout by default; tests capture them). */
export function createLogger(level: string, region?: string, destination?: DestinationStream): Logger {
  const options = { level, base: region ? { region } : {} };
  return destination ? pino(options, destination) : pino(options);
}
