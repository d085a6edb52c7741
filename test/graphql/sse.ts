/**
 * A GraphQL-over-SSE client for tests (yoga's distinct-connections mode): POST with
 * `Accept: text/event-stream`, one `next` event per result, `complete` at the end.
 *
 *   const sub = await sseSubscribe(http.url, ReportStatusDocument, { id }, token);
 *   await sub.waitFor((r) => r.reportStatus.status === 'STORED');
 *   sub.close();
 */
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type GraphQLFormattedError } from 'graphql';

export interface SseResult<R> {
  data?: R | null;
  errors?: GraphQLFormattedError[];
}

export interface SseSubscription<R> {
  /** HTTP status of the response. */
  readonly status: number;
  readonly results: SseResult<R>[];
  /** Set once the server ended the stream (`complete`, or the body ended). */
  readonly ended: boolean;
  /** Resolves when the stream has ended. */
  done(timeoutMs?: number): Promise<void>;
  /** Resolves once `count` results have arrived. */
  received(count: number, timeoutMs?: number): Promise<SseResult<R>[]>;
  /** Cuts the connection (idempotent). */
  close(): void;
}

export async function sseSubscribe<R, V>(url: string, document: TypedDocumentNode<R, V>, variables: V, token?: string): Promise<SseSubscription<R>> {
  const controller = new AbortController();
  const u = new URL(url);
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/graphql';
  const body = JSON.stringify({ query: print(document), variables });
  const res = await fetch(u, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'text/event-stream',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body,
    signal: controller.signal,
  });
  const results: SseResult<R>[] = [];
  let ended = false;
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const l of [...listeners]) l();
  };
  const finish = () => {
    ended = true;
    notify();
  };
  if (!/text\/event-stream/.test(res.headers.get('content-type') ?? '')) {
    // Refused before streaming: the body is one JSON result.
    const text = await res.text();
    try {
      results.push(JSON.parse(text));
    } catch {
      results.push({ errors: [{ message: text }] });
    }
    finish();
  } else {
    void (async () => {
      const decoder = new TextDecoder();
      let buffer = '';
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          let cut: number;
          while ((cut = buffer.indexOf('\n\n')) >= 0) {
            const message = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            const event = /^event: ?(.*)$/m.exec(message)?.[1]?.trim();
            const data = [...message.matchAll(/^data: ?(.*)$/gm)].map((m) => m[1]).join('\n');
            if (event === 'complete') return;
            if (data) {
              results.push(JSON.parse(data));
              notify();
            }
          }
        }
      } catch {
        // aborted by close(), or the server cut the connection
      } finally {
        finish();
      }
    })();
  }

  const until = (condition: () => boolean, timeoutMs: number, what: string) =>
    new Promise<void>((resolve, reject) => {
      if (condition()) return resolve();
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`SSE: ${what} not within ${timeoutMs} ms; got ${JSON.stringify(results)}`));
      }, timeoutMs);
      const check = () => {
        if (!condition()) return;
        clearTimeout(timer);
        listeners.delete(check);
        resolve();
      };
      listeners.add(check);
    });

  return {
    status: res.status,
    results,
    get ended() {
      return ended;
    },
    done: (timeoutMs = 10_000) => until(() => ended, timeoutMs, 'the end of the stream'),
    received: async (count, timeoutMs = 10_000) => {
      await until(() => results.length >= count || ended, timeoutMs, `${count} result(s)`);
      if (results.length < count) throw new Error(`SSE: the stream ended after ${results.length} result(s): ${JSON.stringify(results)}`);
      return results;
    },
    close: () => controller.abort(),
  };
}
