import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { createHash } from 'node:crypto';
import { pipeline, Transform, type Readable } from 'node:stream';
import { attachmentDisposition } from './content-disposition.js';
import {
  assertByteRange,
  assertPutInfo,
  assertStorageKey,
  assertTtl,
  ObjectDigestMismatchError,
  ObjectStoreUnavailableError,
  RangeNotSatisfiableError,
  type ByteRange,
  type ObjectInfo,
  type ObjectStore,
  type PresignedUrl,
} from './object-store.js';
import { digestStream, Sha256Stream } from './sha256-stream.js';

export interface S3ObjectStoreOptions {
  /** `AWS_ENDPOINT_URL_S3`; omitted for AWS itself. */
  endpoint?: string;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  forcePathStyle?: boolean;
  /** A store that is down must fail fast: TCP connect limit. Default 2 s. */
  connectionTimeoutMs?: number;
  /** Until the response headers arrive, and socket idle time while streaming. Default 30 s. */
  requestTimeoutMs?: number;
  /** Attempts per request, including the first. Default 2: callers back off on their own. */
  maxAttempts?: number;
  /** Bodies larger than this go up as a multipart upload of parts this big. Default 8 MiB (S3 minimum is 5). */
  partSizeBytes?: number;
}

const MiB = 1024 * 1024;

/** Network failures that mean "not reachable right now", not "wrong request". */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'ERR_STREAM_PREMATURE_CLOSE',
]);
const UNAVAILABLE_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException', 'SlowDown', 'ServiceUnavailable', 'InternalError', 'ThrottlingException']);

/** S3-compatible object store (Tigris, R2, AWS, MinIO) through the AWS SDK v3. */
export class S3ObjectStore implements ObjectStore {
  readonly kind = 's3' as const;
  readonly bucket: string;
  readonly client: S3Client;
  readonly #partSize: number;
  readonly #tigris: boolean;

  constructor(options: S3ObjectStoreOptions) {
    this.bucket = options.bucket;
    this.#partSize = Math.max(options.partSizeBytes ?? 8 * MiB, 5 * MiB);
    this.#tigris = /(^|\.)(tigris\.dev|storage\.dev)$/.test(options.endpoint ? new URL(options.endpoint).hostname : '');
    this.client = new S3Client({
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      region: options.region,
      credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
      forcePathStyle: options.forcePathStyle ?? false,
      // S3-compatible stores reject the SDK's default CRC32 trailers, and a stream body would be
      // stored with its aws-chunked framing; quire checks sha256 itself.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: options.maxAttempts ?? 2,
      requestHandler: {
        connectionTimeout: options.connectionTimeoutMs ?? 2_000,
        requestTimeout: options.requestTimeoutMs ?? 30_000,
        throwOnRequestTimeout: true,
        socketTimeout: options.requestTimeoutMs ?? 30_000,
      },
    });
  }

