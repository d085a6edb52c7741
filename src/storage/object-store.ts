import { QuireError } from '../errors.js';
import { InvalidStorageKeyError } from './volume.js';

export interface ObjectInfo {
  bytes: number;
  /** From the object's metadata; null when it was stored without (not by quire). */
  sha256: string | null;
  /** The store's entity tag, without surrounding quotes (S3: MD5 or multipart tag; disk: sha256). */
  etag: string;
}

export interface PresignedUrl {
  url: string;
  expiresAt: Date;
}

/** An inclusive byte range, as in an HTTP `Range: bytes=start-end` header. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface ObjectStore {
  readonly kind: 's3' | 'disk';
  /** The bucket name (S3) or a stable name for the disk store, recorded in ReportReplicated.bucket. */
  readonly bucket: string;
  /**
   * Uploads (streams for big bodies, multipart above ~8 MiB) and stores sha256 as metadata. The body
   * is counted and hashed on the way; when it does not match `info` the copy is discarded and
   * ObjectDigestMismatchError thrown.
   */
  put(key: string, body: Uint8Array | NodeJS.ReadableStream, info: { bytes: number; sha256: string; contentType?: string }): Promise<{ etag: string }>;
  head(key: string): Promise<ObjectInfo | null>;
  /** Reads the object back and hashes it (streaming, constant memory): the verification before ReportReplicated. */
  digest(key: string): Promise<{ bytes: number; sha256: string } | null>;
  /**
   * A readable stream of the object (optionally an inclusive byte range; an end past the object is
   * clamped), or null when missing. A start at or past the end throws RangeNotSatisfiableError.
   */
  get(key: string, range?: ByteRange): Promise<NodeJS.ReadableStream | null>;
  /** A time-limited GET URL that downloads as an attachment named `filename`. */
  presignGet(key: string, options: { ttlSeconds: number; filename: string }): Promise<PresignedUrl>;
  /** Removes the object; missing is fine (the purge stage, and a discarded upload). */
  delete(key: string): Promise<void>;
  /**
   * Writes a small object only if no object has the key (S3 `If-None-Match: *`, a hard link on
   * disk): 'exists' when one was there, whatever its content, and nothing is changed. What makes
   * published seal digests write-once for anyone who goes through quire (published-seals.ts).
   */
  putIfAbsent(key: string, body: Uint8Array, contentType: string): Promise<'created' | 'exists'>;
}

/** The store cannot be reached or answered with a server error: retry later, with backoff. */
export class ObjectStoreUnavailableError extends QuireError {
  readonly code = 'OBJECT_STORE_UNAVAILABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(`object store unavailable: ${message}`, options);
    this.name = 'ObjectStoreUnavailableError';
  }
}

/** What arrived was not what the caller said it was sending; nothing was kept. */
export class ObjectDigestMismatchError extends QuireError {
  readonly code = 'OBJECT_DIGEST_MISMATCH';
  constructor(
    readonly key: string,
    readonly expected: { bytes: number; sha256: string },
    readonly actual: { bytes: number; sha256: string },
  ) {
    super(
      `object ${key}: expected ${expected.bytes} bytes sha256 ${expected.sha256}, got ${actual.bytes} bytes sha256 ${actual.sha256}`,
    );
    this.name = 'ObjectDigestMismatchError';
  }
}

export class RangeNotSatisfiableError extends QuireError {
  readonly code = 'RANGE_NOT_SATISFIABLE';
  constructor(
    readonly key: string,
    readonly range: ByteRange,
  ) {
    super(`object ${key}: range ${range.start}-${range.end} is not satisfiable`);
    this.name = 'RangeNotSatisfiableError';
  }
}

const KEY = /^[A-Za-z0-9][A-Za-z0-9._/-]*$/;

/** The same rule as Volume.pathOf, so a key that is valid on a volume is valid in every store. */
export function assertStorageKey(key: string): void {
  if (!KEY.test(key) || key.length > 512 || key.split('/').some((part) => part === '..' || part === '.' || part === '')) {
    throw new InvalidStorageKeyError(key);
  }
}

export function assertByteRange(range: ByteRange): void {
  if (!Number.isSafeInteger(range.start) || !Number.isSafeInteger(range.end) || range.start < 0 || range.end < range.start) {
    throw new RangeError(`invalid byte range ${range.start}-${range.end}`);
  }
}

export function assertPutInfo(info: { bytes: number; sha256: string }): void {
  if (!Number.isSafeInteger(info.bytes) || info.bytes < 0) throw new RangeError(`invalid byte count ${info.bytes}`);
  if (!/^[0-9a-f]{64}$/.test(info.sha256)) throw new TypeError(`not a hex sha256: ${info.sha256}`);
}

export function assertTtl(ttlSeconds: number): void {
  // SigV4 presigned URLs allow at most a week.
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > 604_800) throw new RangeError(`invalid ttl ${ttlSeconds}s`);
}
