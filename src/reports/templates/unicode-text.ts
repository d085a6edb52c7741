import { openSync, type Font } from 'fontkit';
import type { Content } from 'pdfmake/interfaces.js';
import { FALLBACK_FONTS, FALLBACK_ORDER, type FallbackFont } from './fonts.js';

/** The 27 characters WinAnsi puts in 0x80–0x9F; with Latin-1 these are what Helvetica can show. */
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
    hit = FALLBACK_ORDER.find((name) => font(name).hasGlyphForCodePoint(cp)) ?? null;
    cache.set(cp, hit);
  }
  return hit;
}

/** undefined = the body font (the document's default). */
type RunFont = FallbackFont | undefined;

/**
 * Text ready for pdfmake whatever its script: the string itself when the standard fonts can show
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
