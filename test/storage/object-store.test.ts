import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiskObjectStore } from '../../src/storage/disk-object-store.js';
import {
  ObjectDigestMismatchError,
  ObjectStoreUnavailableError,
  RangeNotSatisfiableError,
  type ObjectStore,
  type PresignedUrl,
} from '../../src/storage/object-store.js';
import { S3ObjectStore } from '../../src/storage/s3-object-store.js';
import { digestStream } from '../../src/storage/sha256-stream.js';
import { InvalidStorageKeyError } from '../../src/storage/volume.js';
import { startS3Server, type TestS3Server } from '../support/s3-server.js';

const MiB = 1024 * 1024;

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** `total` bytes in `chunk`-sized pieces, produced lazily, with their sha256 known up front. */
function bigBody(total: number, chunk = MiB): { stream: () => Readable; bytes: number; sha256: string } {
  const seed = randomBytes(chunk);
  const piece = (i: number) => {
    const size = Math.min(chunk, total - i * chunk);
    const out = Buffer.from(seed.subarray(0, size));
    out.writeUInt32BE(i, 0); // every chunk differs, so a dropped or repeated part changes the hash
    return out;
  };
  const count = Math.ceil(total / chunk);
  const hash = createHash('sha256');
  for (let i = 0; i < count; i++) hash.update(piece(i));
  return {
    stream: () =>
      Readable.from(
        (function* () {
          for (let i = 0; i < count; i++) yield piece(i);
        })(),
      ),
    bytes: total,
    sha256: hash.digest('hex'),
  };
}

interface Harness {
  store: ObjectStore;
  signed: { key: string; filename: string; ttlSeconds: number }[];
  close(): Promise<void>;
}

const INVALID_KEYS = ['../x', '/abs', 'a//b', 'a/./b', 'a/..', 'a/', '', '.hidden', 'a\\b', 'a b', `${'x'.repeat(513)}`];

const suites: [string, () => Promise<Harness>][] = [
  [
    's3',
    async () => {
      const server = await startS3Server();
      const store = new S3ObjectStore(server.storeOptions);
      return { store, signed: [], close: async () => (store.close(), server.close()) };
    },
  ],
  [
    'disk',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'quire-objects-'));
      const signed: Harness['signed'] = [];
      const sign = async (claims: { key: string; filename: string; ttlSeconds: number }): Promise<PresignedUrl> => {
        signed.push(claims);
        return { url: `http://quire.test/files/${encodeURIComponent(claims.key)}`, expiresAt: new Date(Date.now() + claims.ttlSeconds * 1000) };
      };
      const store = new DiskObjectStore({ dir, sign });
      return { store, signed, close: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  ],
];

