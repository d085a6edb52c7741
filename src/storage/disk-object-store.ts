import { createWriteStream } from 'node:fs';
import { createHash, randomUUID } from 'node:crypto';
import { link, mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  ObjectStoreUnavailableError,
  assertByteRange,
  assertPutInfo,
  assertStorageKey,
  assertTtl,
  ObjectDigestMismatchError,
  RangeNotSatisfiableError,
  type ByteRange,
  type ObjectInfo,
  type ObjectStore,
  type PresignedUrl,
} from './object-store.js';
import { digestStream, Sha256Stream } from './sha256-stream.js';
import { atomicWrite } from './atomic-write.js';
import { Volume } from './volume.js';

export interface DiskObjectStoreOptions {
  /** Where objects live, e.g. `${DATA_DIR}/objects`. */
  dir: string;
  /** Recorded in ReportReplicated.bucket. Default `disk`. */
  bucket?: string;
  /** Makes a URL that quire itself answers (`/files/<token>`); the disk store only asks for one. */
  sign: (claims: { key: string; filename: string; ttlSeconds: number }) => Promise<PresignedUrl>;
}

/** What put recorded about an object, kept beside it so head needs no re-read. */
interface Sidecar {
  bytes: number;
  sha256: string;
  contentType: string;
}

/**
 * The object store when no S3 is configured: bodies under `<dir>/blobs/<key>`, their metadata under
 * `<dir>/meta/<key>.json` (two trees, so no key can collide with another key's metadata). Writes are
 * atomic like Volume.write, and the body is hashed while it is written: a body that does not match
 * what the caller declared is never renamed into place. etag = sha256.
 */
export class DiskObjectStore implements ObjectStore {
  readonly kind = 'disk' as const;
  readonly bucket: string;
  readonly #blobs: Volume;
  readonly #meta: Volume;
  readonly #sign: DiskObjectStoreOptions['sign'];

  constructor(options: DiskObjectStoreOptions) {
    this.bucket = options.bucket ?? 'disk';
    // Volume supplies the key → path mapping that cannot leave its directory.
    this.#blobs = new Volume(join(options.dir, 'blobs'));
    this.#meta = new Volume(join(options.dir, 'meta'));
    this.#sign = options.sign;
  }

  /** The file behind a key, for a route that wants to sendfile it. */
  pathOf(key: string): string {
    assertStorageKey(key);
    return this.#blobs.pathOf(key);
  }

