import { createRequire } from 'node:module';
import pdfmake from 'pdfmake';
import type { TDocumentDefinitions } from 'pdfmake/interfaces.js';
import { FONT_DICTIONARY, fontAccessPolicy } from '../reports/templates/fonts.js';
import { TEMPLATES_VERSION } from '../reports/templates/registry.js';

const require = createRequire(import.meta.url);
export const PDFMAKE_VERSION: string = require('pdfmake/package.json').version;
/** Recorded with every rendered report: same version and params, same document. */
export const RENDERER_VERSION = `pdfmake@${PDFMAKE_VERSION}+quire-templates@${TEMPLATES_VERSION}`;

let configured = false;
/** pdfmake is a process-wide singleton: fonts and policies are set once per thread. */
export function configurePdfmake(): typeof pdfmake {
  if (!configured) {
    pdfmake.setFonts(FONT_DICTIONARY);
    pdfmake.setLocalAccessPolicy(fontAccessPolicy);
    // Templates never reference URLs; refusing them all keeps a render from reaching the network.
    pdfmake.setUrlAccessPolicy(() => false);
    configured = true;
  }
  return pdfmake;
}

/** Lays out and writes one document. Synchronous CPU work between awaits: call it in a worker. */
export async function renderPdf(doc: TDocumentDefinitions, onProgress?: (fraction: number) => void): Promise<Buffer> {
  const pm = configurePdfmake();
  (pm as unknown as { setProgressCallback(cb: ((f: number) => void) | undefined): void }).setProgressCallback(onProgress);
  try {
    return (await pm.createPdf(doc).getBuffer()) as Buffer;
  } finally {
    (pm as unknown as { setProgressCallback(cb: undefined): void }).setProgressCallback(undefined);
  }
}
