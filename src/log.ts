import pino, { type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, region?: string): Logger {
  return pino({ level, base: region ? { region } : {} });
}