  put(key: string, body: Uint8Array | NodeJS.ReadableStream, info: { bytes: number; sha256: string; contentType?: string }): Promise<{ etag: string }> {
    return unavailableOnFsError(() => this.#putUnguarded(key, body, info));
  }

  head(key: string): Promise<ObjectInfo | null> {
    return unavailableOnFsError(() => this.#headUnguarded(key));
  }

  digest(key: string): Promise<{ bytes: number; sha256: string } | null> {
    return unavailableOnFsError(() => this.#digestUnguarded(key));
  }

  get(key: string, range?: ByteRange): Promise<NodeJS.ReadableStream | null> {
    return unavailableOnFsError(() => this.#getUnguarded(key, range));
  }

  putIfAbsent(key: string, body: Uint8Array, contentType: string): Promise<'created' | 'exists'> {
    return unavailableOnFsError(() => this.#putIfAbsentUnguarded(key, body, contentType));
  }

  async #putIfAbsentUnguarded(key: string, body: Uint8Array, contentType: string): Promise<'created' | 'exists'> {
    assertStorageKey(key);
    const path = this.#blobs.pathOf(key);
    const dir = dirname(path);
    await mkdir(dir, { recursive: true });
    const temp = join(dir, `.${randomUUID()}.tmp`);
    try {
      await writeFile(temp, body, { flag: 'wx', mode: 0o640 });
      const file = await open(temp, 'r+');
      try {
        await file.sync();
      } finally {
        await file.close();
      }
      // link(2) fails with EEXIST instead of replacing: the write-once step (rename would replace).
      await link(temp, path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return 'exists';
      throw err;
    } finally {
      await rm(temp, { force: true });
    }
    const sha256 = createHash('sha256').update(body).digest('hex');
    await this.#meta.write(`${key}.json`, Buffer.from(JSON.stringify({ bytes: body.byteLength, sha256, contentType } satisfies Sidecar)));
    return 'created';
  }

  async #putUnguarded(
    key: string,
    body: Uint8Array | NodeJS.ReadableStream,
    info: { bytes: number; sha256: string; contentType?: string },
  ): Promise<{ etag: string }> {
    assertStorageKey(key);
    assertPutInfo(info);
    const path = this.#blobs.pathOf(key);
    const counter = new Sha256Stream();
    await atomicWrite(path, async (temp) => {
      const source = body instanceof Uint8Array ? Readable.from([body]) : body;
      await pipeline(source, counter, createWriteStream(temp, { flags: 'wx', mode: 0o640 }));
      const actual = { bytes: counter.bytes, sha256: counter.sha256 };
      if (actual.bytes !== info.bytes || actual.sha256 !== info.sha256) {
        throw new ObjectDigestMismatchError(key, { bytes: info.bytes, sha256: info.sha256 }, actual);
      }
    });
    const sidecar: Sidecar = { bytes: info.bytes, sha256: info.sha256, contentType: info.contentType ?? 'application/octet-stream' };
    await this.#meta.write(`${key}.json`, Buffer.from(JSON.stringify(sidecar)));
    return { etag: info.sha256 };
  }

  async #headUnguarded(key: string): Promise<ObjectInfo | null> {
    assertStorageKey(key);
    const size = await this.#blobs.size(key);
    if (size === null) return null;
    const sidecar = await this.#readSidecar(key);
    if (sidecar && sidecar.bytes === size) return { bytes: size, sha256: sidecar.sha256, etag: sidecar.sha256 };
    // A crash between the body's rename and the sidecar's: the body is whole, so hash it once.
    const digest = await this.#digestUnguarded(key);
    if (!digest) return null;
    return { bytes: digest.bytes, sha256: digest.sha256, etag: digest.sha256 };
  }

  async #digestUnguarded(key: string): Promise<{ bytes: number; sha256: string } | null> {
    assertStorageKey(key);
    const stream = await this.#getUnguarded(key);
    return stream ? digestStream(stream) : null;
  }

  async #getUnguarded(key: string, range?: ByteRange): Promise<NodeJS.ReadableStream | null> {
    assertStorageKey(key);
    if (range) assertByteRange(range);
    const path = this.#blobs.pathOf(key);
    // Open first, so a file removed between the check and the read cannot turn into a stream error.
    let file;
    try {
      file = await open(path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    if (range) {
      const { size } = await file.stat();
      if (range.start >= size) {
        await file.close();
        throw new RangeNotSatisfiableError(key, range);
      }
      return file.createReadStream({ start: range.start, end: Math.min(range.end, size - 1) });
    }
    return file.createReadStream();
  }

  async presignGet(key: string, options: { ttlSeconds: number; filename: string }): Promise<PresignedUrl> {
    assertStorageKey(key);
    assertTtl(options.ttlSeconds);
    return this.#sign({ key, filename: options.filename, ttlSeconds: options.ttlSeconds });
  }

  async delete(key: string): Promise<void> {
    assertStorageKey(key);
    await rm(this.#blobs.pathOf(key), { force: true });
    await rm(this.#meta.pathOf(`${key}.json`), { force: true });
  }

  async #readSidecar(key: string): Promise<Sidecar | null> {
    try {
      return JSON.parse(await readFile(this.#meta.pathOf(`${key}.json`), 'utf8')) as Sidecar;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || err instanceof SyntaxError) return null;
      throw err;
    }
  }
}

/**
 * A file-system failure other than a missing object (the directory unmounted, replaced, full,
 * not writable) means the store is unavailable: callers back off and retry, downloads answer 503.
 */
async function unavailableOnFsError<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code) && code !== 'ENOENT') {
      throw new ObjectStoreUnavailableError(`the disk object store is unavailable: ${(err as Error).message}`, { cause: err });
    }
    throw err;
  }
}