describe.each(suites)('%s object store', (kind, open) => {
  let h: Harness;
  beforeAll(async () => {
    h = await open();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('round-trips put, head, digest and get with sha256', async () => {
    const body = Buffer.from('%PDF-1.7 hello object store');
    const key = 'reports/round-trip/a.pdf';
    const { etag } = await h.store.put(key, body, { bytes: body.length, sha256: sha256(body), contentType: 'application/pdf' });
    expect(etag).not.toBe('');
    expect(etag).not.toMatch(/^"/);
    expect(h.store.kind).toBe(kind);
    expect(h.store.bucket).not.toBe('');

    expect(await h.store.head(key)).toEqual({ bytes: body.length, sha256: sha256(body), etag });
    expect(await h.store.digest(key)).toEqual({ bytes: body.length, sha256: sha256(body) });
    expect(await readAll((await h.store.get(key))!)).toEqual(body);
  });

  it('reads byte ranges (inclusive end, clamped at the end of the object)', async () => {
    const body = Buffer.from('0123456789abcdef');
    const key = 'reports/range/r.pdf';
    await h.store.put(key, body, { bytes: body.length, sha256: sha256(body) });
    expect((await readAll((await h.store.get(key, { start: 2, end: 5 }))!)).toString()).toBe('2345');
    expect((await readAll((await h.store.get(key, { start: 0, end: 0 }))!)).toString()).toBe('0');
    expect((await readAll((await h.store.get(key, { start: 10, end: 1000 }))!)).toString()).toBe('abcdef');
    await expect(h.store.get(key, { start: 16, end: 20 })).rejects.toBeInstanceOf(RangeNotSatisfiableError);
    await expect(h.store.get(key, { start: 5, end: 2 })).rejects.toBeInstanceOf(RangeError);
    expect(await h.store.get('reports/range/missing.pdf', { start: 0, end: 1 })).toBeNull();
  });

  it('streams a body over 8 MiB (multipart for S3) with the bytes exact', async () => {
    const big = bigBody(21 * MiB + 12345);
    const key = 'reports/big/b.pdf';
    const commands: string[] = [];
    if (h.store instanceof S3ObjectStore) {
      h.store.client.middlewareStack.add(
        (next, context) => (args) => {
          commands.push(context.commandName ?? '?');
          return next(args);
        },
        { step: 'initialize', name: 'recordCommands' },
      );
    }
    await h.store.put(key, big.stream(), { bytes: big.bytes, sha256: big.sha256 });
    if (h.store instanceof S3ObjectStore) {
      h.store.client.middlewareStack.remove('recordCommands');
      // s3rver gives a multipart object a plain MD5 etag, so look at what was sent instead.
      expect(commands).toEqual([
        'CreateMultipartUploadCommand',
        'UploadPartCommand',
        'UploadPartCommand',
        'UploadPartCommand',
        'CompleteMultipartUploadCommand',
      ]);
    }
    expect(await h.store.head(key)).toMatchObject({ bytes: big.bytes, sha256: big.sha256 });
    expect(await h.store.digest(key)).toEqual({ bytes: big.bytes, sha256: big.sha256 });
    expect(await digestStream((await h.store.get(key))!)).toEqual({ bytes: big.bytes, sha256: big.sha256 });
  });

  it('puts a large Uint8Array too', async () => {
    const body = randomBytes(9 * MiB);
    const key = 'reports/big/bytes.pdf';
    await h.store.put(key, body, { bytes: body.length, sha256: sha256(body) });
    expect(await h.store.digest(key)).toEqual({ bytes: body.length, sha256: sha256(body) });
  });

  it('refuses a body that is not what the caller declared and keeps nothing', async () => {
    const body = Buffer.from('actual bytes');
    const declared = { bytes: body.length, sha256: sha256(Buffer.from('other bytes!')) };
    await expect(h.store.put('reports/bad/bytes.pdf', body, declared)).rejects.toBeInstanceOf(ObjectDigestMismatchError);
    expect(await h.store.head('reports/bad/bytes.pdf')).toBeNull();

    await expect(h.store.put('reports/bad/stream.pdf', Readable.from([body]), declared)).rejects.toBeInstanceOf(ObjectDigestMismatchError);
    expect(await h.store.head('reports/bad/stream.pdf')).toBeNull();

    const short = { bytes: body.length + 1, sha256: sha256(body) };
    await expect(h.store.put('reports/bad/short.pdf', Readable.from([body]), short)).rejects.toBeInstanceOf(ObjectDigestMismatchError);
    expect(await h.store.head('reports/bad/short.pdf')).toBeNull();
  });

  it('answers null for a missing key', async () => {
    expect(await h.store.head('reports/nope/x.pdf')).toBeNull();
    expect(await h.store.digest('reports/nope/x.pdf')).toBeNull();
    expect(await h.store.get('reports/nope/x.pdf')).toBeNull();
  });

  it('refuses keys that could escape or be ambiguous', async () => {
    const body = Buffer.from('x');
    const info = { bytes: 1, sha256: sha256(body) };
    for (const key of INVALID_KEYS) {
      await expect(h.store.put(key, body, info), key).rejects.toBeInstanceOf(InvalidStorageKeyError);
      await expect(h.store.head(key), key).rejects.toBeInstanceOf(InvalidStorageKeyError);
      await expect(h.store.digest(key), key).rejects.toBeInstanceOf(InvalidStorageKeyError);
      await expect(h.store.get(key), key).rejects.toBeInstanceOf(InvalidStorageKeyError);
      await expect(h.store.presignGet(key, { ttlSeconds: 60, filename: 'x.pdf' }), key).rejects.toBeInstanceOf(InvalidStorageKeyError);
    }
  });

  if (kind === 'disk') {
    it('presigns through the injected signer', async () => {
      const url = await h.store.presignGet('reports/round-trip/a.pdf', { ttlSeconds: 120, filename: 'Quarterly report.pdf' });
      expect(url.url).toBe('http://quire.test/files/reports%2Fround-trip%2Fa.pdf');
      expect(h.signed).toEqual([{ key: 'reports/round-trip/a.pdf', filename: 'Quarterly report.pdf', ttlSeconds: 120 }]);
      await expect(h.store.presignGet('reports/round-trip/a.pdf', { ttlSeconds: 0, filename: 'x.pdf' })).rejects.toBeInstanceOf(RangeError);
    });
  }
});

describe('s3 object store over HTTP', () => {
  let server: TestS3Server;
  let store: S3ObjectStore;
  const body = Buffer.from('%PDF-1.7 presigned');
  const key = 'reports/presigned/p.pdf';

  beforeAll(async () => {
    server = await startS3Server();
    store = new S3ObjectStore(server.storeOptions);
    await store.put(key, body, { bytes: body.length, sha256: sha256(body), contentType: 'application/pdf' });
  });
  afterAll(async () => {
    store?.close();
    await server?.close();
  });

  it('presigns a GET that plain fetch can download as an attachment', async () => {
    const before = Date.now();
    const signed = await store.presignGet(key, { ttlSeconds: 300, filename: 'Résumé "Q3" / 2026.pdf' });
    expect(signed.expiresAt.getTime()).toBeGreaterThan(before + 298_000);
    expect(signed.expiresAt.getTime()).toBeLessThanOrEqual(before + 300_000);
    const res = await fetch(signed.url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/pdf');
    expect(res.headers.get('content-disposition')).toBe(
      `attachment; filename="Resume _Q3_ _ 2026.pdf"; filename*=UTF-8''R%C3%A9sum%C3%A9%20%22Q3%22%20%2F%202026.pdf`,
    );
    expect(Buffer.from(await res.arrayBuffer())).toEqual(body);
  });

  it('rejects a tampered presigned URL', async () => {
    const signed = await store.presignGet(key, { ttlSeconds: 300, filename: 'a.pdf' });
    const url = new URL(signed.url);
    url.searchParams.set('response-content-disposition', 'attachment; filename="evil.exe"');
    expect((await fetch(url)).status).toBe(403);
    const other = new URL(signed.url);
    other.pathname = other.pathname.replace('p.pdf', 'q.pdf');
    expect((await fetch(other)).status).toBe(403);
  });

  it('lets a presigned URL expire (the server enforces X-Amz-Expires)', async () => {
    const signed = await store.presignGet(key, { ttlSeconds: 1, filename: 'a.pdf' });
    expect((await fetch(signed.url)).status).toBe(200);
    // X-Amz-Date has whole seconds: 2.5 s after signing is past expiry with margin.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const res = await fetch(signed.url);
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('expired');
  });

  it('rejects requests signed with the wrong secret (the server checks SigV4)', async () => {
    const wrong = new S3ObjectStore({ ...server.storeOptions, secretAccessKey: 'not-the-secret' });
    try {
      await expect(wrong.head(key)).rejects.not.toBeInstanceOf(ObjectStoreUnavailableError);
      await expect(wrong.head(key)).rejects.toThrow();
    } finally {
      wrong.close();
    }
  });

  it('fails fast with ObjectStoreUnavailableError while the store is down, and works again after', async () => {
    expect(await store.head(key)).not.toBeNull(); // leave a keep-alive socket open to be cut
    await server.stop();
    const started = Date.now();
    await expect(store.head(key)).rejects.toBeInstanceOf(ObjectStoreUnavailableError);
    await expect(store.digest(key)).rejects.toBeInstanceOf(ObjectStoreUnavailableError);
    await expect(store.get(key)).rejects.toBeInstanceOf(ObjectStoreUnavailableError);
    await expect(store.put('reports/down/x.pdf', body, { bytes: body.length, sha256: sha256(body) })).rejects.toBeInstanceOf(
      ObjectStoreUnavailableError,
    );
    const big = bigBody(10 * MiB);
    await expect(store.put('reports/down/big.pdf', big.stream(), { bytes: big.bytes, sha256: big.sha256 })).rejects.toBeInstanceOf(
      ObjectStoreUnavailableError,
    );
    expect(Date.now() - started).toBeLessThan(10_000);

    await server.start();
    expect(await store.head(key)).toMatchObject({ bytes: body.length, sha256: sha256(body) });
    expect(await store.digest(key)).toEqual({ bytes: body.length, sha256: sha256(body) });
    await store.put('reports/down/x.pdf', body, { bytes: body.length, sha256: sha256(body) });
    expect(await store.head('reports/down/x.pdf')).not.toBeNull();
  });

  it('ensureBucket creates a missing bucket and accepts an existing one', async () => {
    const options = { ...server.storeOptions, bucket: 'quire-other' };
    await S3ObjectStore.ensureBucket(options);
    await S3ObjectStore.ensureBucket(options);
    const other = new S3ObjectStore(options);
    try {
      await other.put('a.pdf', body, { bytes: body.length, sha256: sha256(body) });
      expect(await other.head('a.pdf')).not.toBeNull();
    } finally {
      other.close();
    }
  });
});
