import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './support/instances.js';

/**
 * The CLI as a script sees it (bin/quire.js in a child process): with --json, stdout is one JSON
 * document and nothing else; exit 0 ok, 1 the check found a problem, 2 usage, 3 operational failure.
 */
interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function quire(args: string[], env: Record<string, string>): Promise<Run> {
  // The embedded database unless `env` names one.
  const { DATABASE_URL: _, ...rest } = process.env;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/quire.js', ...args], { env: { ...rest, LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** stdout as exactly one JSON document (JSON.parse refuses anything before or after it). */
const json = (run: Run) => {
  expect(run.stdout.trim(), run.stderr).not.toBe('');
  return JSON.parse(run.stdout) as Record<string, any>;
};

describe('quire commands: --json and exit codes', () => {
  let dir: string;
  let env: Record<string, string>;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'quire-cli-json-'));
    const reports = join(dir, 'reports');
    mkdirSync(reports, { recursive: true });
    const rows = ['a', 'b'].map((name, i) => {
      writeFileSync(join(reports, `${name}.pdf`), `%PDF-1.4\n${name.repeat(1000)}`);
      return JSON.stringify({ id: String(i + 1), user_id: 'legacy-7', title: `Legacy ${name}`, file_path: `/data/reports/${name}.pdf`, created_at: '2024-05-01T10:00:00Z' });
    });
    writeFileSync(join(dir, 'export.ndjson'), `${rows.join('\n')}\n`);
    env = { DATA_DIR: join(dir, 'data'), REPORTS_DIR: reports, FLY_REGION: 'iad', MACHINE_ID: 'iad-1' };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a bad flag or a missing argument is usage: exit 2, nothing on stdout', async () => {
    const badFlag = await quire(['legacy', 'readiness', '--json', '--no-such-flag'], env);
    expect(badFlag).toMatchObject({ code: 2, stdout: '' });
    expect(badFlag.stderr).toMatch(/unknown option '--no-such-flag'/);
    const missing = await quire(['audit', 'check-proof'], env);
    expect(missing).toMatchObject({ code: 2, stdout: '' });
    expect(missing.stderr).toMatch(/missing required argument 'file'/);
    const badTimeout = await quire(['legacy', 'migrate', '--timeout', 'soon'], env);
    expect(badTimeout.code).toBe(2);
  }, 120_000);

  it('a database that does not answer is an operational failure: exit 3, and with --json a document saying so', async () => {
    const url = `postgres://postgres@127.0.0.1:${await freePort()}/quire`;
    for (const args of [['legacy', 'readiness', '--json'], ['projections', 'rebuild', '--verify', '--json'], ['audit', 'digest', '--json']]) {
      const run = await quire(args, { ...env, DATABASE_URL: url });
      expect(run.code, `${args.join(' ')}: ${run.stderr}`).toBe(3);
      expect(json(run)).toEqual({ error: { exitCode: 3, message: expect.stringMatching(/no PostgreSQL server answers at 127\.0\.0\.1:\d+ \(ECONNREFUSED\)/) } });
      expect(run.stderr).toMatch(/DATABASE_URL: no PostgreSQL server answers/);
    }
  }, 120_000);

  it('legacy: import, readiness (1 until migrated), migrate refuses to end quietly while the object store does not answer (3), then copies (0)', async () => {
    const imported = await quire(['legacy', 'import', '--file', join(dir, 'export.ndjson'), '--json'], env);
    expect(imported.code, imported.stderr).toBe(0);
    expect(json(imported)).toMatchObject({ imported: 2, alreadyImported: 0, rejected: [] });

    const notReady = await quire(['legacy', 'readiness', '--json'], env);
    expect(notReady.code).toBe(1);
    expect(json(notReady)).toMatchObject({ ready: false, notReady: [expect.objectContaining({ status: 'IMPORTED' }), expect.objectContaining({ status: 'IMPORTED' })] });

    // An S3 endpoint nobody listens on: the files are found, nothing can be copied.
    const s3 = { AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${await freePort()}`, BUCKET_NAME: 'quire-test', AWS_ACCESS_KEY_ID: 'k', AWS_SECRET_ACCESS_KEY: 's', AWS_REGION: 'auto' };
    const down = await quire(['legacy', 'migrate', '--json', '--timeout', '2'], { ...env, ...s3 });
    expect(down.code, down.stderr).toBe(3);
    expect(down.stderr).toMatch(/waiting for the object store \(bucket "quire-test"/);
    expect(json(down)).toMatchObject({ found: 2, migrated: 0, notCopiedYet: 2, objectStore: { state: 'unreachable' }, error: expect.stringMatching(/2 file\(s\) not copied: the object store does not answer/) });

    const report = await quire(['legacy', 'report', '--json'], env);
    expect(report.code).toBe(0);
    expect(json(report)).toMatchObject({ total: 2, migrated: 0, findings: [], lost: [] });

    // The disk object store answers: everything is copied.
    const up = await quire(['legacy', 'migrate', '--json'], env);
    expect(up.code, up.stderr).toBe(0);
    expect(json(up)).toMatchObject({ found: 2, migrated: 2, failed: 0, notCopiedYet: 0, objectStore: { state: 'up' } });
    const ready = await quire(['legacy', 'readiness', '--json'], env);
    expect(ready.code).toBe(0);
    expect(json(ready)).toMatchObject({ ready: true, reports: 2, notReady: [] });

    const rebuilt = await quire(['projections', 'rebuild', '--verify', '--json'], env);
    expect(rebuilt.code, rebuilt.stderr).toBe(0);
    expect(json(rebuilt)).toMatchObject({ ok: true, differenceCount: 0, differences: [] });
  }, 300_000);

  it('audit: seal, digest, check-proof and import-check answer JSON; a broken proof or export exits 1', async () => {
    const sealed = await quire(['audit', 'seal', '--json'], env);
    expect(sealed.code, sealed.stderr).toBe(0);
    expect(json(sealed)).toMatchObject({ written: 1, latest: { seq: 1 } });
    const digest = await quire(['audit', 'digest', '--json'], env);
    expect(digest.code).toBe(0);
    expect(json(digest)).toMatchObject({ seq: 1, sealHash: expect.stringMatching(/^[0-9a-f]{64}$/) });

    const proof = await quire(['audit', 'proof', '1', '--json'], env);
    expect(proof.code).toBe(0);
    const proofFile = join(dir, 'proof.json');
    writeFileSync(proofFile, proof.stdout);
    const good = await quire(['audit', 'check-proof', proofFile, '--json'], env);
    expect(good.code, good.stderr).toBe(0);
    expect(json(good)).toEqual({ ok: true, failures: [], sealHash: json(digest).sealHash, seq: 1 });
    const forged = JSON.parse(proof.stdout);
    forged.event.data.title = 'Forged';
    writeFileSync(proofFile, JSON.stringify(forged));
    const bad = await quire(['audit', 'check-proof', proofFile, '--json'], env);
    expect(bad.code).toBe(1);
    expect(json(bad)).toMatchObject({ ok: false, failures: [expect.any(String)] });

    const exported = join(dir, 'export.log.ndjson');
    expect((await quire(['audit', 'export', '-o', exported], env)).code).toBe(0);
    const checked = await quire(['audit', 'import-check', exported, '--json'], env);
    expect(checked.code, checked.stderr).toBe(0);
    expect(json(checked)).toMatchObject({ ok: true, events: expect.any(Number), seals: 1, problems: [] });
    writeFileSync(exported, readFileSync(exported, 'utf8').replace('Legacy a', 'Legacy z'));
    const broken = await quire(['audit', 'import-check', exported, '--json'], env);
    expect(broken.code).toBe(1);
    expect(json(broken)).toMatchObject({ ok: false, problems: [expect.objectContaining({ message: expect.any(String) })] });
  }, 300_000);
});
