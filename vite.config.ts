/**
 * The progress page (src/ui) built by Vite: `npm run build:ui` writes dist/ui, which quire serves at
 * / and /ui/ (src/api/routes/ui.ts serves only index.html, the files named in Vite's manifest and
 * favicon.svg). graphql-ws is bundled in; no inline script or style, so the page's CSP needs no
 * 'unsafe-inline'.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export const UI_ROOT = fileURLToPath(new URL('./src/ui/', import.meta.url));
export const UI_OUT = fileURLToPath(new URL('./dist/ui/', import.meta.url));

export default defineConfig({
  root: UI_ROOT,
  base: '/ui/',
  publicDir: 'public',
  logLevel: 'warn',
  clearScreen: false,
  build: {
    outDir: UI_OUT,
    emptyOutDir: true,
    manifest: true,
    target: 'es2022',
    // The modulepreload polyfill is inline-free but useless here (one chunk); keep the bundle small.
    modulePreload: { polyfill: false },
    // Every asset as a file: no data: URLs, which the CSP (img-src 'self') would refuse.
    assetsInlineLimit: 0,
    sourcemap: false,
  },
});
