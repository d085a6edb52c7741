import { getDocument, OPS } from 'pdfjs-dist/legacy/build/pdf.mjs';

/** A rendered PDF opened with pdf.js: an independent parser, not the code that wrote it. */
export async function openPdf(bytes: Uint8Array) {
  // pdf.js takes ownership of (detaches) the buffer it is given: hand it a copy.
  const doc = await getDocument({ data: new Uint8Array(bytes), useSystemFonts: false, verbosity: 0 }).promise;
  return {
    numPages: doc.numPages,
    async text(pageNumber: number): Promise<string> {
      const page = await doc.getPage(pageNumber);
      const content = await page.getTextContent();
      return content.items.map((i) => ('str' in i ? i.str : '')).join(' ');
    },
    /** How often each drawing operator occurs on the page, by pdf.js operator name. */
    async operators(pageNumber: number): Promise<Map<string, number>> {
      const page = await doc.getPage(pageNumber);
      const list = await page.getOperatorList();
      const names = new Map(Object.entries(OPS).map(([name, code]) => [code, name]));
      const counts = new Map<string, number>();
      for (const fn of list.fnArray) {
        const name = names.get(fn) ?? String(fn);
        counts.set(name, (counts.get(name) ?? 0) + 1);
      }
      return counts;
    },
    close: () => doc.destroy(),
  };
}
