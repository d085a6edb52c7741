import { openSync, type Font } from 'fontkit';
import type { Content } from 'pdfmake/interfaces.js';
import { FALLBACK_FONTS, FALLBACK_ORDER, SCRIPT_FONTS, type FallbackFont } from './fonts.js';

/** The 27 characters WinAnsi puts in 0x80–0x9F; with Latin-1 these are what the body font is trusted with. */
const WIN_ANSI_EXTRA = new Set(
  [...'€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ'].map((c) => c.codePointAt(0)!),
);
/** Strings made only of these need no work at all: the common case, checked first. */
const PLAIN = /^[\t\n\r\x20-\x7e\xa0-\xff]*$/;
const REPLACEMENT = '\uFFFD';

function isWinAnsi(cp: number): boolean {
  return cp === 9 || cp === 10 || cp === 13 || (cp >= 0x20 && cp <= 0x7e) || (cp >= 0xa0 && cp <= 0xff) || WIN_ANSI_EXTRA.has(cp);
}

/** Marks that only modify the character before them: they stay in that character's run. */
function isModifier(cp: number): boolean {
  return cp === 0x200d || (cp >= 0xfe00 && cp <= 0xfe0f) || (cp >= 0x1f3fb && cp <= 0x1f3ff) || (cp >= 0xe0020 && cp <= 0xe007f);
}

// Opened on first use: most documents never need them, and the CJK font is 10 MB.
const opened = new Map<FallbackFont, Font>();
function font(name: FallbackFont): Font {
  let f = opened.get(name);
  if (!f) {
    f = openSync(FALLBACK_FONTS[name].normal);
    opened.set(name, f);
  }
  return f;
}

const cache = new Map<number, FallbackFont | null>();
/** The first fallback font that has a glyph for the code point, or null when none has. */
function fallbackFor(cp: number): FallbackFont | null {
  let hit = cache.get(cp);
  if (hit === undefined) {
    const script = SCRIPT_FONTS.find(([from, to]) => cp >= from && cp <= to)?.[2];
    hit = script && font(script).hasGlyphForCodePoint(cp) ? script : (FALLBACK_ORDER.find((name) => font(name).hasGlyphForCodePoint(cp)) ?? null);
    cache.set(cp, hit);
  }
  return hit;
}

/**
 * Characters no font could draw while building one document (a render worker builds one at a time,
 * synchronously): reported with the render instead of passing silently as U+FFFD.
 */
let missing: Set<string> | undefined;

/** Runs `build` and returns what it built with the characters that had to become U+FFFD (as U+XXXX). */
export function withMissingGlyphs<T>(build: () => T): { result: T; missingGlyphs: string[] } {
  const outer = missing;
  missing = new Set();
  try {
    const result = build();
    return { result, missingGlyphs: [...missing].sort() };
  } finally {
    missing = outer;
  }
}

const codePointName = (cp: number) => `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;

/** undefined = the body font (the document's default). */
type RunFont = FallbackFont | undefined;

/**
 * Text ready for pdfmake whatever its script: the string itself when the body font can show
 * it, else inline runs, each in a font that has its glyphs; characters no font has become U+FFFD.
 */
export function unicodeText(text: string): string | Content[] {
  if (PLAIN.test(text)) return text;
  const runs: { text: string; font: RunFont }[] = [];
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    const last = runs.at(-1);
    if (last && isModifier(cp)) {
      last.text += ch;
      continue;
    }
    let runFont: RunFont;
    let out = ch;
    if (!isWinAnsi(cp)) {
      const f = fallbackFor(cp);
      if (f === null) {
        missing?.add(codePointName(cp));
        out = REPLACEMENT;
        runFont = 'DejaVuSans';
      } else {
        runFont = f;
      }
    }
    if (last && last.font === runFont) last.text += out;
    else runs.push({ text: out, font: runFont });
  }
  return runs.map((r) => (r.font ? { text: r.text, font: r.font } : r.text));
}

/** The fallback fonts a `unicodeText` result sets its runs in. */
export function fallbackFontsOf(text: string | Content[], into = new Set<FallbackFont>()): Set<FallbackFont> {
  if (typeof text !== 'string') {
    for (const run of text) {
      const f = (run as { font?: string }).font;
      if (f && f in FALLBACK_FONTS) into.add(f as FallbackFont);
    }
  }
  return into;
}

/**
 * Invisible, zero-width runs that give a line the ascent and height of each of `fonts`. pdfmake
 * sets a line's height and baseline from the tallest font on it, so a table row with CJK or
 * Devanagari would stand taller and sit lower than its Latin neighbours; with the same strut at
 * the start of every cell, every row has the same height and the same baseline. (Two spaces whose
 * negative character spacing cancels their width: CJK fonts have no empty zero-width glyph.)
 */
export function strut(fonts: Iterable<FallbackFont>, fontSize: number): Content[] {
  return [...fonts].map((name) => {
    const f = font(name);
    const space = (f.glyphForCodePoint(0x20).advanceWidth / f.unitsPerEm) * fontSize;
    return { text: '  ', font: name, characterSpacing: -2 * space, preserveLeadingSpaces: true, preserveTrailingSpaces: true };
  });
}
