/**
 * Builds the progress page (src/ui → dist/ui) with Vite unless dist/ui is newer than every source
 * of it: `npm start` runs it first (prestart) and the tests' global setup calls it, so a restart
 * does not spend seconds rebuilding a page that has not changed. `--force` always builds.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MANIFEST = join(ROOT, 'dist/ui/.vite/manifest.json');
// src/shared: constants the page shares with the server (bundled into it).
const SOURCES = [join(ROOT, 'src/ui'), join(ROOT, 'src/shared'), join(ROOT, 'vite.config.ts')];

function newest(path: string): number {
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  return Math.max(s.mtimeMs, ...readdirSync(path).map((name) => newest(join(path, name))));
}

export function uiIsStale(): boolean {
  return !existsSync(MANIFEST) || statSync(MANIFEST).mtimeMs <= Math.max(...SOURCES.map(newest));
}

/** true when it built. Vite is imported only then: loading it is most of the cost. */
export async function buildUiIfStale(force = false): Promise<boolean> {
  if (!force && !uiIsStale()) return false;
  const { build } = await import('vite');
  await build({ configFile: join(ROOT, 'vite.config.ts'), logLevel: 'warn' });
  return true;
}

// Run as a script (`node bin/run-ts.js scripts/build-ui.ts --if-stale | --force`); imported, it only exports.
if (process.argv.includes('--if-stale') || process.argv.includes('--force')) {
  const built = await buildUiIfStale(process.argv.includes('--force'));
  if (!built) console.log('progress page up to date (dist/ui); npm run build:ui rebuilds it');
}