  /** For tests and development: creates the bucket unless it exists. */
  static async ensureBucket(options: S3ObjectStoreOptions): Promise<void> {
    const store = new S3ObjectStore(options);
    try {
      await store.#call(async () => {
        try {
          await store.client.send(new HeadBucketCommand({ Bucket: store.bucket }));
        } catch (err) {
          if (statusOf(err) !== 404) throw err;
          try {
            await store.client.send(new CreateBucketCommand({ Bucket: store.bucket }));
          } catch (createErr) {
            // Created meanwhile by a concurrent ensureBucket (s3rver answers BucketAlreadyExists).
            if (nameOf(createErr) !== 'BucketAlreadyOwnedByYou' && nameOf(createErr) !== 'BucketAlreadyExists') throw createErr;
          }
        }
      });
    } finally {
      store.close();
    }
  }

  async put(
    key: string,
    body: Uint8Array | NodeJS.ReadableStream,
    info: { bytes: number; sha256: string; contentType?: string },
  ): Promise<{ etag: string }> {
    assertStorageKey(key);
    assertPutInfo(info);
    const common = {
      Bucket: this.bucket,
      Key: key,
      Metadata: { sha256: info.sha256 },
      ContentType: info.contentType ?? 'application/octet-stream',
    };
    if (body instanceof Uint8Array) {
      const actual = { bytes: body.byteLength, sha256: createHash('sha256').update(body).digest('hex') };
      if (actual.bytes !== info.bytes || actual.sha256 !== info.sha256) throw new ObjectDigestMismatchError(key, info, actual);
      return this.#call(async () => {
        const out =
          body.byteLength <= this.#partSize
            ? await this.client.send(new PutObjectCommand({ ...common, Body: body, ContentLength: body.byteLength }))
            : await new Upload({ client: this.client, params: { ...common, Body: body }, partSize: this.#partSize, queueSize: 4 }).done();
        return { etag: unquote(out.ETag ?? '') };
      });
    }
    // A stream is hashed on the way out, so a body that is not what the caller declared does not
    // stay in the bucket.
    const counter = new Sha256Stream();
    pipeline(body, counter, () => undefined); // a source error destroys counter, which fails the upload
    const out = await this.#call(() =>
      // lib-storage sends one PutObject when the body fits in a part, a multipart upload otherwise,
      // buffering at most queueSize parts; it aborts the multipart upload on failure.
      new Upload({ client: this.client, params: { ...common, Body: counter }, partSize: this.#partSize, queueSize: 4 }).done(),
    );
    const actual = { bytes: counter.bytes, sha256: counter.sha256 };
    if (actual.bytes !== info.bytes || actual.sha256 !== info.sha256) {
      await this.delete(key).catch(() => undefined);
      throw new ObjectDigestMismatchError(key, info, actual);
    }
    return { etag: unquote(out.ETag ?? '') };
  }

  async putIfAbsent(key: string, body: Uint8Array, contentType: string): Promise<'created' | 'exists'> {
    assertStorageKey(key);
    const sha256 = createHash('sha256').update(body).digest('hex');
    const command = new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: contentType, Metadata: { sha256 }, IfNoneMatch: '*' });
    if (this.#tigris) {
      // Tigris evaluates a condition on the bucket's leader only when asked: in a global bucket a
      // regional replica could otherwise miss an object written in another region.
      command.middlewareStack.add(
        (next) => async (args) => {
          (args.request as { headers: Record<string, string> }).headers['x-tigris-consistent'] = 'true';
          return next(args);
        },
        { step: 'build', name: 'tigrisConsistent' },
      );
    }
    return this.#call(async () => {
      try {
        await this.client.send(command);
        return 'created' as const;
      } catch (err) {
        // 412: the key exists. (S3 answers 409 ConditionalRequestConflict to a concurrent create: it throws, the caller retries.)
        if (statusOf(err) === 412 || nameOf(err) === 'PreconditionFailed') return 'exists' as const;
        throw err;
      }
    });
  }

  async head(key: string): Promise<ObjectInfo | null> {
    assertStorageKey(key);
    return this.#call(async () => {
      try {
        const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
        return { bytes: out.ContentLength ?? 0, sha256: out.Metadata?.['sha256'] ?? null, etag: unquote(out.ETag ?? '') };
      } catch (err) {
        if (isMissing(err)) return null;
        throw err;
      }
    });
  }

  async digest(key: string): Promise<{ bytes: number; sha256: string } | null> {
    assertStorageKey(key);
    // Inside #call so a connection dropped mid-body also reads as "unavailable".
    return this.#call(async () => {
      const body = await this.#getBody(key);
      return body ? digestStream(body) : null;
    });
  }

  async get(key: string, range?: ByteRange): Promise<NodeJS.ReadableStream | null> {
    assertStorageKey(key);
    if (range) assertByteRange(range);
    return this.#call(async () => {
      try {
        return await this.#getBody(key, range);
      } catch (err) {
        if (range && (statusOf(err) === 416 || nameOf(err) === 'InvalidRange')) throw new RangeNotSatisfiableError(key, range);
        throw err;
      }
    });
  }

  async presignGet(key: string, options: { ttlSeconds: number; filename: string }): Promise<PresignedUrl> {
    assertStorageKey(key);
    assertTtl(options.ttlSeconds);
    const signedAt = Date.now();
    const command = new GetObjectCommand({
      Bucket: this.bucket,
      Key: key,
      ResponseContentDisposition: attachmentDisposition(options.filename),
      ResponseContentType: 'application/pdf',
    });
    const url = await getSignedUrl(this.client, command, { expiresIn: options.ttlSeconds });
    // SigV4 dates have whole seconds, so the URL may die up to a second before signedAt + ttl.
    return { url, expiresAt: new Date(Math.floor(signedAt / 1000) * 1000 + options.ttlSeconds * 1000) };
  }

  async delete(key: string): Promise<void> {
    assertStorageKey(key);
    await this.#call(() => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })));
  }

  close(): void {
    this.client.destroy();
  }

  async #getBody(key: string, range?: ByteRange): Promise<Readable | null> {
    try {
      const out = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}) }),
      );
      const body = out.Body as Readable;
      if (!range) return body;
      // A server may send more than asked (HTTP allows ignoring Range; s3rver answers `bytes=0-0`
      // with the whole object and a Content-Range saying so): cut what was asked out of what came.
      const served = /^bytes (\d+)-(\d+)\//.exec(out.ContentRange ?? '');
      const servedStart = served ? Number(served[1]) : 0;
      const servedEnd = served ? Number(served[2]) : Infinity;
      if (servedStart > range.start) {
        body.destroy();
        throw new Error(`object ${key}: asked for bytes ${range.start}-${range.end}, got ${out.ContentRange}`);
      }
      if (servedStart === range.start && servedEnd <= range.end) return body;
      // pipeline, not pipe, so a connection dropped mid-body reaches the reader as an error.
      return pipeline(body, slice({ start: range.start - servedStart, end: range.end - servedStart }), () => undefined);
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
  }

  async #call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (isUnavailable(err)) throw new ObjectStoreUnavailableError(describe(err), { cause: err });
      throw err;
    }
  }
}

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
}

function nameOf(err: unknown): string | undefined {
  return (err as { name?: string } | null)?.name;
}

function isMissing(err: unknown): boolean {
  const name = nameOf(err);
  return name === 'NoSuchKey' || name === 'NotFound' || (statusOf(err) === 404 && name !== 'NoSuchBucket');
}

function isUnavailable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const status = statusOf(e);
    if (status !== undefined && (status >= 500 || status === 429)) return true;
    const code = (e as { code?: string }).code;
    if (code && UNAVAILABLE_CODES.has(code)) return true;
    const name = nameOf(e);
    if (name && UNAVAILABLE_NAMES.has(name)) return true;
    if (e instanceof AggregateError && e.errors.some(isUnavailable)) return true;
  }
  return false;
}

function describe(err: unknown): string {
  const e = err as { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  return [e.code ?? e.name, e.$metadata?.httpStatusCode, e.message].filter((x) => x !== undefined && x !== '').join(' ');
}

function unquote(etag: string): string {
  return etag.replace(/^"(.*)"$/, '$1');
}

/** Passes through only bytes start..end (inclusive) of what flows in. */
function slice(range: ByteRange): Transform {
  let offset = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      const from = Math.max(range.start - offset, 0);
      const to = Math.min(range.end + 1 - offset, chunk.length);
      offset += chunk.length;
      callback(null, from < to ? chunk.subarray(from, to) : undefined);
    },
  });
}
