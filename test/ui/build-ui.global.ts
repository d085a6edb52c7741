/**
 * vitest globalSetup: builds the progress page (src/ui → dist/ui, as `npm run build:ui` does) before
 * any test runs, unless dist/ui is newer than every source of it. quire serves dist/ui.
 */
import { buildUiIfStale } from '../../scripts/build-ui.js';

export default async function setup(): Promise<void> {
  await buildUiIfStale();
}
