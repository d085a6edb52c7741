import pg from 'pg';

// pg's own timestamptz parser, on both backends: the Date the driver would have made of this text.
export const parseTimestamptz = pg.types.getTypeParser(1184, 'text') as (text: string) => Date;

/**
 * recorded_at as an event's hash covers it (toISOString of the Date the driver makes of the
 * column), from the column's text. The text PostgreSQL writes in a UTC session for a year 1000–9999
 * is the ISO string with the fraction cut or padded to milliseconds, so that is rewritten as it
 * is (a third of the cost of parsing); anything else — another time zone, BC, infinity, a
 * shape not checked here — takes the driver's parser, as before (test/audit/recorded-at.test.ts
 * compares both).
 */
export function recordedAtIso(text: string): string {
  if (!isUtcText(text)) return new Date(parseTimestamptz(text)).toISOString();
  return `${text.slice(0, 10)}T${text.slice(11, 19)}.${millisecondDigits(text)}Z`;
}

/**
 * The Date the driver makes of recorded_at's text (parseTimestamptz), by the same fast path: the
 * checked fields given to Date.UTC, several times faster than the driver's regular expression
 * (checks included, a little faster than building an ISO string for V8 to parse without them).
 */
export function recordedAtDate(text: string): Date {
  if (!isUtcText(text)) return parseTimestamptz(text);
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2) - 1;
  const millis = Date.UTC(year, month, digits(text, 8, 2), digits(text, 11, 2), digits(text, 14, 2), digits(text, 17, 2), Number(millisecondDigits(text)));
  return new Date(millis);
}

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Whether the text is `YYYY-MM-DD HH:MM:SS[.f{1,6}]+00`, a valid date and time of a year from 1000. */
function isUtcText(text: string): boolean {
  const n = text.length;
  // 19 characters of date and time, an optional fraction of 1–6 digits, then +00.
  if (n < 22 || n > 29 || n === 23 || !text.endsWith('+00')) return false;
  if (text[4] !== '-' || text[7] !== '-' || text[10] !== ' ' || text[13] !== ':' || text[16] !== ':') return false;
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  const hour = digits(text, 11, 2);
  const minute = digits(text, 14, 2);
  const second = digits(text, 17, 2);
  // Years from 1000 only: Date.UTC would also read 0–99 as 1900–1999.
  if (year < 1000 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > DAYS[month - 1]! + (month === 2 && leap ? 1 : 0)) return false;
  if (n > 22 && (text[19] !== '.' || digits(text, 20, n - 23) < 0)) return false;
  return true;
}

/** The fraction of a text isUtcText accepted, cut or padded to three digits. */
function millisecondDigits(text: string): string {
  return text.length > 22 ? text.slice(20, Math.min(23, text.length - 3)).padEnd(3, '0') : '000';
}

/** The decimal number of `length` ASCII digits at `from`, or -1 if any is not a digit. */
function digits(text: string, from: number, length: number): number {
  let value = 0;
  for (let i = from; i < from + length; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
}
