import { createServer } from 'node:net';

/**
 * Binds `port` for a moment and lets it go: a port in use (EADDRINUSE, with `err.port`) is found
 * before the database is opened and migrated, which takes seconds, instead of after. The real
 * listen still reports the same error should another process take the port in between.
 */
export async function assertPortFree(port: number, host: string): Promise<void> {
  if (port === 0) return;
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen({ port, host, exclusive: true }, resolve);
  });
  await new Promise<void>((resolve) => probe.close(() => resolve()));
}
