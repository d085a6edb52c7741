import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { TFontDictionary } from 'pdfmake/interfaces.js';

/*
 * Fonts. Every font is embedded (subset): none of the standard 14, which a viewer substitutes as it
 * likes and PDF/A forbids. The body font is Arimo (@expo-google-fonts/arimo), metric-compatible
 * with Helvetica/Arial, so layouts measured in Helvetica widths (summary.ts) still hold; hashes are
 * set in DejaVu Sans Mono (Courier's 0.6 em advance). Text outside WinAnsi (the range the body
 * font is trusted with) is split into runs in other TrueType fonts shipped in npm packages,
 * chosen per code point:
 *   DejaVu Sans (dejavu-fonts-ttf): Cyrillic, Greek, Armenian, Georgian, Hebrew, symbols…
 *   Noto Sans SC (@expo-google-fonts/noto-sans-sc): CJK ideographs, kana
 *   Noto Sans KR (@expo-google-fonts/noto-sans-kr): hangul (SC has only some syllables)
 *   Noto Sans Thai, Noto Sans Devanagari (@expo-google-fonts/…): shaped by fontkit (reordering,
 *     conjuncts, marks), so each script's text must stay in one run of its own font
 *   Noto Emoji (@expo-google-fonts/noto-emoji): monochrome emoji (PDF has no colour glyphs here)
 * Only the glyphs used are embedded (pdfkit subsets). A code point none of them has becomes U+FFFD
 * rather than an invisible or crashing glyph, and the render says so (a warning on the report).
 *
 * To add a script: `npm install` a package that ships its TTF (Noto families are on npm as
 * @expo-google-fonts/noto-sans-<script>), add it to FALLBACK_FONTS, and to SCRIPT_FONTS below when
 * the fonts before it have some of its code points but not all (as SC has some hangul).
 */

const require = createRequire(import.meta.url);
const packageDir = (name: string) => dirname(require.resolve(`${name}/package.json`));

const dejavu = join(packageDir('dejavu-fonts-ttf'), 'ttf');
const arimo = packageDir('@expo-google-fonts/arimo');
const notoSc = packageDir('@expo-google-fonts/noto-sans-sc');
const notoEmoji = packageDir('@expo-google-fonts/noto-emoji');
const notoKr = packageDir('@expo-google-fonts/noto-sans-kr');
const notoThai = packageDir('@expo-google-fonts/noto-sans-thai');
const notoDevanagari = packageDir('@expo-google-fonts/noto-sans-devanagari');

/** A family from an @expo-google-fonts package: regular and bold (no italics: the upright ones stand in). */
function noto(dir: string, family: string) {
  const regular = join(dir, '400Regular', `${family}_400Regular.ttf`);
  const bold = join(dir, '700Bold', `${family}_700Bold.ttf`);
  return { normal: regular, bold, italics: regular, bolditalics: bold };
}

/** The body font (embedded, metric-compatible with Helvetica). */
export const BODY_FONT = 'Arimo';
/** Fixed-width text (hashes). */
export const MONO_FONT = 'DejaVuSansMono';

export const FALLBACK_FONTS = {
  DejaVuSans: {
    normal: join(dejavu, 'DejaVuSans.ttf'),
    bold: join(dejavu, 'DejaVuSans-Bold.ttf'),
    italics: join(dejavu, 'DejaVuSans-Oblique.ttf'),
    bolditalics: join(dejavu, 'DejaVuSans-BoldOblique.ttf'),
  },
  NotoSansSC: {
    normal: join(notoSc, '400Regular', 'NotoSansSC_400Regular.ttf'),
    bold: join(notoSc, '700Bold', 'NotoSansSC_700Bold.ttf'),
    italics: join(notoSc, '400Regular', 'NotoSansSC_400Regular.ttf'),
    bolditalics: join(notoSc, '700Bold', 'NotoSansSC_700Bold.ttf'),
  },
  NotoSansKR: noto(notoKr, 'NotoSansKR'),
  NotoSansThai: noto(notoThai, 'NotoSansThai'),
  NotoSansDevanagari: noto(notoDevanagari, 'NotoSansDevanagari'),
  NotoEmoji: noto(notoEmoji, 'NotoEmoji'),
} as const;

export type FallbackFont = keyof typeof FALLBACK_FONTS;
/** Tried in this order for a code point outside WinAnsi. */
export const FALLBACK_ORDER: readonly FallbackFont[] = ['DejaVuSans', 'NotoSansSC', 'NotoSansKR', 'NotoSansThai', 'NotoSansDevanagari', 'NotoEmoji'];

/**
 * Scripts whose every code point goes to one font, ahead of FALLBACK_ORDER: a word must not switch
 * fonts half-way (hangul syllables SC happens to have would look different from the rest; Thai and
 * Devanagari are shaped per run). Inclusive code point ranges.
 */
export const SCRIPT_FONTS: ReadonlyArray<[number, number, FallbackFont]> = [
  [0x1100, 0x11ff, 'NotoSansKR'], // Hangul Jamo
  [0x3130, 0x318f, 'NotoSansKR'], // Hangul Compatibility Jamo
  [0xa960, 0xa97f, 'NotoSansKR'], // Hangul Jamo Extended-A
  [0xac00, 0xd7ff, 'NotoSansKR'], // Hangul Syllables, Jamo Extended-B
  [0x0e00, 0x0e7f, 'NotoSansThai'],
  [0x0900, 0x097f, 'NotoSansDevanagari'],
  [0xa8e0, 0xa8ff, 'NotoSansDevanagari'], // Devanagari Extended
  [0x1cd0, 0x1cff, 'NotoSansDevanagari'], // Vedic Extensions
];

/** Everything a template may name, for pdfmake's `setFonts`: files only, no standard-14 name. */
export const FONT_DICTIONARY: TFontDictionary = {
  [BODY_FONT]: {
    normal: join(arimo, '400Regular', 'Arimo_400Regular.ttf'),
    bold: join(arimo, '700Bold', 'Arimo_700Bold.ttf'),
    italics: join(arimo, '400Regular_Italic', 'Arimo_400Regular_Italic.ttf'),
    bolditalics: join(arimo, '700Bold_Italic', 'Arimo_700Bold_Italic.ttf'),
  },
  [MONO_FONT]: {
    normal: join(dejavu, 'DejaVuSansMono.ttf'),
    bold: join(dejavu, 'DejaVuSansMono-Bold.ttf'),
    italics: join(dejavu, 'DejaVuSansMono-Oblique.ttf'),
    bolditalics: join(dejavu, 'DejaVuSansMono-BoldOblique.ttf'),
  },
  ...FALLBACK_FONTS,
};

const allowed = new Set<string>(
  Object.values(FONT_DICTIONARY).flatMap((f) => Object.values(f).filter((v): v is string => typeof v === 'string')),
);

/**
 * pdfmake's local-file policy: the font files above, nothing else, so a document definition can
 * never read an arbitrary file.
 */
export function fontAccessPolicy(path: string): boolean {
  return allowed.has(path);
}
