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

describe('seal keys and database roles', () => {
  it('SEAL_SIGNING_KEY is required in production and on Fly, like AUTH_SECRET, unless this instance does not seal', () => {
    for (const env of [{ NODE_ENV: 'production' }, { FLY_APP_NAME: 'quire' }] as Array<Record<string, string>>) {
      expect(() => loadConfig({ ...env, AUTH_SECRET: 'x'.repeat(32) })).toThrow(/SEAL_SIGNING_KEY: required when NODE_ENV=production/);
      expect(loadConfig({ ...env, AUTH_SECRET: 'x'.repeat(32), SEAL_SIGNING_KEY: TEST_SEAL_KEY }).seals.signingKey).toBe(TEST_SEAL_KEY);
      expect(loadConfig({ ...env, AUTH_SECRET: 'x'.repeat(32), SEALER_ENABLED: 'false' }).seals.signingKey).toBeUndefined();
    }
    // Both missing: one message names both.
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/AUTH_SECRET: required[\s\S]*SEAL_SIGNING_KEY: required/);
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
