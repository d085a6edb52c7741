/**
 * src/shared/report-input.ts is the one place the server and the progress page take a request's
 * limits and the report id format from. It must import nothing (the page bundles it: server code
 * must not follow it into the browser), and the page must not keep copies of its own.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { canonicalUuid, isUuid } from '../../src/reports/uuid.js';
import { ANY_CASE_UUID, MAX_PARAMS_BYTES, MAX_PARAMS_TEXT, MAX_TITLE_LENGTH, REPORT_ID } from '../../src/shared/report-input.js';

const sharedDir = new URL('../../src/shared/', import.meta.url);
const uiDir = new URL('../../src/ui/', import.meta.url);
const read = (dir: URL, file: string) => readFileSync(new URL(file, dir), 'utf8');
const tsFiles = (dir: URL) => readdirSync(dir).filter((f) => f.endsWith('.ts'));

describe('constants shared by the server and the progress page', () => {
  it('src/shared imports nothing, so bundling it into the page pulls in no server code', () => {
    const files = tsFiles(sharedDir);
    expect(files).toContain('report-input.ts');
    for (const file of files) {
      expect(read(sharedDir, file), file).not.toMatch(/^\s*(import|export\s+(\*|\{[^}]*\})\s+from)\b|\brequire\(|\bimport\(/m);
    }
  });

  it('the page keeps no copy of the limits or the id format of its own', () => {
    for (const file of tsFiles(uiDir)) {
      const source = read(uiDir, file);
      expect(source, file).not.toContain('[0-9a-f]{8}');
      expect(source, file).not.toMatch(/MAX_PARAMS_BYTES = |1_048_576|1048576|\b1 MiB\b|at most 200\b|> 200\b/);
    }
    expect(read(uiDir, 'request-form.ts')).toContain("from '../shared/report-input'");
  });

  it('has the values the server has always enforced', () => {
    expect(MAX_PARAMS_BYTES).toBe(1024 * 1024);
    expect(MAX_PARAMS_TEXT).toBe('1 MiB');
    expect(MAX_TITLE_LENGTH).toBe(200);
  });

  it('the server reads report ids with the shared format: lower-case names a report, any case is canonicalised', () => {
    const id = '0c6f4f4e-3b1e-4d43-9a55-2f0b8f3c7d12';
    expect(REPORT_ID.test(id) && isUuid(id)).toBe(true);
    expect(isUuid(id.toUpperCase())).toBe(false);
    expect(ANY_CASE_UUID.test(id.toUpperCase())).toBe(true);
    expect(canonicalUuid(id.toUpperCase())).toBe(id);
    expect(isUuid(`${id}0`)).toBe(false);
    expect(canonicalUuid('not-an-id')).toBe('not-an-id');
  });
});
