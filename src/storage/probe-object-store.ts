import { ObjectStoreUnavailableError, type ObjectStore } from './object-store.js';

/** A key nobody writes: asking for it proves the store answers (a missing object is an answer). */
const PROBE_KEY = 'quire-probe/readiness';

export interface ObjectStoreState {
  kind: 's3' | 'disk';
  bucket: string;
  /** up: it answered; unreachable: no answer or a server error; error: it answered with a refusal (credentials, bucket). */
  state: 'up' | 'unreachable' | 'error';
  detail?: string;
}

/**
 * Whether the object store answers, within `timeoutMs`. Used at start-up (quire starts anyway:
 * downloads still work from volumes, copies wait) and by /readyz, which reports it without failing
 * readiness for it, since serving continues.
 */
export async function probeObjectStore(store: ObjectStore, timeoutMs = 3000): Promise<ObjectStoreState> {
  const base = { kind: store.kind, bucket: store.bucket };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ObjectStoreUnavailableError(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([store.head(PROBE_KEY), timeout]);
    return { ...base, state: 'up' };
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    return { ...base, state: err instanceof ObjectStoreUnavailableError ? 'unreachable' : 'error', detail };
  } finally {
    clearTimeout(timer);
  }
}
