// A real S3 endpoint for tests and the simulation: @20minutes/s3rver (a devDependency), with a SigV4 fix.
import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// @20minutes/s3rver ships no types and is CommonJS; this is the part of it used here.
interface S3rverInstance {
  /** Koa's middleware list, composed when the server starts listening. */
  middleware: KoaMiddleware[];
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  httpServer?: Server;
}
interface KoaContext {
  app: object;
  method: string;
  url: string;
  path: string;
  querystring: string;
  status: number;
  body: unknown;
  store: { existsObject(bucket: string, key: string): Promise<boolean> };
  get(header: string): string;
  set(header: string, value: string): void;
}
type KoaMiddleware = (ctx: KoaContext, next: () => Promise<unknown>) => Promise<unknown>;
type S3rverConstructor = new (options: {
  address: string;
  port: number;
  directory: string;
  silent: boolean;
  vhostBuckets: boolean;
  configureBuckets: { name: string }[];
}) => S3rverInstance;
const S3rver = createRequire(import.meta.url)('@20minutes/s3rver') as S3rverConstructor;

export interface TestS3Server {
  /** `http://127.0.0.1:<port>`; use path-style addressing. */
  readonly endpoint: string;
  readonly port: number;
  readonly bucket: string;
  readonly region: string;
  /** The server's built-in account (it checks SigV4 signatures against it). */
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Its storage; survives stop()/start(). */
  readonly directory: string;
  /** Options for S3ObjectStore, path-style. */
  readonly storeOptions: {
    endpoint: string;
    bucket: string;
    region: string;
    accessKeyId: string;
    secretAccessKey: string;
    forcePathStyle: true;
  };
  /** The environment quire reads to use this store (as `fly storage create` sets it), path-style. */
  readonly env: Record<string, string>;
  readonly running: boolean;
  /** Takes the server down, dropping open connections: "the object store is down". Data is kept. */
  stop(): Promise<void>;
  /** Brings it back on the same port with the same data. */
  start(): Promise<void>;
  /** Stops it and deletes its directory. */
  close(): Promise<void>;
  /** Holds every object PUT this long before storing it (a slow upload); 0 turns it off. */
  delayPuts(ms: number): void;
  /** Object PUTs received so far, by key (uploads started, whether or not they finished). */
  readonly puts: ReadonlyMap<string, number>;
}

/**
 * A real S3 HTTP endpoint (`@20minutes/s3rver`, which verifies SigV4 signatures and presigned-URL
 * expiry) on a random loopback port, storing into a temp directory, with one bucket created.
 */
