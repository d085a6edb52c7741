import type { Actor } from '../actor.js';
import { machineBaseUrl } from '../config.js';
import type { ReadScope } from '../database/read-router.js';
import { QuireError } from '../errors.js';
import type { DownloadOutcome, DownloadPath } from '../metrics.js';
import { resolveDownload, type DownloadContext, type DownloadSource, type DownloadUrl } from '../storage/resolve-download.js';
import type { Runtime } from '../runtime.js';

const PATHS: Record<DownloadSource, DownloadPath> = { OBJECT_STORE: 'object', LOCAL_VOLUME: 'local', REMOTE_VOLUME: 'replay' };
const OUTCOMES: Record<string, DownloadOutcome> = {
  NOT_FOUND: 'not_found',
  NOT_READY: 'not_ready',
  FAILED: 'failed',
  UNAVAILABLE: 'unavailable',
  OBJECT_STORE_UNAVAILABLE: 'unavailable',
  FORBIDDEN: 'forbidden',
  INVALID_PARAMS: 'invalid',
  GONE: 'gone',
};

export function downloadContext(runtime: Runtime, db = runtime.store.db): DownloadContext {
  const { config } = runtime;
  return {
    db,
    objectStore: runtime.objectStore,
    fileTokens: runtime.fileTokens,
    region: config.region,
    machine: config.machineId,
    publicUrl: config.publicUrl,
    canReach: (machine, region) => config.flyReplay || machineBaseUrl(config, machine, region) !== undefined,
    objectStoreUnavailable: () => runtime.objectStore.isUnavailable(),
    probeObjectStore: (key) => runtime.objectStore.reachable(key),
  };
}

/**
 * createDownloadUrl for every entry point (REST, GraphQL), counted by path and outcome. With
 * `reads`, the locations are looked up where reads that may lag go (a read replica); a "not
 * found" or "not ready" from a replica is confirmed on the primary, since the client may have
 * seen the report further along there (a subscription follows the primary).
 */
export async function createDownloadUrl(runtime: Runtime, reportId: string, actor: Actor, ttlSeconds?: number, reads?: ReadScope): Promise<DownloadUrl> {
  const ttl = ttlSeconds ?? runtime.config.downloadTtlSeconds;
  const resolve = async () => {
    const db = reads ? await reads.lagging() : runtime.store.db;
    try {
      return await resolveDownload(downloadContext(runtime, db), reportId, actor, ttl);
    } catch (err) {
      const mayBeBehind = err instanceof QuireError && (err.code === 'NOT_FOUND' || err.code === 'NOT_READY');
      if (db === runtime.store.db || !mayBeBehind) throw err;
      return resolveDownload(downloadContext(runtime), reportId, actor, ttl);
    }
  };
  try {
    const url = await resolve();
    runtime.metrics.download(PATHS[url.source], 'ok');
    return url;
  } catch (err) {
    if (err instanceof QuireError && err.code in OUTCOMES) runtime.metrics.download('none', OUTCOMES[err.code]!);
    throw err;
  }
}
