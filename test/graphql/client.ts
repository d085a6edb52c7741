/**
 * A tiny typed GraphQL client for tests: HTTP through fetch, subscriptions through a real graphql-ws
 * client. Documents come from codegen (`test/graphql/gql/graphql.js`), so results and variables
 * are typed by the .graphql operations under test/graphql/operations/.
 *
 *   const res = await gqlHttp(http.url, ReportDocument, { id }, token);
 *   const ws = gqlWs(http.url, token);
 *   const sub = subscribe(ws, ReportStatusDocument, { id });
 *   await sub.waitFor((r) => r.reportStatus.status === 'STORED');
 *   sub.close(); await ws.dispose();
 */
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type GraphQLFormattedError } from 'graphql';
import { createClient, type Client, type ClientOptions, type FormattedExecutionResult } from 'graphql-ws';
import WebSocket from 'ws';

export interface GqlResponse<R> {
  /** HTTP status. */
  status: number;
  headers: Headers;
  data?: R | null;
  errors?: GraphQLFormattedError[];
  extensions?: Record<string, unknown>;
}

/** `http://host:port` (as HttpServer.url) becomes `http://host:port/graphql`; a URL with a path is kept. */
function endpoint(url: string, protocol?: 'ws'): string {
  const u = new URL(url);
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/graphql';
  if (protocol === 'ws') u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.toString();
}

function bearer(token: string): string {
  return /^bearer /i.test(token) ? token : `Bearer ${token}`;
}

/**
 * POSTs one operation. A body that is not JSON (a proxy's error page, say) comes back as one error
 * carrying the text, so a test can still assert on `status`.
 */
export async function gqlHttp<R, V>(
  url: string,
  document: TypedDocumentNode<R, V>,
  variables: V,
  token?: string,
  init: { headers?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<GqlResponse<R>> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...init.headers };
  if (token) headers.authorization = bearer(token);
  const res = await fetch(endpoint(url), {
    method: 'POST',
    headers,
    body: JSON.stringify({ query: print(document), variables }),
    ...(init.signal ? { signal: init.signal } : {}),
  });
  const text = await res.text();
  let body: { data?: R | null; errors?: GraphQLFormattedError[]; extensions?: Record<string, unknown> };
  try {
    body = JSON.parse(text);
  } catch {
    body = { errors: [{ message: text }] };
  }
  return { status: res.status, headers: res.headers, ...body };
}

/**
 * A graphql-ws client on the server's /graphql, connecting at once (lazy: false), never retrying,
 * with the token in `connectionParams.authorization`. `dispose()` it at the end of the test.
 */
export function gqlWs(url: string, token?: string, options: Partial<ClientOptions> = {}): Client {
  return createClient({
    url: endpoint(url, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: token ? { authorization: bearer(token) } : {},
    lazy: false,
    retryAttempts: 0,
    // Errors surface through `closed`/subscriptions; keep unhandled ones from crashing the worker.
    onNonLazyError: () => {},
    ...options,
  });
}

/** Resolves with the close code (and reason) when the client's socket closes. */
export function closedWith(client: Client, timeoutMs = 10_000): Promise<{ code: number; reason: string }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the socket was still open after ${timeoutMs} ms`)), timeoutMs);
    client.on('closed', (event) => {
      clearTimeout(timer);
      const e = event as { code?: number; reason?: string };
      resolve({ code: e.code ?? 0, reason: String(e.reason ?? '') });
    });
  });
}

/** Resolves once the client's socket is connected and acknowledged. */
export function connected(client: Client, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not connected after ${timeoutMs} ms`)), timeoutMs);
    client.on('connected', () => {
      clearTimeout(timer);
      resolve();
    });
    client.on('closed', (event) => {
      clearTimeout(timer);
      reject(new Error(`closed before connecting (${(event as { code?: number }).code ?? '?'})`));
    });
  });
}

