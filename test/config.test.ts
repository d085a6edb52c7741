import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, machineBaseUrl, machineIdFromHost } from '../src/config.js';
import { configuredSealKeys, generateSealKey } from '../src/audit/seal-key.js';

const TEST_SEAL_KEY = generateSealKey().privateKey;

describe('machine configuration', () => {
  it('takes FLY_MACHINE_ID, else MACHINE_ID, else a sanitised host name', () => {
    expect(loadConfig({ FLY_MACHINE_ID: '148ed193b95089', MACHINE_ID: 'other' }).machineId).toBe('148ed193b95089');
    expect(loadConfig({ MACHINE_ID: 'box-2' }).machineId).toBe('box-2');
    expect(loadConfig({}).machineId).toMatch(/^[a-z0-9-]{1,64}$/);
    expect(machineIdFromHost('Web_01.Example.COM')).toBe('web-01-example-com');
    expect(machineIdFromHost(`--${'a'.repeat(80)}`)).toBe('a'.repeat(64));
    expect(machineIdFromHost('...')).toBe('local');
  });

  it('PERSISTED_DOCUMENTS is allow or require (allow by default); PDF_AUTHOR names the service in every PDF (quire by default)', () => {
    expect(loadConfig({})).toMatchObject({ persistedDocuments: 'allow', pdfAuthor: 'quire' });
    expect(loadConfig({ PERSISTED_DOCUMENTS: 'require', PDF_AUTHOR: 'acme reports' })).toMatchObject({ persistedDocuments: 'require', pdfAuthor: 'acme reports' });
    expect(() => loadConfig({ PERSISTED_DOCUMENTS: 'yes' })).toThrow(/PERSISTED_DOCUMENTS/);
    expect(() => loadConfig({ PDF_AUTHOR: 'a\u0000b' })).toThrow(/PDF_AUTHOR: no control characters/);
  });

  it('reads retention as ISO-8601 durations: a default, per-template defaults, a maximum the defaults must fit', () => {
    expect(loadConfig({}).retention).toEqual({ defaultSeconds: null, byTemplate: {}, maxSeconds: null });
    expect(loadConfig({ RETENTION_DEFAULT: 'P90D,summary=PT12H', RETENTION_MAX: 'P52W' }).retention).toEqual({
      defaultSeconds: 90 * 86_400,
      byTemplate: { summary: 12 * 3600 },
      maxSeconds: 52 * 7 * 86_400,
    });
    expect(() => loadConfig({ RETENTION_DEFAULT: 'P1Y' })).toThrow(/RETENTION_DEFAULT: a list of durations/);
    expect(() => loadConfig({ RETENTION_MAX: '3600' })).toThrow(/RETENTION_MAX: an ISO-8601 duration/);
    // Every request would then expire past any date there is (a 500, or an event the log refuses).
    expect(() => loadConfig({ RETENTION_DEFAULT: 'P99999999999D' })).toThrow(/RETENTION_DEFAULT: .*at most P5200W/);
    expect(() => loadConfig({ RETENTION_MAX: 'P99999999999D' })).toThrow(/RETENTION_MAX: .*at most P5200W/);
    expect(loadConfig({ RETENTION_DEFAULT: 'P5200W' }).retention.defaultSeconds).toBe(5200 * 7 * 86_400);
    // A misspelt template would keep its reports forever without a word.
    expect(() => loadConfig({ RETENTION_DEFAULT: 'P90D,sumary=PT12H' })).toThrow(/RETENTION_DEFAULT: no template is called sumary \(templates: table, summary, history\)/);
    expect(() => loadConfig({ RETENTION_DEFAULT: 'table=P60D', RETENTION_MAX: 'P30D' })).toThrow(/RETENTION_DEFAULT: the default for table is longer than RETENTION_MAX/);
  });

  it('refuses machine ids that are not safe tokens', () => {
    for (const bad of ['../x', 'a b', 'x'.repeat(65), 'a,b']) {
      expect(() => loadConfig({ MACHINE_ID: bad })).toThrow(ConfigError);
      expect(() => loadConfig({ FLY_MACHINE_ID: bad })).toThrow(/FLY_MACHINE_ID: a machine id/);
    }
    expect(() => loadConfig({ MACHINE_URLS: 'm1=ftp://x' })).toThrow(/MACHINE_URLS/);
    expect(() => loadConfig({ MACHINE_URL_TEMPLATE: 'http://{region}.internal' })).toThrow(/MACHINE_URL_TEMPLATE/);
  });

  it('finds a machine’s URL in MACHINE_URLS, then the template, then its region’s URL', () => {
    const config = loadConfig({
      FLY_APP_NAME: 'quire',
      AUTH_SECRET: 'x'.repeat(32),
      SEAL_SIGNING_KEY: TEST_SEAL_KEY,
      DATA_ENCRYPTION_KEY: 'k'.repeat(32),
      PORT: '8080',
      MACHINE_URLS: 'm1=http://10.0.0.1:8080/',
      MACHINE_URL_TEMPLATE: 'http://{machine}.vm.{app}.internal:{port}',
      REGION_URLS: 'iad=https://iad.example.com',
    });
    expect(machineBaseUrl(config, 'm1', 'iad')).toBe('http://10.0.0.1:8080');
    expect(machineBaseUrl(config, 'm2', 'iad')).toBe('http://m2.vm.quire.internal:8080');
    expect(machineBaseUrl(config, null, 'iad')).toBe('https://iad.example.com');
    const noTemplate = loadConfig({ REGION_URLS: 'iad=https://iad.example.com' });
    expect(machineBaseUrl(noTemplate, 'm9', 'iad')).toBe('https://iad.example.com');
    expect(machineBaseUrl(noTemplate, 'm9', 'lax')).toBeUndefined();
  });
});

