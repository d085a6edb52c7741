import { machineBaseUrl } from '../config.js';
import type { Runtime } from '../runtime.js';
import type { DownloadContext } from './resolve-download.js';

/** What download resolution needs from this instance (the API's createDownloadUrl, the webhook stage's fresh link). */
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

