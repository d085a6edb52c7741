/**
 * vitest globalSetup: builds the progress page (src/ui → dist/ui, as `npm run build:ui` does) before
 * any test runs, unless dist/ui is newer than every source of it. quire serves dist/ui.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'vite';

function newest(path: string): number {
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  return Math.max(s.mtimeMs, ...readdirSync(path).map((name) => newest(join(path, name))));
}

export default async function setup(): Promise<void> {
  const manifest = 'dist/ui/.vite/manifest.json';
  const sources = Math.max(newest('src/ui'), newest('vite.config.ts'));
  if (existsSync(manifest) && statSync(manifest).mtimeMs > sources) return;
  await build({ configFile: 'vite.config.ts', logLevel: 'warn' });
}
