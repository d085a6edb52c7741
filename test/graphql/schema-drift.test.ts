import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { printedSchema, schema } from '../../src/api/graphql/schema.js';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
const committedPath = join(root, 'schema/schema.graphql');

/** Runs `scripts/print-schema.ts --check [--file …]` as `npm run schema:check` does. */
async function check(file?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const args = ['bin/run-ts.js', 'scripts/print-schema.ts', '--check', ...(file ? ['--file', file] : [])];
  try {
    const { stdout, stderr } = await run(process.execPath, args, { cwd: root, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/**
 * printedSchema(), made robust to vitest's dual-package hazard: vite resolves `graphql` in src/ to
 * index.mjs while Pothos (loaded natively) builds the schema with index.js, and graphql refuses to
 * sort a schema from "another realm". Then print with the CJS instance the schema was built with
 * (the same calls as printedSchema()); the child-process checks below run printedSchema() itself.
 */
function printedInProcess(): string {
  try {
    return printedSchema();
  } catch (err) {
    if (!/another module or realm/.test(String(err))) throw err;
    const cjs = createRequire(import.meta.url)('graphql') as typeof import('graphql');
    return `${cjs.printSchema(cjs.lexicographicSortSchema(schema))}\n`;
  }
}

describe('schema/schema.graphql', () => {
  const dir = mkdtempSync(join(tmpdir(), 'quire-schema-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is the printed schema of the code (run `npm run schema:print` when this fails)', () => {
    expect(readFileSync(committedPath, 'utf8')).toBe(printedInProcess());
  });

  it('passes the check script when it matches', async () => {
    const result = await check();
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/matches the code/);
  });

  it('fails the check, with a diff, when a field was added to the file without the code', async () => {
    const drifted = join(dir, 'added-field.graphql');
    const sdl = readFileSync(committedPath, 'utf8');
    const edited = sdl.replace(/^type Viewer \{\n/m, 'type Viewer {\n  email: String\n');
    expect(edited).not.toBe(sdl);
    writeFileSync(drifted, edited);

    const result = await check(drifted);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/is out of date with the schema in src\/api\/graphql/);
    expect(result.stderr).toMatch(/npm run schema:print/);
    expect(result.stderr).toMatch(/^- {3}email: String$/m);
  });

  it('fails the check when the code has a field the file lacks', async () => {
    const drifted = join(dir, 'missing-field.graphql');
    writeFileSync(drifted, readFileSync(committedPath, 'utf8').replace(/^ {2}role: Role!\n/m, ''));
    const result = await check(drifted);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/^\+ {3}role: Role!$/m);
  });

  it('fails the check when the file is missing', async () => {
    const result = await check(join(dir, 'nowhere.graphql'));
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/does not exist/);
  });
});
