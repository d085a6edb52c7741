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
 * The lines of `bytes` (whole rows, each ending in a newline, UTF-8) split into their fields,
 * `width` a row; a row of another width throws, and so do bytes that are not UTF-8.
 */
export function parseCopyText(bytes: Uint8Array, width: number): Array<Array<string | null>> {
  const rows: Array<Array<string | null>> = [];
  // A leading BOM, which the decoder drops, is left to it (no COPY output starts with one).
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    parseLines(decoder.decode(bytes), width, rows);
    return rows;
  }
  // What the fatal decoder refuses (Node 20's goes through ICU, ~3 µs an event; isUtf8 is simdutf).
  if (!isUtf8(bytes)) throw new TypeError('The encoded data was not valid for encoding utf-8');
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let from = 0; from < buffer.length; ) {
    const cut = from + PIECE_BYTES >= buffer.length ? -1 : buffer.indexOf(NEWLINE, from + PIECE_BYTES - 1);
    const end = cut === -1 ? buffer.length : cut + 1;
    parseLines(buffer.toString('utf8', from, end), width, rows);
    from = end;
  }
  return rows;
}

/** parseCopyText of decoded text, onto `rows`. */
function parseLines(text: string, width: number, rows: Array<Array<string | null>>): void {
  let at = 0;
  while (at < text.length) {
    const end = text.indexOf('\n', at);
    if (end === -1) throw new Error('COPY text does not end with a whole row');
    const row = new Array<string | null>(width);
    let field = 0;
    let from = at;
    for (;;) {
      let tab = text.indexOf('\t', from);
      if (tab === -1 || tab > end) tab = end;
      if (field === width) throw new Error(`a COPY row has more than ${width} fields`);
      row[field++] = copyTextValue(text.slice(from, tab));
      if (tab === end) break;
      from = tab + 1;
    }
    if (field !== width) throw new Error(`a COPY row has ${field} fields, expected ${width}`);
    rows.push(row);
    at = end + 1;
  }
}
