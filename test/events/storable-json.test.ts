import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentNesting } from '../../src/api/graphql/nesting-limit.js';
import { InvalidEventError } from '../../src/events/errors.js';
import type { EventStore } from '../../src/events/event-store.js';
import { MAX_JSON_DEPTH, storableJsonIssues } from '../../src/events/storable-json.js';
import { backends, openTestDatabase, type TestDatabase, testStore } from '../support/databases.js';
import { newReportStream } from '../support/fixtures.js';

const nest = (depth: number): unknown => {
  let value: unknown = 'leaf';
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
};

describe('what jsonb can store', () => {
  it('refuses NUL and lone surrogates in values and keys, accepts real surrogate pairs', () => {
    expect(storableJsonIssues({ rows: [{ name: 'a\u0000b' }] })).toEqual([{ path: 'rows.0.name', message: 'contains a NUL character (U+0000)' }]);
    expect(storableJsonIssues(['x', 'a\ud800b'])[0]).toMatchObject({ path: '1', message: expect.stringMatching(/lone UTF-16 surrogate/) });
    expect(storableJsonIssues('\udc00')[0]?.path).toBe('');
    expect(storableJsonIssues({ ['k\u0000']: 1 })[0]).toMatchObject({ path: 'k\ufffd', message: expect.stringMatching(/^key contains a NUL/) });
    expect(storableJsonIssues({ emoji: '😀 \ud83d\ude00', cjk: '漢字', n: 1, b: true, z: null })).toEqual([]);
  });

  it(`refuses nesting deeper than ${MAX_JSON_DEPTH}, without recursion of its own`, () => {
    expect(storableJsonIssues(nest(MAX_JSON_DEPTH))).toEqual([]);
    expect(storableJsonIssues(nest(MAX_JSON_DEPTH + 1))[0]?.message).toMatch(/nested more than 64 levels/);
    // Far deeper than any recursive walker survives.
    expect(storableJsonIssues(nest(200_000))).toHaveLength(1);
  });

  it('counts the nesting of a GraphQL document outside strings and comments', () => {
    expect(documentNesting('{ me { id } }', 64)).toBeNull();
    expect(documentNesting(`{ ${'a { '.repeat(70)}b${' }'.repeat(70)} }`, 64)).toBe(65);
    expect(documentNesting(`{ report(id: "${'{'.repeat(200)}") { id } } # ${'['.repeat(200)}`, 64)).toBeNull();
    expect(documentNesting(`{ x(s: """${'('.repeat(200)} \\""" ${'('.repeat(5)}""") }`, 64)).toBeNull();
    expect(documentNesting(`{ x(v: ${'['.repeat(65)}1${']'.repeat(65)}) }`, 64)).toBe(65);
  });
});

describe.each(backends)('append refuses what jsonb cannot store, on %s', (kind) => {
  let database: TestDatabase;
  let store: EventStore;

  beforeAll(async () => {
    database = await openTestDatabase(kind);
    store = testStore(database);
  });
  afterAll(() => database?.close());

  it('NUL, lone surrogates and deep nesting in data or metadata are a typed InvalidEventError; nothing is written', async () => {
    const { reportId, streamId } = newReportStream();
    const withParams = (params: Record<string, unknown>, title = 'fine') => [
      { type: 'ReportRequested' as const, data: { reportId, template: 'table', title, params, owner: 'u' } },
    ];
    const attempts: Array<() => Promise<unknown>> = [
      () => store.append(streamId, 'no_stream', withParams({ cell: 'a\u0000b' })),
      () => store.append(streamId, 'no_stream', withParams({ cell: 'a\ud800b' })),
      () => store.append(streamId, 'no_stream', withParams({}, 'title \udfff')),
      () => store.append(streamId, 'no_stream', withParams({ deep: nest(5_000) })),
      () => store.append(streamId, 'no_stream', withParams({}), { actor: 'u\u0000' }),
    ];
    for (const attempt of attempts) {
      const err = await attempt().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidEventError);
    }
    const written = await database.db.selectFrom('events').select('global_position').execute();
    expect(written).toEqual([]);
    // The same stream takes a storable event afterwards.
    expect((await store.append(streamId, 'no_stream', withParams({ cell: 'ok 😀' }))).nextExpectedVersion).toBe(1);
  });
});