/** Typed `client.iterate`: an async iterator over the subscription's results. */
export function iterate<R, V>(client: Client, document: TypedDocumentNode<R, V>, variables: V): AsyncIterableIterator<FormattedExecutionResult<R, unknown>> {
  return client.iterate<R>({ query: print(document), variables: variables as Record<string, unknown> });
}

export interface Collector<R> {
  /** Every result received so far, in order. */
  readonly results: FormattedExecutionResult<R, unknown>[];
  /** The `data` of every result received so far. */
  readonly data: R[];
  /** Set when the subscription ended (completed, errored or the socket closed). */
  readonly ended: { error?: unknown } | null;
  /**
   * The first data (already received or still to come) matching `predicate`. Rejects on timeout,
   * on a result with errors, or when the subscription ends without a match.
   */
  waitFor(predicate?: (data: R) => boolean, timeoutMs?: number): Promise<R>;
  /** Resolves when the subscription has ended (with its error, if any). */
  done(timeoutMs?: number): Promise<{ error?: unknown }>;
  /** Unsubscribes (idempotent). */
  close(): void;
}

/** Subscribes and collects every result in the background; see `Collector`. */
export function subscribe<R, V>(client: Client, document: TypedDocumentNode<R, V>, variables: V): Collector<R> {
  const results: FormattedExecutionResult<R, unknown>[] = [];
  const data: R[] = [];
  let ended: { error?: unknown } | null = null;
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const listener of [...listeners]) listener();
  };
  const unsubscribe = client.subscribe<R>(
    { query: print(document), variables: variables as Record<string, unknown> },
    {
      next(result) {
        results.push(result);
        if (result.data) data.push(result.data);
        notify();
      },
      error(error) {
        ended = { error };
        notify();
      },
      complete() {
        ended ??= {};
        notify();
      },
    },
  );

  const describe = (error: unknown): string => {
    if (Array.isArray(error)) return error.map((e) => (e as { message?: string }).message ?? String(e)).join('; ');
    if (error && typeof error === 'object' && 'code' in error) return `socket closed ${(error as { code: number }).code} ${(error as { reason?: string }).reason ?? ''}`.trim();
    return error instanceof Error ? error.message : String(error);
  };

  const collector: Collector<R> = {
    results,
    data,
    get ended() {
      return ended;
    },
    waitFor(predicate = () => true, timeoutMs = 10_000) {
      return new Promise<R>((resolve, reject) => {
        let seen = 0;
        const check = (): boolean => {
          for (; seen < results.length; seen++) {
            const result = results[seen]!;
            if (result.errors?.length) {
              reject(new Error(`subscription error: ${result.errors.map((e) => e.message).join('; ')}`));
              return true;
            }
            if (result.data && predicate(result.data)) {
              resolve(result.data);
              return true;
            }
          }
          if (ended) {
            reject(new Error(`subscription ended without a match${ended.error ? `: ${describe(ended.error)}` : ''}; got ${JSON.stringify(data)}`));
            return true;
          }
          return false;
        };
        if (check()) return;
        const listener = () => {
          if (check()) stop();
        };
        const timer = setTimeout(() => {
          stop();
          reject(new Error(`no matching result within ${timeoutMs} ms; got ${JSON.stringify(data)}`));
        }, timeoutMs);
        const stop = () => {
          clearTimeout(timer);
          listeners.delete(listener);
        };
        listeners.add(listener);
      });
    },
    done(timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        if (ended) return resolve(ended);
        const timer = setTimeout(() => {
          listeners.delete(listener);
          reject(new Error(`subscription still running after ${timeoutMs} ms`));
        }, timeoutMs);
        const listener = () => {
          if (!ended) return;
          clearTimeout(timer);
          listeners.delete(listener);
          resolve(ended);
        };
        listeners.add(listener);
      });
    },
    close() {
      unsubscribe();
    },
  };
  return collector;
}
