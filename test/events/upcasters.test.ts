import { describe, expect, it } from 'vitest';
import { SCHEMA_VERSIONS } from '../../src/events/types.js';
import { upcast, UnknownSchemaVersionError } from '../../src/events/upcasters.js';

describe('upcasters', () => {
  it('lifts an old payload step by step to the current version', () => {
    const versions = { ...SCHEMA_VERSIONS, ReportFailed: 3 };
    const registry = {
      versions,
      upcasters: {
        ReportFailed: {
          1: (d: unknown) => ({ ...(d as object), attempt: 1 }),
          2: (d: unknown) => ({ ...(d as object), retryAt: null }),
        },
      },
    };
    expect(upcast('ReportFailed', 1, { stage: 'render', error: 'x' }, registry)).toEqual({
      stage: 'render',
      error: 'x',
      attempt: 1,
      retryAt: null,
    });
    expect(upcast('ReportFailed', 3, { a: 1 }, registry)).toEqual({ a: 1 });
  });

  it('refuses versions it cannot read', () => {
    expect(() => upcast('ReportFailed', 2, {})).toThrow(UnknownSchemaVersionError);
    expect(() => upcast('ReportFailed', 1, {}, { versions: { ...SCHEMA_VERSIONS, ReportFailed: 2 }, upcasters: {} })).toThrow(
      /no upcaster for ReportFailed v1/,
    );
  });
});
