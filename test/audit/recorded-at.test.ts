import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { parseTimestamptz, recordedAtDate, recordedAtIso } from '../../src/events/recorded-at.js';
import { backends, openTestDatabase } from '../support/databases.js';

// The path verify took before the fast one: the driver's Date, then toISOString (which throws for
// a Date that has no ISO string: the verify then fails, as it did).
const outcome = (f: () => string) => {
  try {
    return f();
  } catch (err) {
    return `throws ${(err as Error).name}`;
  }
};
const driver = (text: string) => outcome(() => new Date(parseTimestamptz(text)).toISOString());
const fast = (text: string) => outcome(() => recordedAtIso(text));
// The Date the rebuild decodes (recordedAtDate) against the driver's, as numbers (an invalid one is NaN, `infinity` is Infinity).
const sameDate = (text: string) => Object.is(Number(recordedAtDate(text)), Number(parseTimestamptz(text)));
const mismatches = (texts: Iterable<string>) =>
  [...texts].filter((t) => fast(t) !== driver(t) || !sameDate(t)).map((t) => ({ text: t, fast: fast(t), driver: driver(t), date: recordedAtDate(t), driverDate: parseTimestamptz(t) }));

describe('recorded_at from its text (recordedAtIso)', () => {
  it('gives what the driver gives for every fraction of a second of 0 to 6 digits', () => {
    function* texts() {
      for (let digits = 0; digits <= 6; digits++) {
        // Every fraction up to 5 digits; every 7th of the 6-digit ones (the float cases repeat).
        for (let i = 0; i < 10 ** digits; i += digits === 6 ? 7 : 1) yield `2024-02-29 23:59:59${digits ? `.${String(i).padStart(digits, '0')}` : ''}+00`;
      }
    }
    expect(mismatches(texts())).toEqual([]);
    expect(recordedAtIso('2024-02-29 23:59:59.9999+00')).toBe('2024-02-29T23:59:59.999Z');
    expect(recordedAtIso('2024-02-29 23:59:59.05+00')).toBe('2024-02-29T23:59:59.050Z');
  });

  it('gives what the driver gives for every day of years around the leap rules, and for texts the fast path must leave to it', () => {
    const texts: string[] = [];
    for (const year of [1000, 1582, 1899, 1900, 1970, 1999, 2000, 2023, 2024, 2100, 2400, 9999]) {
      for (let month = 0; month <= 13; month++) {
        for (let day = 0; day <= 32; day++) {
          for (const time of ['00:00:00', '23:59:59', '12:34:56.7', '24:00:00', '12:60:00', '12:00:60']) {
            texts.push(`${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')} ${time}+00`);
          }
        }
      }
    }
    texts.push(
      '0001-01-01 00:00:00+00',
      '0099-12-31 23:59:59.999+00',
      '0500-06-15 12:00:00+00',
      '0999-12-31 23:59:59+00',
      '0001-01-01 00:00:00+00 BC',
      '0044-03-15 12:00:00+00 BC',
      '10000-01-01 00:00:00+00',
      '294276-12-31 23:59:59.999999+00',
      '2024-01-01 00:00:00+01',
      '2024-01-01 00:00:00-05:30',
      '2024-01-01 00:00:00+05:53:28',
      '2024-01-01 00:00:00.123+00:00',
      '2024-01-01 00:00:00Z',
      '2024-01-01T00:00:00+00',
      '2024-01-01 00:00:00.+00',
      '2024-01-01 00:00:00.1234567+00',
      '2024-01-01 00:00:00.12a+00',
      '2024-1-01 00:00:00+00',
      '2024-01-01  0:00:00+00',
      '２０２４-01-01 00:00:00+00',
      '2024-01-01 00:00:00',
      '2024-01-01',
      'infinity',
      '-infinity',
      '',
      'not a time',
    );
    expect(mismatches(texts)).toEqual([]);
  });

  it.each(backends)('gives what the driver gives for the text %s writes, in UTC and in another time zone', async (kind) => {
    const database = await openTestDatabase(kind);
    try {
      for (const zone of [sql`'UTC'`, sql`INTERVAL '+05:30' HOUR TO MINUTE`]) {
        const texts = await database.db.transaction().execute(async (trx) => {
          await sql`SET LOCAL TIME ZONE ${zone}`.execute(trx);
          await sql`SELECT setseed(0.18)`.execute(trx);
          const { rows } = await sql<{ t: string }>`
            SELECT (timestamptz '1000-01-01 00:00:00+00' + random() * interval '3000000 days')::text AS t FROM generate_series(1, 3000)
            UNION ALL
            SELECT date_trunc('milliseconds', timestamptz '1000-01-01 00:00:00+00' + random() * interval '3000000 days')::text FROM generate_series(1, 3000)
            UNION ALL
            SELECT (timestamptz '0001-01-01 00:00:00+00' + g * interval '37 days 1 hour')::text FROM generate_series(1, 300) AS g
            UNION ALL
            SELECT t::text FROM unnest(ARRAY[timestamptz '0001-01-01 00:00:00+00 BC', 'infinity', '-infinity', '2000-02-29 00:00:00.5+00', '1999-12-31 23:59:59.999999+00']) AS t`.execute(trx);
          return rows.map((r) => r.t);
        });
        expect(texts.length).toBe(6305);
        expect(mismatches(texts)).toEqual([]);
      }
    } finally {
      await database.close();
    }
  });
});
