import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSealKey } from '../../src/audit/seal-key.js';
import { openDatabase } from '../../src/database/connect.js';
import { migrateToLatest } from '../../src/database/migrate.js';
import { silentLog } from '../support/databases.js';
import { seedLog } from './support.js';

/**
 * The auditor's commands end to end on the embedded database: keygen → seal (signed, published
 * to the disk object store) → digest (prints the public key) → verify --against-store /
 * --public-key, proof → check-proof, export → import-check; a wrong key fails each check.
 */
describe('quire audit commands with signed, published seals', () => {
  let dataDir: string;
  let key: { privateKey: string; publicKey: string; keyId: string };
  const other = generateSealKey().signer.publicKey;

  const run = (args: string[]) =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      const { DATABASE_URL: _, ...env } = process.env;
      const child = spawn(process.execPath, ['bin/quire.js', ...args], {
        env: { ...env, DATA_DIR: dataDir, LOG_LEVEL: 'silent', SEAL_SIGNING_KEY: key?.privateKey ?? '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      child.on('exit', (code) => resolve({ code, out }));
    });

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'quire-audit-cli-'));
    const database = await openDatabase({ kind: 'pglite', dataDir, log: silentLog });
    await migrateToLatest(database.db);
    await seedLog(database, 3, 2);
    await database.close();
  }, 180_000);
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('keygen prints a key for SEAL_SIGNING_KEY and its public key', async () => {
    const { code, out } = await run(['audit', 'keygen']);
    expect(code).toBe(0);
    key = {
      privateKey: /^SEAL_SIGNING_KEY=(\S+)$/m.exec(out)![1]!,
      publicKey: /public key .*: (\S+)$/m.exec(out)![1]!,
      keyId: /key id: ([0-9a-f]{16})$/m.exec(out)![1]!,
    };
    expect(key.publicKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
  }, 180_000);

  it('seal signs and publishes; digest prints the public key; verify checks against the key and the store', async () => {
    expect((await run(['audit', 'seal'])).out).toMatch(/1 seal\(s\) written/);
    expect(readFileSync(join(dataDir, 'objects', 'blobs', 'seals', '1.json'), 'utf8')).toContain(key.keyId);
    const digest = JSON.parse((await run(['audit', 'digest'])).out);
    expect(digest).toMatchObject({ seq: 1, eventCount: 6, keyId: key.keyId, publicKey: key.publicKey, signature: expect.any(String) });

    const ok = await run(['audit', 'verify', '--against-store', '--public-key', key.publicKey, '--digest', digest.sealHash]);
    expect(ok.out).toMatch(/^OK: 6 events/m);
    expect(ok.out).toMatch(/published digests: 1 in the object store, 1 match the log/);
    expect(ok.code).toBe(0);

    const wrongKey = await run(['audit', 'verify', '--public-key', other]);
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.out).toMatch(/SIGNATURE at position \d+ .*not a key you trust/);
  }, 300_000);

  it('check-proof and import-check take --public-key', async () => {
    const proof = await run(['audit', 'proof', '3']);
    expect(proof.code).toBe(0);
    const file = join(dataDir, 'proof.json');
    writeFileSync(file, proof.out);
    expect(await run(['audit', 'check-proof', file, '--public-key', key.publicKey])).toMatchObject({ code: 0, out: expect.stringMatching(/^OK: the event is in seal 1/) });
    expect(await run(['audit', 'check-proof', file, '--public-key', other])).toMatchObject({ code: 1, out: expect.stringMatching(/FAILED: 5\. .*not a key you trust/) });

    const exported = join(dataDir, 'export.ndjson');
    expect((await run(['audit', 'export', '-o', exported])).code).toBe(0);
    expect(await run(['audit', 'import-check', exported, '--public-key', key.publicKey])).toMatchObject({ code: 0, out: expect.stringMatching(/^OK: 6 events, 1 seals/) });
    expect((await run(['audit', 'import-check', exported, '--public-key', other])).code).toBe(1);
  }, 300_000);

  it('a published digest replaced behind quire’s back (someone with the store’s keys) fails verify --against-store', async () => {
    const path = join(dataDir, 'objects', 'blobs', 'seals', '1.json');
    const published = JSON.parse(readFileSync(path, 'utf8'));
    writeFileSync(path, JSON.stringify({ ...published, merkleRoot: 'a'.repeat(64) }));
    const broken = await run(['audit', 'verify', '--against-store', '--public-key', key.publicKey]);
    expect(broken.code).toBe(1);
    expect(broken.out).toMatch(/PUBLISHED .*seals\/1\.json is not valid \(its hash does not match its fields\)/);
  }, 180_000);
});