describe('slow and greedy clients', () => {
  it('time out requests in seconds, cap connections per client, and trust fly-client-ip only on Fly or when configured', () => {
    const plain = loadConfig({});
    expect(plain.http).toEqual({ headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, maxConnectionsPerClient: 100, clientIpHeader: null });
    expect(loadConfig({ FLY_APP_NAME: 'quire', AUTH_SECRET: 'x'.repeat(32), SEAL_SIGNING_KEY: TEST_SEAL_KEY, DATA_ENCRYPTION_KEY: 'k'.repeat(32) }).http.clientIpHeader).toBe('fly-client-ip');
    expect(loadConfig({ FLY_APP_NAME: 'quire', AUTH_SECRET: 'x'.repeat(32), SEAL_SIGNING_KEY: TEST_SEAL_KEY, DATA_ENCRYPTION_KEY: 'k'.repeat(32), CLIENT_IP_HEADER: 'none' }).http.clientIpHeader).toBeNull();
    expect(loadConfig({ CLIENT_IP_HEADER: 'X-Real-IP', MAX_CONNECTIONS_PER_CLIENT: '0' }).http).toMatchObject({ clientIpHeader: 'x-real-ip', maxConnectionsPerClient: 0 });
    expect(() => loadConfig({ CLIENT_IP_HEADER: 'bad header' })).toThrow(/CLIENT_IP_HEADER/);
    expect(() => loadConfig({ HTTP_HEADERS_TIMEOUT_MS: '20000', HTTP_REQUEST_TIMEOUT_MS: '10000' })).toThrow(/HTTP_HEADERS_TIMEOUT_MS: must not exceed/);
  });
});

describe('read replica configuration', () => {
  const primary = 'postgres://quire:pw@primary.db.internal:5432/quire';
  it('takes DATABASE_READ_URL, with {region} expanded to FLY_REGION, and none in PRIMARY_REGION', () => {
    expect(loadConfig({ DATABASE_URL: primary }).databaseReadUrl).toBeUndefined();
    expect(loadConfig({ DATABASE_URL: primary, DATABASE_READ_URL: 'postgres://r@10.0.0.9:5433/quire' }).databaseReadUrl).toBe('postgres://r@10.0.0.9:5433/quire');
    const perRegion = { DATABASE_URL: primary, DATABASE_READ_URL: 'postgres://quire:pw@{region}.db.internal:5433/quire', PRIMARY_REGION: 'iad' };
    expect(loadConfig({ ...perRegion, FLY_REGION: 'lax' }).databaseReadUrl).toBe('postgres://quire:pw@lax.db.internal:5433/quire');
    // In the primary's region the primary is the nearest database: no reader.
    expect(loadConfig({ ...perRegion, FLY_REGION: 'iad' }).databaseReadUrl).toBeUndefined();
  });

  it('refuses a reader without its primary, and a reader that is not a URL', () => {
    expect(() => loadConfig({ DATABASE_READ_URL: 'postgres://r@10.0.0.9:5433/quire' })).toThrow(/DATABASE_READ_URL: a read replica needs its primary/);
    expect(() => loadConfig({ DATABASE_URL: primary, DATABASE_READ_URL: 'replica please' })).toThrow(ConfigError);
    expect(() => loadConfig({ DATABASE_URL: primary, DATABASE_READ_URL: 'postgres://{machine}.db/quire' })).toThrow(/DATABASE_READ_URL/);
    expect(() => loadConfig({ DATABASE_URL: primary, PRIMARY_REGION: 'IAD!' })).toThrow(/PRIMARY_REGION/);
  });
});

