/**
 * The progress page's route without a browser: the dev token goes into index.html only for a
 * loopback client outside production; the built files are served from Vite's manifest only.
 */
import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpServer, type HttpServer } from '../../src/api/http-server.js';
import { mayReceiveDevToken } from '../../src/api/routes/ui.js';
import type { Runtime } from '../../src/runtime.js';
import { freePort } from '../support/instances.js';
import { startTestRuntime, type TestRuntime } from '../support/runtime.js';

const req = (remoteAddress: string) => ({ socket: { remoteAddress } }) as unknown as IncomingMessage;
const rt = (production: boolean) => ({ config: { production } }) as unknown as Runtime;

describe('dev token in the progress page', () => {
  it('only to loopback clients, never in production', () => {
    for (const a of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) {
      expect(mayReceiveDevToken(rt(false), req(a)), a).toBe(true);
      expect(mayReceiveDevToken(rt(true), req(a)), `${a} in production`).toBe(false);
    }
    for (const a of ['10.0.0.7', '192.168.1.2', '::ffff:10.0.0.7', 'fdaa::3', '127.0.0.2', '']) expect(mayReceiveDevToken(rt(false), req(a)), a).toBe(false);
  });

  describe('served', () => {
    let runtime: TestRuntime;
    let http: HttpServer;
    let plain: HttpServer;
    beforeAll(async () => {
      runtime = await startTestRuntime('pglite');
      http = await startHttpServer(runtime, await freePort(), '127.0.0.1', { devToken: 'eyJhbGciOiJIUzI1NiJ9.e30.c2ln' });
      plain = await startHttpServer(runtime, await freePort(), '127.0.0.1');
    });
    afterAll(async () => {
      await http?.close();
      await plain?.close();
      await runtime?.close();
    });

    it('index.html carries it as a meta element (not cached) when quire has one, and not otherwise', async () => {
      const res = await fetch(`${http.url}/`);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('<meta name="quire-dev-token" content="eyJhbGciOiJIUzI1NiJ9.e30.c2ln" />');
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('content-security-policy')).not.toContain('unsafe-inline');
      const other = await fetch(`${plain.url}/`);
      expect(await other.text()).not.toContain('quire-dev-token');
    });

    it('serves the built bundle, stylesheet and icon, and nothing else under /ui/', async () => {
      const html = await (await fetch(`${plain.url}/ui`)).text();
      const assets = [...html.matchAll(/(?:src|href)="(\/ui\/[^"]+)"/g)].map((m) => m[1]!);
      expect(assets.some((a) => /^\/ui\/assets\/[\w-]+\.js$/.test(a))).toBe(true);
      expect(assets.some((a) => /^\/ui\/assets\/[\w-]+\.css$/.test(a))).toBe(true);
      for (const a of assets) {
        const res = await fetch(`${plain.url}${a}`);
        expect(res.status, a).toBe(200);
        if (a.includes('/assets/')) expect(res.headers.get('cache-control')).toContain('immutable');
      }
      for (const path of ['/ui/index.html', '/ui/.vite/manifest.json', '/ui/app.js', '/ui/main.ts', '/ui/assets/..%2f..%2fpackage.json', '/ui/vendor/graphql-ws/client.js']) {
        expect((await fetch(`${plain.url}${path}`)).status, path).toBe(404);
      }
    });
  });
});
