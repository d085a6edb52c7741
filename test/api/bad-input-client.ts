/**
 * Raw clients for bad-input tests: they send exactly the bytes given (no client-side JSON
 * encoding that would refuse or normalise them) over HTTP, SSE and graphql-ws, and report what the
 * server answered.
 */
import { connect } from 'node:net';
import WebSocket from 'ws';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** One HTTP/1.1 request written byte for byte on a fresh socket (`connection: close`); resolves with the parsed answer. */
export function rawHttp(
  baseUrl: string,
  request: { method?: string; target: string; headers?: Record<string, string>; body?: string | Buffer },
  timeoutMs = 20_000,
): Promise<RawResponse> {
  const { hostname, port } = new URL(baseUrl);
  const body = typeof request.body === 'string' ? Buffer.from(request.body, 'utf8') : request.body;
  const headers: Record<string, string> = { host: `${hostname}:${port}`, connection: 'close', ...request.headers };
  if (body && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-length' || h.toLowerCase() === 'transfer-encoding')) {
    headers['content-length'] = String(body.length);
  }
  const head = Buffer.from(
    `${request.method ?? 'GET'} ${request.target} HTTP/1.1\r\n${Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}`)
      .join('\r\n')}\r\n\r\n`,
    'latin1',
  );
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer to ${request.method ?? 'GET'} ${request.target.slice(0, 80)} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('data', (c) => chunks.push(Buffer.from(c))); // a Buffer: no encoding is set
    socket.on('error', () => {}); // a reset after the answer is fine; no answer is caught below
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('utf8');
      const [headText = '', ...rest] = text.split('\r\n\r\n');
      const [statusLine = '', ...headerLines] = headText.split('\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1] ?? 0);
      if (!status) return reject(new Error(`no HTTP answer to ${request.method ?? 'GET'} ${request.target.slice(0, 80)}: ${JSON.stringify(text.slice(0, 200))}`));
      const parsed: Record<string, string> = {};
      for (const line of headerLines) {
        const i = line.indexOf(':');
        parsed[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      let payload = rest.join('\r\n\r\n');
      if (parsed['transfer-encoding'] === 'chunked') payload = dechunk(payload);
      resolve({ status, headers: parsed, body: payload });
    });
    socket.write(Buffer.concat([head, body ?? Buffer.alloc(0)]));
  });
}

function dechunk(text: string): string {
  let out = '';
  let rest = text;
  for (;;) {
    const eol = rest.indexOf('\r\n');
    if (eol < 0) return out;
    const size = parseInt(rest.slice(0, eol), 16);
    if (!size) return out;
    out += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 2 + size + 2);
  }
}

/** What a GraphQL answer said: the HTTP status (0 over WebSocket) and the JSON result(s). */
export interface GraphQLAnswer {
  status: number;
  /** Each result received (one for HTTP; the first for a subscription); for graphql-ws `error` messages, `{ errors }`. */
  result: { data?: unknown; errors?: Array<{ message: string; extensions?: { code?: string } }> } | null;
  /** A close code when the socket was closed instead of answering (graphql-ws). */
  closed?: number;
}

/** POST /graphql with a raw JSON body (`application/json`, or as SSE when `sse`: then the first `next` event, and the stream is cut). */
export async function rawGraphQLHttp(baseUrl: string, body: string, token: string | undefined, options: { sse?: boolean } = {}): Promise<GraphQLAnswer> {
  const headers = {
    'content-type': 'application/json',
    accept: options.sse ? 'text/event-stream' : 'application/graphql-response+json, application/json',
    ...(token ? { authorization: `Bearer ${token}` } : {}),
  };
  if (options.sse) return firstServerSentResult(baseUrl, body, headers);
  const res = await rawHttp(baseUrl, { method: 'POST', target: '/graphql', headers, body });
  try {
    return { status: res.status, result: JSON.parse(res.body) };
  } catch {
    return { status: res.status, result: null };
  }
}

async function firstServerSentResult(baseUrl: string, body: string, headers: Record<string, string>, timeoutMs = 20_000): Promise<GraphQLAnswer> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    const res = await fetch(new URL('/graphql', baseUrl), { method: 'POST', headers, body, signal: abort.signal });
    if (!res.headers.get('content-type')?.startsWith('text/event-stream')) {
      const text = await res.text();
      return { status: res.status, result: text ? JSON.parse(text) : null };
    }
    let buffered = '';
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffered += decoder.decode(chunk, { stream: true });
      const next = /event: next\ndata: (.*)\n/.exec(buffered);
      if (next) return { status: res.status, result: JSON.parse(next[1]!) };
    }
    return { status: res.status, result: null };
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}

/**
 * One operation over graphql-ws, by hand (graphql-transport-ws): connection_init with the token,
 * one `subscribe` whose text is `payload` verbatim, then the first `next` or `error` for it — or
 * the close code if the server closes the socket instead.
 */
export function rawGraphQLWs(baseUrl: string, payload: string, token: string | undefined, timeoutMs = 20_000): Promise<GraphQLAnswer> {
  const url = new URL('/graphql', baseUrl);
  url.protocol = 'ws:';
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, 'graphql-transport-ws');
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`no answer over graphql-ws within ${timeoutMs} ms`));
    }, timeoutMs);
    const finish = (answer: GraphQLAnswer) => {
      clearTimeout(timer);
      ws.removeAllListeners('close');
      ws.close();
      resolve(answer);
    };
    ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: token ? { authorization: `Bearer ${token}` } : {} })));
    ws.on('message', (raw) => {
      const message = JSON.parse(String(raw));
      if (message.type === 'connection_ack') ws.send(`{"type":"subscribe","id":"1","payload":${payload}}`);
      else if (message.type === 'next') finish({ status: 0, result: message.payload });
      else if (message.type === 'error') finish({ status: 0, result: { errors: message.payload } });
      else if (message.type === 'complete') finish({ status: 0, result: null });
    });
    ws.on('error', () => {});
    ws.on('close', (code) => {
      clearTimeout(timer);
      resolve({ status: 0, result: null, closed: code });
    });
  });
}