describe('seal keys and database roles', () => {
  it('SEAL_SIGNING_KEY is required in production and on Fly, like AUTH_SECRET, unless this instance does not seal', () => {
    for (const env of [{ NODE_ENV: 'production' }, { FLY_APP_NAME: 'quire' }] as Array<Record<string, string>>) {
      expect(() => loadConfig({ ...env, AUTH_SECRET: 'x'.repeat(32), DATA_ENCRYPTION_KEY: 'k'.repeat(32) })).toThrow(/SEAL_SIGNING_KEY: required when NODE_ENV=production/);
      expect(loadConfig({ ...env, AUTH_SECRET: 'x'.repeat(32), SEAL_SIGNING_KEY: TEST_SEAL_KEY, DATA_ENCRYPTION_KEY: 'k'.repeat(32) }).seals.signingKey).toBe(TEST_SEAL_KEY);
      expect(loadConfig({ ...env, AUTH_SECRET: 'x'.repeat(32), DATA_ENCRYPTION_KEY: 'k'.repeat(32), SEALER_ENABLED: 'false' }).seals.signingKey).toBeUndefined();
    }
    // Both missing: one message names both.
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/AUTH_SECRET: required[\s\S]*SEAL_SIGNING_KEY: required/);
  });

  it('DATA_ENCRYPTION_KEY is required in production and on Fly (every machine must read every report), at least 32 characters', () => {
    for (const env of [{ NODE_ENV: 'production' }, { FLY_APP_NAME: 'quire' }] as Array<Record<string, string>>) {
      expect(() => loadConfig({ ...env, AUTH_SECRET: 'x'.repeat(32), SEAL_SIGNING_KEY: TEST_SEAL_KEY })).toThrow(/DATA_ENCRYPTION_KEY: required when NODE_ENV=production/);
    }
    expect(() => loadConfig({ DATA_ENCRYPTION_KEY: 'short' })).toThrow(/DATA_ENCRYPTION_KEY: at least 32 characters/);
    expect(loadConfig({}).dataEncryptionKey).toBeUndefined();
  });

  it('a malformed key is a configuration error; a valid one gives its public key and id', () => {
    expect(() => configuredSealKeys({ dataDir: '/nonexistent', seals: { signingKey: 'too short to be a seed', publicKeys: [], publish: true } })).toThrow(ConfigError);
    const { signer } = generateSealKey();
    const keys = configuredSealKeys({ dataDir: '/nonexistent', seals: { signingKey: TEST_SEAL_KEY, publicKeys: [signer.publicKey], publish: true } });
    expect(keys.generated).toBe(false);
    expect(keys.trusted.map((k) => k.keyId)).toEqual([keys.signer.keyId, signer.keyId]);
    expect(() => loadConfig({ SEAL_PUBLIC_KEYS: 'not-a-key' })).toThrow(/SEAL_PUBLIC_KEYS/);
  });

  it('DATABASE_MIGRATE_URL is the owner role for migrations; unset, DATABASE_URL does both', () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://svc@db/quire' }).databaseMigrateUrl).toBeUndefined();
    expect(loadConfig({ DATABASE_URL: 'postgres://svc@db/quire', DATABASE_MIGRATE_URL: 'postgres://owner@db/quire' }).databaseMigrateUrl).toBe('postgres://owner@db/quire');
    expect(() => loadConfig({ DATABASE_MIGRATE_URL: 'owner' })).toThrow(/DATABASE_MIGRATE_URL/);
  });
});

describe('webhooks and idempotency', () => {
  const prod = { NODE_ENV: 'production', AUTH_SECRET: 'x'.repeat(32), SEAL_SIGNING_KEY: TEST_SEAL_KEY, DATA_ENCRYPTION_KEY: 'k'.repeat(32) };
  const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;

  it('callbacks are off until hosts are allowed; in production allowed hosts need WEBHOOK_SECRET, of the Standard Webhooks form', () => {
    expect(loadConfig(prod).webhooks).toMatchObject({ allowedHosts: [], secret: undefined, maxAttempts: 8 });
    expect(() => loadConfig({ ...prod, WEBHOOK_ALLOWED_HOSTS: 'hooks.example.com' })).toThrow(/WEBHOOK_SECRET: required with WEBHOOK_ALLOWED_HOSTS/);
    expect(loadConfig({ ...prod, WEBHOOK_ALLOWED_HOSTS: 'Hooks.Example.com,*.example.org', WEBHOOK_SECRET: secret }).webhooks).toMatchObject({
      allowedHosts: ['hooks.example.com', '*.example.org'],
      secret,
    });
    // Outside production a secret is generated under DATA_DIR when none is set.
    expect(loadConfig({ WEBHOOK_ALLOWED_HOSTS: '127.0.0.1' }).webhooks.secret).toBeUndefined();
    expect(() => loadConfig({ WEBHOOK_SECRET: 'plain-secret' })).toThrow(/WEBHOOK_SECRET/);
    expect(() => loadConfig({ WEBHOOK_ALLOWED_HOSTS: 'https://hooks.example.com/x' })).toThrow(/WEBHOOK_ALLOWED_HOSTS/);
  });

  it('IDEMPOTENCY_WINDOW is in seconds, a day by default', () => {
    expect(loadConfig({}).idempotencyWindowMs).toBe(86_400_000);
    expect(loadConfig({ IDEMPOTENCY_WINDOW: '60' }).idempotencyWindowMs).toBe(60_000);
    expect(() => loadConfig({ IDEMPOTENCY_WINDOW: '0' })).toThrow(/IDEMPOTENCY_WINDOW/);
  });
});
