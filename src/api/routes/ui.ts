import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Runtime } from '../../runtime.js';
import { sendJson } from '../http-errors.js';

/**
 * The progress page (src/ui): GET / and /ui serve index.html; /ui/<file> its module, styles and
 * icon; /ui/vendor/graphql-ws/<file> graphql-ws's browser client straight from node_modules (no
 * build step, no CDN). Only files named here are served: nothing maps a URL onto the filesystem.
 */

const UI_DIR = fileURLToPath(new URL('../../ui/', import.meta.url));
const UI_FILES = ['index.html', 'app.js', 'operations.js', 'style.css', 'favicon.svg'];

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
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
}

function asset(path: string): Asset {
  const body = readFileSync(path);
  const ext = path.slice(path.lastIndexOf('.') + 1);
  return { body, type: TYPES[ext] ?? 'application/octet-stream', etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
}

/** graphql-ws's ESM browser client and the chunks it imports (their names carry build hashes). */
function graphqlWsFiles(): Map<string, string> {
  const dist = dirname(createRequire(import.meta.url).resolve('graphql-ws'));
  const files = new Map<string, string>();
  const pending = ['client.js'];
  while (pending.length > 0) {
    const name = pending.pop()!;
    if (files.has(name)) continue;
    const path = join(dist, name);
    files.set(name, path);
    for (const m of readFileSync(path, 'utf8').matchAll(/from\s*['"]\.\/([\w.-]+\.js)['"]/g)) pending.push(m[1]!);
  }
  return files;
}

let cache: { ui: Map<string, Asset>; vendor: Map<string, Asset> } | undefined;

/** Read once, on first use: the files are part of the deployed code. */
function assets(): { ui: Map<string, Asset>; vendor: Map<string, Asset> } {
  if (!cache) {
    cache = {
      ui: new Map(UI_FILES.map((name) => [name, asset(join(UI_DIR, name))])),
      vendor: new Map([...graphqlWsFiles()].map(([name, path]) => [name, asset(path)])),
    };
  }
  return cache;
}

function send(req: IncomingMessage, res: ServerResponse, found: Asset | undefined): void {
  if (!found) return sendJson(res, 404, { error: { code: 'NOT_FOUND', message: 'no such file' } }, UI_HEADERS);
  const headers = { ...UI_HEADERS, 'content-type': found.type, etag: found.etag, 'cache-control': 'no-cache' };
  if (req.headers['if-none-match']?.split(/\s*,\s*/).includes(found.etag)) {
    res.writeHead(304, headers);
    return void res.end();
  }
  res.writeHead(200, { ...headers, 'content-length': found.body.length });
  res.end(req.method === 'HEAD' ? undefined : found.body);
}

type Handler = (runtime: Runtime, req: IncomingMessage, res: ServerResponse, param: string) => Promise<void>;

export const uiPage: Handler = async (_runtime, req, res) => send(req, res, assets().ui.get('index.html'));

export const uiFile: Handler = async (_runtime, req, res, name) => send(req, res, name === 'index.html' ? undefined : assets().ui.get(name));

export const uiVendorGraphqlWs: Handler = async (_runtime, req, res, name) => send(req, res, assets().vendor.get(name));

/** Spread into http-server.ts's ROUTES. */
export const UI_ROUTES: Array<[RegExp, Handler]> = [
  [/^\/(?:ui\/?)?$/, uiPage],
  [/^\/ui\/([A-Za-z0-9_-]{1,64}\.(?:js|css|svg))$/, uiFile],
  [/^\/ui\/vendor\/graphql-ws\/([A-Za-z0-9_-]{1,64}\.js)$/, uiVendorGraphqlWs],
];
