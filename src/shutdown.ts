import type { Logger } from 'pino';

/** What `quire serve` runs, as far as stopping it goes. */
export interface ShutdownParts {
  http: { drain(): void; close(graceMs?: number): Promise<void> };
  metricsServer?: { close(): Promise<void> } | undefined;
  /** Stops claiming, lets work in flight finish within `graceMs`, then aborts it and releases its leases. */
  workers?: { stop(graceMs?: number): Promise<void> } | undefined;
  sealer?: { stop(): Promise<void> } | undefined;
  /** Closes the database last: releasing leases needs it. */
  close(): Promise<void>;
}

/** Time on top of the drain for aborting, releasing leases and closing; fly.toml's kill_timeout must exceed drain + this. */
export const SHUTDOWN_MARGIN_MS = 5_000;

/**
 * Graceful shutdown on SIGTERM/SIGINT (Fly sends `kill_signal`, then SIGKILL after `kill_timeout`):
 *
 * 1. at once: /readyz 503, WebSockets closed with 1012, SSE streams ended, so clients and the
 *    health check move to other machines;
 * 2. renders and copies in flight get `drainMs` to finish; what is still running then is aborted
 *    and its lease deleted, so another machine claims it on its next poll rather than after LEASE_MS;
 * 3. in-flight HTTP requests get what is left of the drain (at least a second), then are cut;
 * 4. the database closes and `exit(0)`.
 *
 * A step that hangs cannot hold the machine past kill_timeout: after drain + margin, `exit(1)`.
 */
export async function gracefulShutdown(
  parts: ShutdownParts,
  options: { drainMs: number; log: Logger; exit: (code: number) => void; marginMs?: number },
): Promise<void> {
  const { drainMs, log, exit } = options;
  const started = Date.now();
  const watchdog = setTimeout(() => {
    log.error({ drainMs }, 'shutdown overran the drain; exiting now');
    exit(1);
  }, drainMs + (options.marginMs ?? SHUTDOWN_MARGIN_MS));
  watchdog.unref();
  try {
    parts.http.drain();
    await parts.workers?.stop(drainMs);
    await parts.sealer?.stop();
    await parts.http.close(Math.max(1_000, drainMs - (Date.now() - started)));
    await parts.metricsServer?.close();
    await parts.close();
  } catch (err) {
    log.error({ err }, 'shutdown failed');
    clearTimeout(watchdog);
    return exit(1);
  }
  clearTimeout(watchdog);
  log.info({ ms: Date.now() - started }, 'shut down');
  exit(0);
}
