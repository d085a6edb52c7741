import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Runtime } from '../../runtime.js';
import { sendJson } from '../http-errors.js';

/**
 * The progress page, as Vite built it (`npm run build:ui`, from src/ui into dist/ui): GET / and /ui
 * serve index.html; /ui/<file> serves only the files Vite's manifest names (the hashed bundle and
 * stylesheet) and the public favicon. Nothing maps a URL onto the filesystem.
 *
 * In development, to a browser on this machine (loopback), index.html carries the dev token
 * `quire serve` printed, as <meta name="quire-dev-token">, so the page can prefill it. Never in
 * production, never to another address.
 */

export const UI_DIST = fileURLToPath(new URL('../../../dist/ui/', import.meta.url));
const PUBLIC_FILES = ['favicon.svg'];

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
  woff2: 'font/woff2',
  png: 'image/png',
};

/**
 * No inline script or style, nothing from elsewhere; the page talks only to its own origin (HTTP
 * and, through 'self', ws:/wss: on the same host), cannot be framed, and submits no forms natively.
 */
export const UI_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export const UI_HEADERS: Record<string, string> = {
  'content-security-policy': UI_CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=(), usb=()',
};

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
  /** Vite's content-hashed files never change under their name. */
  immutable: boolean;
}

function asset(body: Buffer, name: string, immutable: boolean): Asset {
  const ext = name.slice(name.lastIndexOf('.') + 1);
  return { body, type: TYPES[ext] ?? 'application/octet-stream', etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`, immutable };
}

interface ManifestChunk {
  file: string;
  css?: string[];
  assets?: string[];
}

interface Built {
  index: Asset;
  files: Map<string, Asset>;
}

/** The names the manifest lists: every chunk, stylesheet and asset Vite emitted. */
export function manifestFiles(manifest: Record<string, ManifestChunk>): string[] {
  return [...new Set(Object.values(manifest).flatMap((c) => [c.file, ...(c.css ?? []), ...(c.assets ?? [])]))];
}

let cache: Built | undefined;

/** Read once, on first use (the build is part of the deployment); undefined while dist/ui is not built. */
function built(): Built | undefined {
  if (cache) return cache;
  const manifestPath = join(UI_DIST, '.vite', 'manifest.json');
  if (!existsSync(manifestPath)) return undefined;
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Record<string, ManifestChunk>;
  const files = new Map<string, Asset>();
  for (const name of manifestFiles(manifest)) files.set(name, asset(readFileSync(join(UI_DIST, name)), name, true));
  for (const name of PUBLIC_FILES) if (existsSync(join(UI_DIST, name))) files.set(name, asset(readFileSync(join(UI_DIST, name)), name, false));
  cache = { index: asset(readFileSync(join(UI_DIST, 'index.html')), 'index.html', false), files };
  return cache;
}

const NOT_BUILT = `<!doctype html><html lang="en"><meta charset="utf-8"><title>quire · page not built</title>
<h1>The progress page is not built</h1>
<p>Run <code>npm run build:ui</code> (<code>npm start</code> does it first), then reload. The GraphQL API is at <a href="/graphql">/graphql</a>.</p></html>`;

function send(req: IncomingMessage, res: ServerResponse, found: Asset | undefined, extra: Record<string, string> = {}): void {
  if (!found) return sendJson(res, 404, { error: { code: 'NOT_FOUND', message: 'no such file' } }, UI_HEADERS);
  const headers = { ...UI_HEADERS, 'content-type': found.type, etag: found.etag, 'cache-control': found.immutable ? 'public, max-age=31536000, immutable' : 'no-cache', ...extra };
  if (req.headers['if-none-match']?.split(/\s*,\s*/).includes(found.etag)) {
    res.writeHead(304, headers);
    return void res.end();
  }
  res.writeHead(200, { ...headers, 'content-length': found.body.length });
  res.end(req.method === 'HEAD' ? undefined : found.body);
}

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/** The dev token goes only to a browser on this machine, and never in production. */
export function mayReceiveDevToken(runtime: Runtime, req: IncomingMessage): boolean {
  return !runtime.config.production && LOOPBACK.has(req.socket.remoteAddress ?? '');
}

/** index.html with the dev token as a meta element (an attribute value: the CSP allows it). */
function withDevToken(index: Asset, token: string): Asset {
  const safe = token.replace(/[^A-Za-z0-9._-]/g, '');
  const html = index.body.toString('utf8').replace('</head>', `  <meta name="quire-dev-token" content="${safe}" />\n  </head>`);
  return asset(Buffer.from(html), 'index.html', false);
}

type Handler = (runtime: Runtime, req: IncomingMessage, res: ServerResponse, param: string) => Promise<void>;

export interface UiOptions {
  /** The token `quire serve` printed for the embedded default; offered to loopback browsers in development. */
  devToken?: string;
}

/** Spread into http-server.ts's routes. */
export function uiRoutes(options: UiOptions = {}): Array<[RegExp, Handler]> {
  let devIndex: Asset | undefined;
  const page: Handler = async (runtime, req, res) => {
    const b = built();
    if (!b) {
      res.writeHead(503, { ...UI_HEADERS, 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      return void res.end(req.method === 'HEAD' ? undefined : NOT_BUILT);
    }
    if (options.devToken && mayReceiveDevToken(runtime, req)) {
      devIndex ??= withDevToken(b.index, options.devToken);
      return send(req, res, devIndex, { 'cache-control': 'no-store' });
    }
    send(req, res, b.index);
  };
  const file: Handler = async (_runtime, req, res, name) => send(req, res, built()?.files.get(name));
  return [
    [/^\/(?:ui\/?)?$/, page],
    [/^\/ui\/((?:assets\/)?[A-Za-z0-9_.-]{1,128})$/, file],
  ];
}
