/**
 * PostgreSQL's COPY text format (`COPY … TO STDOUT`, the default format) read back into rows: one
 * row a line, fields separated by tabs, NULL as `\N`, and in a value a backslash, tab, newline,
 * carriage return, backspace, form feed or vertical tab written as a backslash escape. So a real
 * newline only ever ends a row and a real tab only ever ends a field, whatever the values hold.
 *
 * The server writes no other escape (CopyAttributeOutText): the octal and hex forms COPY FROM
 * accepts stand for bytes, not characters, and are refused here rather than guessed at — a verify
 * that cannot read a row fails, it never judges a row it misread.
 */

import { Buffer, isUtf8 } from 'node:buffer';

const decoder = new TextDecoder('utf-8', { fatal: true });

const ESCAPES: Record<string, string> = { '\\': '\\', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

/** One field's value: `\N` is NULL, escapes undone. */
export function copyTextValue(field: string): string | null {
  if (field.indexOf('\\') === -1) return field;
  if (field === '\\N') return null;
  return field.replace(/\\(.?)/gs, (_, c: string) => {
    const out = ESCAPES[c];
    if (out === undefined) throw new Error(`unexpected escape \\${c} in COPY text output`);
    return out;
  });
}

const NEWLINE = 0x0a;

/**
 * Text is decoded this much at a time at most, cut after a newline (never inside a UTF-8
 * sequence): V8 puts a string over ~128 KB in its large-object space, where making one costs
 * ~40× more a byte (Node 20: ~4 ns against ~0.1) — most of what parsing a 512 KB batch cost.
 */
const PIECE_BYTES = 64 * 1024;

/**
 * The fields of the row being read, taken in column order: `copyRows` hands one to its reader for
 * each row, and the reader builds its row object straight from it (no array of fields between).
 */
export class CopyFields {
  private text = '';
  private at = 0;
  private end = 0;
  private count = 0;
  private done = true;

  constructor(private readonly width: number) {}

  /** The next field's value (null for `\N`); reading past the row's last field throws. */
  value(): string | null {
    if (this.done) throw new Error(`a COPY row has ${this.count} fields, expected ${this.width}`);
    if (this.count === this.width) throw new Error(`a COPY row has more than ${this.width} fields`);
    let tab = this.text.indexOf('\t', this.at);
    if (tab === -1 || tab > this.end) tab = this.end;
    const value = copyTextValue(this.text.slice(this.at, tab));
    this.count++;
    this.at = tab + 1;
    this.done = tab === this.end;
    return value;
  }

  /** @internal Starts the line of `text` from `at` to the newline at `end`. */
  start(text: string, at: number, end: number): void {
    this.text = text;
    this.at = at;
    this.end = end;
    this.count = 0;
    this.done = false;
  }

  /** @internal Throws unless the reader took exactly the row's fields. */
  finish(): void {
    if (!this.done) throw new Error(`a COPY row has more than ${this.width} fields`);
    if (this.count !== this.width) throw new Error(`a COPY row has ${this.count} fields, expected ${this.width}`);
  }
}

/**
 * The lines of `bytes` (whole rows, each ending in a newline, UTF-8), `width` fields a row, each
 * made into a row by `read` (which takes the row's fields in order); a row of another width
 * throws, and so do bytes that are not UTF-8.
 */
export function copyRows<R>(bytes: Uint8Array, width: number, read: (fields: CopyFields) => R): R[] {
  const rows: R[] = [];
  const fields = new CopyFields(width);
  // A leading BOM, which the decoder drops, is left to it (no COPY output starts with one).
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    readLines(decoder.decode(bytes), fields, read, rows);
    return rows;
  }
  // What the fatal decoder refuses (Node 20's goes through ICU, ~3 µs an event; isUtf8 is simdutf).
  if (!isUtf8(bytes)) throw new TypeError('The encoded data was not valid for encoding utf-8');
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let from = 0; from < buffer.length; ) {
    const cut = from + PIECE_BYTES >= buffer.length ? -1 : buffer.indexOf(NEWLINE, from + PIECE_BYTES - 1);
    const end = cut === -1 ? buffer.length : cut + 1;
    readLines(buffer.toString('utf8', from, end), fields, read, rows);
    from = end;
  }
  return rows;
}

/** copyRows of decoded text, onto `rows`. */
function readLines<R>(text: string, fields: CopyFields, read: (fields: CopyFields) => R, rows: R[]): void {
  let at = 0;
  while (at < text.length) {
    const end = text.indexOf('\n', at);
    if (end === -1) throw new Error('COPY text does not end with a whole row');
    fields.start(text, at, end);
    const row = read(fields);
    fields.finish();
    rows.push(row);
    at = end + 1;
  }
}

/** Each row of `bytes` as the array of its `width` fields (copyRows). */
export function parseCopyText(bytes: Uint8Array, width: number): Array<Array<string | null>> {
  return copyRows(bytes, width, (fields) => {
    const row = new Array<string | null>(width);
    for (let i = 0; i < width; i++) row[i] = fields.value();
    return row;
  });
}