export async function startS3Server(options: { bucket?: string } = {}): Promise<TestS3Server> {
  const bucket = options.bucket ?? 'quire-test';
  const directory = mkdtempSync(join(tmpdir(), 'quire-s3-'));
  let port = 0;
  let server: S3rverInstance | null = null;
  const credentials = { region: 'us-east-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
  let putDelayMs = 0;
  const puts = new Map<string, number>();
  const slowPuts: KoaMiddleware = async (ctx, next) => {
    const prefix = `/${bucket}/`;
    const path = ctx.url.split('?')[0]!;
    if (ctx.method === 'PUT' && path.startsWith(prefix) && path.length > prefix.length) {
      const key = decodeURIComponent(path.slice(prefix.length));
      puts.set(key, (puts.get(key) ?? 0) + 1);
      if (putDelayMs > 0) await new Promise((r) => setTimeout(r, putDelayMs));
    }
    return next();
  };

  const start = async (): Promise<void> => {
    if (server) return;
    const instance = new S3rver({
      address: '127.0.0.1',
      port,
      directory,
      silent: true,
      vhostBuckets: false,
      configureBuckets: [{ name: bucket }],
    });
    instance.middleware.unshift(sigV4Fix(credentials.accessKeyId, credentials.secretAccessKey), conditionalPut());
    instance.middleware.unshift(slowPuts);
    const address = await instance.run();
    port = address.port;
    server = instance;
  };

  const stop = async (): Promise<void> => {
    const instance = server;
    if (!instance) return;
    server = null;
    const closed = instance.close();
    // close() waits for keep-alive sockets; an outage drops them.
    instance.httpServer?.closeAllConnections();
    await closed;
  };

  await start();
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    port,
    bucket,
    directory,
    ...credentials,
    storeOptions: { endpoint, bucket, ...credentials, forcePathStyle: true },
    env: {
      AWS_ENDPOINT_URL_S3: endpoint,
      BUCKET_NAME: bucket,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      AWS_REGION: credentials.region,
      S3_FORCE_PATH_STYLE: 'true',
    },
    get running() {
      return server !== null;
    },
    stop,
    start,
    delayPuts(ms: number) {
      putDelayMs = ms;
    },
    puts,
    async close() {
      await stop();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/**
 * s3rver ignores `If-None-Match: *` on PutObject; S3, Tigris and R2 answer 412 Precondition
 * Failed when the key exists. This adds that answer (path-style URLs, as the tests use), with
 * puts to one key taken one at a time so two racing conditional creates cannot both succeed.
 */
function conditionalPut(): KoaMiddleware {
  const busy = new Map<string, Promise<unknown>>();
  return async (ctx, next) => {
    // Object PUTs only (the SDK adds ?x-id=PutObject); parts, tags, ACLs are other operations.
    const subresource = [...new URLSearchParams(ctx.querystring).keys()].some((k) => k !== 'x-id');
    if (ctx.method !== 'PUT' || ctx.get('if-none-match').trim() !== '*' || subresource) return next();
    const [, bucket, ...rest] = ctx.path.split('/');
    if (!bucket || rest.length === 0) return next();
    const key = decodeURIComponent(rest.join('/'));
    const id = `${bucket}/${key}`;
    const previous = busy.get(id) ?? Promise.resolve();
    const run = previous.then(async () => {
      if (await ctx.store.existsObject(bucket, key)) {
        ctx.status = 412;
        ctx.set('Content-Type', 'application/xml');
        ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message><Condition>If-None-Match</Condition></Error>`;
        return;
      }
      return next();
    });
    const settled = run.catch(() => undefined);
    busy.set(id, settled);
    try {
      return await run;
    } finally {
      if (busy.get(id) === settled) busy.delete(id);
    }
  };
}

/**
 * s3rver's SigV4 check differs from S3 in two places: it canonicalises query strings with
 * encodeURIComponent, which leaves `'()*!` unescaped where SigV4 (RFC 3986) escapes them, so every
 * presigned URL carrying `filename*=UTF-8''…` fails; and it drops the trailing slash of bucket paths
 * (`/bucket/`, which the SDK signs for HeadBucket/CreateBucket). This verifies the signature the way
 * S3 does and, when it is right, lets that one request past s3rver's comparison. A wrong signature
 * still fails there; s3rver's own expiry and clock-skew checks still run.
 */
function sigV4Fix(accessKeyId: string, secretAccessKey: string): KoaMiddleware {
  return async (ctx, next) => {
    const auth = readSigV4(ctx);
    if (!auth || auth.accessKeyId !== accessKeyId) return next();
    const rfc3986 = (v: string) => encodeURIComponent(v).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
    const query = [...new URLSearchParams(ctx.querystring)]
      .filter(([name]) => name !== 'X-Amz-Signature')
      .map(([name, value]) => `${rfc3986(name)}=${rfc3986(value)}`)
      .sort()
      .join('&');
    const canonical = [
      ctx.method,
      ctx.url.split('?')[0],
      query,
      auth.signedHeaders.map((h) => `${h}:${ctx.get(h).trim().replace(/ +/g, ' ')}\n`).join(''),
      auth.signedHeaders.join(';'),
      auth.payload,
    ].join('\n');
    const toSign = ['AWS4-HMAC-SHA256', auth.date, auth.scope.join('/'), createHash('sha256').update(canonical).digest('hex')].join('\n');
    let key: Buffer = createHmac('sha256', `AWS4${secretAccessKey}`).update(auth.scope[0]!).digest();
    for (const part of auth.scope.slice(1)) key = createHmac('sha256', key).update(part).digest();
    if (createHmac('sha256', key).update(toSign).digest('hex') === auth.signature) {
      ctx.app = Object.create(ctx.app, { allowMismatchedSignatures: { value: true } }) as object;
    }
    return next();
  };
}

function readSigV4(
  ctx: KoaContext,
): { accessKeyId: string; scope: string[]; date: string; signedHeaders: string[]; signature: string; payload: string } | null {
  const params = new URLSearchParams(ctx.querystring);
  let credential: string | undefined;
  let signedHeaders: string | undefined;
  let signature: string | undefined;
  let date: string | undefined;
  let payload: string;
  if (params.get('X-Amz-Algorithm') === 'AWS4-HMAC-SHA256') {
    credential = params.get('X-Amz-Credential') ?? undefined;
    signedHeaders = params.get('X-Amz-SignedHeaders') ?? undefined;
    signature = params.get('X-Amz-Signature') ?? undefined;
    date = params.get('X-Amz-Date') ?? undefined;
    payload = 'UNSIGNED-PAYLOAD';
  } else {
    const header = ctx.get('authorization');
    if (!header.startsWith('AWS4-HMAC-SHA256 ')) return null;
    const fields = Object.fromEntries(
      header
        .slice('AWS4-HMAC-SHA256 '.length)
        .split(',')
        .map((f) => f.trim().split('=') as [string, string]),
    );
    credential = fields['Credential'];
    signedHeaders = fields['SignedHeaders'];
    signature = fields['Signature'];
    date = ctx.get('x-amz-date') || undefined;
    payload = ctx.get('x-amz-content-sha256') || 'UNSIGNED-PAYLOAD';
  }
  const [accessKeyId, ...scope] = credential?.split('/') ?? [];
  if (!accessKeyId || scope.length !== 4 || !signedHeaders || !signature || !date) return null;
  return { accessKeyId, scope, date, signedHeaders: signedHeaders.split(';'), signature, payload };
}
