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

/** The parts of pdfkit's PDFDocument (0.19) used here: a readable stream until `end()`. */
interface PdfKitDocument extends NodeJS.ReadableStream {
  end(): void;
  info: Record<string, unknown>;
  _addInfo(): void;
}

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
const escapeXml = (s: string) => s.replace(/[&<>"']/g, (c) => XML_ESCAPES[c]!);

/**
 * pdfkit 0.19 copies the Info values into the XMP packet as they are: a title with `&` or `<`
 * (titles are the requester's text) would make the XMP malformed, which PDF/A forbids. The Info
 * dictionary keeps the plain text; only the XMP sees escaped copies.
 */
function escapeXmpValues(doc: PdfKitDocument): void {
  const addInfo = doc._addInfo;
  doc._addInfo = function (this: PdfKitDocument) {
    const info = this.info;
    this.info = Object.fromEntries(Object.entries(info).map(([k, v]) => [k, typeof v === 'string' ? escapeXml(v) : v]));
    try {
      addInfo.call(this);
    } finally {
      this.info = info;
    }
  };
}

/** Lays out and writes one document. Synchronous CPU work between awaits: call it in a worker. */
export async function renderPdf(doc: TDocumentDefinitions, onProgress?: (fraction: number) => void): Promise<Buffer> {
  const pm = configurePdfmake();
  (pm as unknown as { setProgressCallback(cb: ((f: number) => void) | undefined): void }).setProgressCallback(onProgress);
  try {
    // The pdfkit document before it is ended (what pdfmake's getBuffer does, with the XMP fix).
    const pdf = (await pm.createPdf(doc).getStream()) as unknown as PdfKitDocument;
    escapeXmpValues(pdf);
    const chunks: Buffer[] = [];
    const done = new Promise<Buffer>((resolve, reject) => {
      pdf.on('data', (chunk: Buffer) => chunks.push(chunk));
      pdf.on('end', () => resolve(Buffer.concat(chunks)));
      pdf.on('error', reject);
    });
    pdf.end();
    return await done;
  } finally {
    (pm as unknown as { setProgressCallback(cb: undefined): void }).setProgressCallback(undefined);
  }
}
