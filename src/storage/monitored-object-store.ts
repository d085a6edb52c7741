import { ObjectStoreUnavailableError, type ByteRange, type ObjectInfo, type ObjectStore, type PresignedUrl } from './object-store.js';

/** How long after its last failure the store counts as down, unless a call succeeds first. */
const DOWN_FOR_MS = 30_000;

/** How recent a success must be for a presigned link to go out without asking the store first. */
export const FRESH_FOR_MS = 5_000;

/**
 * An object store that remembers whether it is reachable: any call failing with
 * ObjectStoreUnavailableError marks it down, any successful call marks it up. Download resolution
 * asks `isUnavailable()` so that during an outage it hands out a volume copy rather than a
 * presigned link to a store that cannot answer.
 */
export class MonitoredObjectStore implements ObjectStore {
  private lastFailureAt: number | null = null;
  private lastSuccessAt: number | null = null;

  constructor(private readonly inner: ObjectStore) {}

  get kind() {
    return this.inner.kind;
  }

  get bucket() {
    return this.inner.bucket;
  }

  isUnavailable(now = Date.now()): boolean {
    return this.lastFailureAt !== null && now - this.lastFailureAt < DOWN_FOR_MS;
  }

  private async watch<T>(op: () => Promise<T>): Promise<T> {
    try {
      const result = await op();
      this.lastFailureAt = null;
      this.lastSuccessAt = Date.now();
      return result;
    } catch (err) {
      if (err instanceof ObjectStoreUnavailableError) this.lastFailureAt = Date.now();
      throw err;
    }
  }

  /**
   * Whether the store answers now. A machine that has not talked to the store lately (it copies
   * nothing, or its last call was before an outage began) would otherwise hand out presigned links
   * to a store that is down: the client's GET then fails outside quire, untyped. Asks the store
   * (a HEAD of `key`) only when no call has succeeded within FRESH_FOR_MS.
   */
  async reachable(key: string, now = Date.now()): Promise<boolean> {
    if (this.lastSuccessAt !== null && now - this.lastSuccessAt < FRESH_FOR_MS) return true;
    try {
      await this.head(key);
      return true;
    } catch (err) {
      if (err instanceof ObjectStoreUnavailableError) return false;
      throw err;
    }
  }

  put(key: string, body: Uint8Array | NodeJS.ReadableStream, info: { bytes: number; sha256: string; contentType?: string }): Promise<{ etag: string }> {
    return this.watch(() => this.inner.put(key, body, info));
  }

  head(key: string): Promise<ObjectInfo | null> {
    return this.watch(() => this.inner.head(key));
  }

  digest(key: string): Promise<{ bytes: number; sha256: string } | null> {
    return this.watch(() => this.inner.digest(key));
  }

  get(key: string, range?: ByteRange): Promise<NodeJS.ReadableStream | null> {
    return this.watch(() => this.inner.get(key, range));
  }

  putIfAbsent(key: string, body: Uint8Array, contentType: string): Promise<'created' | 'exists'> {
    return this.watch(() => this.inner.putIfAbsent(key, body, contentType));
  }

  delete(key: string): Promise<void> {
    return this.watch(() => this.inner.delete(key));
  }

  presignGet(key: string, options: { ttlSeconds: number; filename: string }): Promise<PresignedUrl> {
    return this.inner.presignGet(key, options);
  }
}
