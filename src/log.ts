import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * stdout, written synchronously. When the reader goes away (`quire serve | head -1`, a log shipper
 * that died) a write fails with EPIPE, which pino's destination answers by dropping every later
 * line: serving goes on without logs. pino's default (asynchronous) destination instead flushes
 * its buffer at exit through sonic-boom's flushSync, which (4.2.1) sleeps and retries any error
 * but EAGAIN forever: the process hung, stopped answering and ignored SIGTERM.
 */
function stdoutDestination(): DestinationStream {
  return pino.destination({ dest: 1, sync: true });
}

/** `destination`: where lines go (stdout by default; tests capture them). */
export function createLogger(level: string, region?: string, destination?: DestinationStream): Logger {
  const options = { level, base: region ? { region } : {} };
  return pino(options, destination ?? stdoutDestination());
}

/**
 * What quire prints to stdout besides logs (the dev banner, a command's result) is dropped once
 * the reader is gone, rather than an unhandled EPIPE ending the process.
 */
export function dropStdoutWhenClosed(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
  });
}
