/**
 * The page's fallback for persisted documents (src/ui/transport.ts): a server that does not know a
 * hash (a machine of another release during a rolling deploy) is asked once more with the full
 * document, over HTTP and over the socket; a server that only takes known hashes refuses that once,
 * with no loop. Against a real quire HTTP server; the page's own functions, run in Node.
 */
import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startHttpServer, type HttpServer } from '../../src/api/http-server.js';
import { requestReport } from '../../src/reports/request-report.js';
import { TypedDocumentString, UiMeDocument, UiReportStatusDocument } from '../../src/ui/gql/graphql.js';
import { gql, RequestError, subscribe } from '../../src/ui/transport.js';
import { backends } from '../support/databases.js';
import { freePort } from '../support/instances.js';
import { startTestRuntime, type TestRuntime } from '../support/runtime.js';

/** The same document as a newer release would hash it: a hash this server never shipped. */
function withUnknownHash<R, V>(document: TypedDocumentString<R, V>): TypedDocumentString<R, V> {
  return new TypedDocumentString<R, V>(document.toString(), { ...document.__meta__, hash: 'f0'.repeat(32) });
}

interface Sent {
  query?: string;
  extensions?: { persistedQuery?: { sha256Hash: string } };
}

describe.each(backends)('the page’s persisted-document fallback on %s', (kind) => {
  const servers: Array<{ runtime: TestRuntime; http: HttpServer }> = [];
  /** Bodies the page POSTed to /graphql, in order. */
  const sent: Sent[] = [];
  const realFetch = globalThis.fetch;
  let base = '';
  let token = '';

  async function serve(mode: 'allow' | 'require') {
    const port = await freePort();
    const runtime = await startTestRuntime(kind, { PUBLIC_URL: `http://127.0.0.1:${port}`, PERSISTED_DOCUMENTS: mode });
    const http = await startHttpServer(runtime, port, '127.0.0.1');
    servers.push({ runtime, http });
    return { runtime, http };
  }

  beforeAll(async () => {
    // The page calls fetch('/graphql'): resolved against the server this test points it at.
    globalThis.fetch = (input, init) => {
      if (typeof init?.body === 'string') sent.push(JSON.parse(init.body) as Sent);
      return realFetch(new URL(String(input), base), init);
    };
  });
  afterAll(async () => {
    globalThis.fetch = realFetch;
    for (const { http, runtime } of servers) {
      await http.close();
      await runtime.close();
    }
  });

  it('over HTTP, PERSISTED_DOCUMENTS=allow: a known hash is sent alone once; an unknown one is retried once with the full document', async () => {
    const { runtime, http } = await serve('allow');
    base = http.url;
    token = await runtime.userTokens.sign({ id: 'alice', role: 'user' }, 600);

    sent.length = 0;
    expect(await gql(token, UiMeDocument, {})).toEqual({ me: { id: 'alice', role: 'USER' } });
    expect(sent).toEqual([{ extensions: { persistedQuery: { version: 1, sha256Hash: UiMeDocument.__meta__!.hash } }, variables: {} }]);

    sent.length = 0;
    expect(await gql(token, withUnknownHash(UiMeDocument), {})).toEqual({ me: { id: 'alice', role: 'USER' } });
    expect(sent).toHaveLength(2);
    expect(sent[0]).toEqual({ extensions: { persistedQuery: { version: 1, sha256Hash: 'f0'.repeat(32) } }, variables: {} });
    expect(sent[0]!.query).toBeUndefined();
    expect(sent[1]).toEqual({ query: UiMeDocument.toString(), variables: {} });
  });

  it('over the socket, PERSISTED_DOCUMENTS=allow: an unknown hash is subscribed again with the full document and the data arrives', async () => {
    const { runtime, http } = servers[0]!;
    const { reportId } = await requestReport(runtime.store, { template: 'table', title: 'Followed', params: { columns: [{ label: 'A', key: 'a' }], rows: [] } }, { id: 'alice', role: 'user' });
    const frames: Array<{ type: string; payload?: Sent }> = [];
    const client: Client = createClient({
      url: `${http.url.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: class extends WebSocket {
        override send(data: string) {
          frames.push(JSON.parse(data) as { type: string; payload?: Sent });
          super.send(data);
        }
      },
      connectionParams: { authorization: `Bearer ${token}` },
      retryAttempts: 0,
    });
    try {
      const errors: unknown[] = [];
      const status = await new Promise<string>((resolve, reject) => {
        const stop = subscribe(client, withUnknownHash(UiReportStatusDocument), { id: reportId }, (data) => (stop(), resolve(data.reportStatus.status)), (err) => {
          errors.push(err);
          reject(new Error(JSON.stringify(err)));
        });
      });
      expect(status).toBe('REQUESTED');
      expect(errors).toEqual([]);
      const subscribes = frames.filter((f) => f.type === 'subscribe').map((f) => f.payload!);
      expect(subscribes).toHaveLength(2);
      expect(subscribes[0]).toMatchObject({ query: '', extensions: { persistedQuery: { sha256Hash: 'f0'.repeat(32) } } });
      expect(subscribes[1]!.query).toBe(UiReportStatusDocument.toString());
    } finally {
      await client.dispose();
    }
  });

  it('PERSISTED_DOCUMENTS=require: the full document is tried once and refused, as a RequestError, with no loop', async () => {
    const { runtime, http } = await serve('require');
    base = http.url;
    const pageToken = await runtime.userTokens.sign({ id: 'alice', role: 'user' }, 600);
    sent.length = 0;
    await expect(gql(pageToken, withUnknownHash(UiMeDocument), {})).rejects.toBeInstanceOf(RequestError);
    expect(sent.map((s) => (s.query ? 'full' : 'hash'))).toEqual(['hash', 'full']);
    // A known hash still works there.
    expect(await gql(pageToken, UiMeDocument, {})).toEqual({ me: { id: 'alice', role: 'USER' } });
  });
});
