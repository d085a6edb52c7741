import { describe, expect, it } from 'vitest';
import { reportIdOfKey, reportKey } from '../../src/storage/report-key.js';

const id = '0b7e4c1a-3f6d-4a2b-9c8e-1d2f3a4b5c6d';
const sha = 'a'.repeat(64);

describe('report keys', () => {
  it('are derived from the report id and the hash, and name the report back', () => {
    const key = reportKey(id, sha);
    expect(key).toBe(`reports/${id}/${sha}.pdf`);
    expect(reportIdOfKey(key)).toBe(id);
  });

  it('refuse what is not a stored report id or a sha256', () => {
    expect(() => reportKey(id.toUpperCase(), sha)).toThrow(TypeError);
    expect(() => reportKey('../etc', sha)).toThrow(TypeError);
    expect(() => reportKey(id, 'xyz')).toThrow(TypeError);
  });

  it('name no report for any other key', () => {
    for (const key of ['seals/1.json', `reports/${id}`, `reports/${id.toUpperCase()}/${sha}.pdf`, `reports/${id}/a/b.pdf`, `x/${id}/${sha}.pdf`]) {
      expect(reportIdOfKey(key), key).toBeNull();
    }
  });
});
