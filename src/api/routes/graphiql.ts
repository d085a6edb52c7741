import { createReadStream, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { GraphiQLOptions } from 'graphql-yoga';
import type { Runtime } from '../../runtime.js';
import { sendJson } from '../http-errors.js';

/**
 * GraphiQL served by quire itself. Yoga's default page loads its scripts from unpkg, so it is a
 * blank "Loading…" wherever the CDN cannot be reached (an air-gapped machine, a strict CSP, CI).
 * The same bundle comes from the npm package @graphql-yoga/graphiql (UMD build, stylesheet and the
 * Monaco editor workers; a dev dependency) and is served under /graphiql/; the page has no inline script: its options
 * travel in a data attribute and a small start script of ours renders it.
 */

const require = createRequire(import.meta.url);

/**
 * The package's dist directory and version, found on first use. It is a dev dependency (production
 * has no GraphiQL, and its image is installed with --omit=dev): undefined when it is not installed.
 */
let found: { dist: string; version: string } | null | undefined;
function graphiqlPackage(): { dist: string; version: string } | undefined {
  if (found === undefined) {
    try {
      const manifest = require.resolve('@graphql-yoga/graphiql/package.json');
      found = { dist: join(dirname(manifest), 'dist'), version: (require(manifest) as { version: string }).version };
    } catch {
      found = null;
    }
  }
  return found ?? undefined;
}

export const GRAPHIQL_BASE = '/graphiql';

/** The package's files quire serves, by URL name (nothing else under dist, nothing outside it). */
const FILES: Record<string, string> = {
  'yoga-graphiql.umd.js': 'yoga-graphiql.umd.js',
  'graphiql.css': 'graphiql.css',
  'editor.worker.js': 'monacoeditorwork/editor.worker.bundle.js',
  'json.worker.js': 'monacoeditorwork/json.worker.bundle.js',
  // (sic: the package names it with two dots)
  'graphql.worker.js': 'monacoeditorwork/graphql.worker..bundle.js',
};

/** Monaco asks for a worker by label; each is a same-origin file, so `worker-src 'self'` suffices. */
const START_SCRIPT = `'use strict';
(function () {
  var root = document.getElementById('root');
  var base = root.getAttribute('data-base');
  var workers = { editorWorkerService: 'editor.worker.js', json: 'json.worker.js', graphql: 'graphql.worker.js' };
  self.MonacoEnvironment = {
    globalAPI: false,
    getWorkerUrl: function (_moduleId, label) { return base + '/' + (workers[label] || workers.editorWorkerService); },
  };
  root.textContent = '';
  YogaGraphiQL.renderYogaGraphiQL(root, JSON.parse(root.getAttribute('data-options')));
})();
`;

/**
 * GraphiQL's own policy: everything from this origin. Monaco and React set inline styles, and the
 * explorer draws data: images, hence the two relaxations for styles and images; scripts stay 'self'.
 */
export const GRAPHIQL_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "worker-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const escapeAttribute = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** yoga's `renderGraphiQL`: the page, with every asset on this origin. */
export function renderOfflineGraphiQL(options: GraphiQLOptions): string {
  const title = escapeAttribute(options.title ?? 'GraphiQL');
  if (!graphiqlPackage()) {
    return `<!doctype html><html lang="en"><meta charset="utf-8"><title>${title}</title><h1>GraphiQL is not installed</h1>
<p>It comes with the development dependencies: run <code>npm install</code> (not <code>--omit=dev</code>) and restart. The API itself answers POST requests here.</p></html>`;
  }
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<link rel="stylesheet" href="${GRAPHIQL_BASE}/graphiql.css">${options.favicon ? `<link rel="icon" href="${escapeAttribute(options.favicon)}">` : ''}</head>
<body class="no-focus-outline"><noscript>GraphiQL needs JavaScript.</noscript>
<div id="root" data-base="${GRAPHIQL_BASE}" data-options="${escapeAttribute(JSON.stringify(options))}">Loading ${title}…</div>
<script src="${GRAPHIQL_BASE}/yoga-graphiql.umd.js"></script>
<script src="${GRAPHIQL_BASE}/start.js"></script>
</body></html>`;
}

type Handler = (runtime: Runtime, req: IncomingMessage, res: ServerResponse, param: string) => Promise<void>;

const headersFor = (type: string, etag: string) => ({
  'content-type': type,
  etag,
  // The URLs carry no version: revalidate (a 304 costs nothing), never serve an old bundle.
  'cache-control': 'no-cache',
  'x-content-type-options': 'nosniff',
  'cross-origin-resource-policy': 'same-origin',
});

const serveAsset: Handler = async (_runtime, req, res, name) => {
  const pkg = graphiqlPackage();
  if (!pkg) return sendJson(res, 404, { error: { code: 'NOT_FOUND', message: 'GraphiQL is not installed (a development dependency)' } });
  const etag = `"graphiql-${pkg.version}-${name}"`;
  if (name === 'start.js') {
    if (req.headers['if-none-match'] === etag) return void res.writeHead(304, headersFor('text/javascript; charset=utf-8', etag)).end();
    res.writeHead(200, { ...headersFor('text/javascript; charset=utf-8', etag), 'content-length': Buffer.byteLength(START_SCRIPT) });
    return void res.end(req.method === 'HEAD' ? undefined : START_SCRIPT);
  }
  const file = FILES[name];
  if (!file) return sendJson(res, 404, { error: { code: 'NOT_FOUND', message: 'no such file' } });
  const type = name.endsWith('.css') ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8';
  if (req.headers['if-none-match'] === etag) return void res.writeHead(304, headersFor(type, etag)).end();
  const path = join(pkg.dist, file);
  res.writeHead(200, { ...headersFor(type, etag), 'content-length': statSync(path).size });
  if (req.method === 'HEAD') return void res.end();
  await new Promise<void>((resolve, reject) => {
    createReadStream(path).on('error', reject).pipe(res).on('finish', resolve).on('close', resolve);
  });
};

/** Spread into http-server.ts's routes (development only: production has no GraphiQL). */
export function graphiqlRoutes(enabled: boolean): Array<[RegExp, Handler]> {
  return enabled ? [[/^\/graphiql\/([A-Za-z0-9_.-]{1,64})$/, serveAsset]] : [];
}
