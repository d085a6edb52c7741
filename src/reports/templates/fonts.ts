import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { TFontDictionary } from 'pdfmake/interfaces.js';

/*
 * Fonts. Most report text is Latin, so the body font is the built-in Helvetica: no file to read,
 * no subsetting, the fastest render. Text that WinAnsi (the standard fonts' encoding) cannot show
 * is split into runs in embedded TrueType fonts shipped in npm packages, chosen per code point:
 *   DejaVu Sans (dejavu-fonts-ttf): Cyrillic, Greek, Armenian, Georgian, Hebrew, symbols…
 *   Noto Sans SC (@expo-google-fonts/noto-sans-sc): CJK ideographs, kana, hangul in part
 *   Noto Emoji (@expo-google-fonts/noto-emoji): monochrome emoji (PDF has no colour glyphs here)
 * Only the glyphs used are embedded (pdfkit subsets). A code point none of them has becomes U+FFFD
 * rather than an invisible or crashing glyph.
 */

const require = createRequire(import.meta.url);
const packageDir = (name: string) => dirname(require.resolve(`${name}/package.json`));

const dejavu = join(packageDir('dejavu-fonts-ttf'), 'ttf');
const notoSc = packageDir('@expo-google-fonts/noto-sans-sc');
const notoEmoji = packageDir('@expo-google-fonts/noto-emoji');

/** The body font: one of pdfkit's standard 14, named by its PostScript names (no file). */
export const BODY_FONT = 'Helvetica';

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
  NotoEmoji: {
    normal: join(notoEmoji, '400Regular', 'NotoEmoji_400Regular.ttf'),
    bold: join(notoEmoji, '700Bold', 'NotoEmoji_700Bold.ttf'),
    italics: join(notoEmoji, '400Regular', 'NotoEmoji_400Regular.ttf'),
    bolditalics: join(notoEmoji, '700Bold', 'NotoEmoji_700Bold.ttf'),
  },
} as const;

export type FallbackFont = keyof typeof FALLBACK_FONTS;
/** Tried in this order for a code point outside WinAnsi. */
export const FALLBACK_ORDER: readonly FallbackFont[] = ['DejaVuSans', 'NotoSansSC', 'NotoEmoji'];

const STANDARD = {
  normal: 'Helvetica',
  bold: 'Helvetica-Bold',
  italics: 'Helvetica-Oblique',
  bolditalics: 'Helvetica-BoldOblique',
};

/** Everything a template may name, for pdfmake's `setFonts`. */
export const FONT_DICTIONARY: TFontDictionary = {
  [BODY_FONT]: STANDARD,
  Courier: { normal: 'Courier', bold: 'Courier-Bold', italics: 'Courier-Oblique', bolditalics: 'Courier-BoldOblique' },
  ...FALLBACK_FONTS,
};

const allowed = new Set<string>(
  Object.values(FONT_DICTIONARY).flatMap((f) => Object.values(f).filter((v): v is string => typeof v === 'string')),
);

/**
 * pdfmake's local-file policy: the standard font names (pdfmake asks about them too) and the font
 * files above, nothing else, so a document definition can never read an arbitrary file.
 */
export function fontAccessPolicy(path: string): boolean {
  return allowed.has(path);
}
