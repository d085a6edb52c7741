import { parentPort } from 'node:worker_threads';
import { getTemplate, TEMPLATES_VERSION } from '../reports/templates/registry.js';
import { withMissingGlyphs } from '../reports/templates/unicode-text.js';
import { countPages } from './count-pages.js';
import { archivalDocument } from './archival.js';
import { configurePdfmake, PDFMAKE_VERSION, RENDERER_VERSION, renderPdf } from './pdfmake.js';
import type { FromWorker, RenderJob, ToWorker } from './protocol.js';

/** Progress is sent in steps of this fraction, not once per drawn item. */
const PROGRESS_STEP = 0.01;

if (!parentPort) throw new Error('render-thread must run in a worker thread');
const port = parentPort;
const send = (msg: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);

async function render(id: number, job: RenderJob): Promise<void> {
  const started = performance.now();
  const template = getTemplate(job.template);
  if (!template) return send({ type: 'failed', id, reason: 'invalid_job', message: `unknown template "${job.template}"` });
  const parsed = template.params.safeParse(job.params);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    return send({ type: 'failed', id, reason: 'invalid_job', message: `invalid params for "${job.template}": ${issues}` });
  }
  let sent = 0;
  const onProgress = (f: number) => {
    if (f - sent >= PROGRESS_STEP || (f === 1 && sent < 1)) {
      sent = f;
      send({ type: 'progress', id, fraction: f });
    }
  };
  let buf: Buffer;
  let missingGlyphs: string[];
  try {
    // Characters no shipped font can draw are reported with the result, not only drawn as U+FFFD.
    const built = withMissingGlyphs(() =>
      template.build(parsed.data, {
        reportId: job.reportId,
        title: job.title,
        generatedAt: job.generatedAt,
        ...(job.history ? { history: job.history } : {}),
      }),
    );
    const doc = archivalDocument(built.result, job, template, {
      creator: `quire templates v${TEMPLATES_VERSION}`,
      producer: `pdfmake ${PDFMAKE_VERSION}`,
    });
    missingGlyphs = built.missingGlyphs;
    buf = await renderPdf(doc, onProgress);
  } catch (err) {
    return send({ type: 'failed', id, reason: 'failed', message: err instanceof Error ? err.message : String(err) });
  }
  // Transfer, not copy; a small Buffer may share Node's pool, so give it a buffer of its own.
  const pdf = buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength ? new Uint8Array(buf.buffer) : new Uint8Array(buf);
  const renderMs = performance.now() - started;
  const locale = (parsed.data as { locale?: unknown }).locale;
  send(
    { type: 'done', id, pdf, pages: countPages(pdf), renderMs, rendererVersion: RENDERER_VERSION, ...(typeof locale === 'string' ? { locale } : {}), missingGlyphs },
    [pdf.buffer as ArrayBuffer],
  );
}

// One job at a time: the pool never sends a second before the first is answered.
port.on('message', (msg: ToWorker) => {
  if (msg.type === 'render') void render(msg.id, msg.job);
});
configurePdfmake();
send({ type: 'ready' });
