import type { Actor } from '../actor.js';
import { machineBaseUrl } from '../config.js';
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
};

export function downloadContext(runtime: Runtime): DownloadContext {
  const { config } = runtime;
  return {
    db: runtime.store.db,
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

/** createDownloadUrl for every entry point (REST, GraphQL), counted by path and outcome. */
export async function createDownloadUrl(runtime: Runtime, reportId: string, actor: Actor, ttlSeconds?: number): Promise<DownloadUrl> {
  try {
    const url = await resolveDownload(downloadContext(runtime), reportId, actor, ttlSeconds ?? runtime.config.downloadTtlSeconds);
    runtime.metrics.download(PATHS[url.source], 'ok');
    return url;
  } catch (err) {
    if (err instanceof QuireError && err.code in OUTCOMES) runtime.metrics.download('none', OUTCOMES[err.code]!);
    throw err;
  }
}
