import { createHash } from 'node:crypto';

/** What one download attempt ended as. */
export interface Attempt {
  reportId: string;
  at: number;
  ok: boolean;
  path?: 'object' | 'local' | 'replay';
  /** Failure reason: a typed code (UNAVAILABLE, REGION_UNAVAILABLE, …), seed_404, object_store_unreachable, http_500, … */
  reason?: string;
  /** The failure came as a typed error ({ code, message }). */
  typed?: boolean;
  message?: string;
  /** The region that answered createDownloadUrl / the file request. */
  region?: string;
  /** The machine that answered the file request (or createDownloadUrl when it failed there). */
  machine?: string;
}

/** Where the edge should send a request: a region (`fly-prefer-region`) or one machine (`fly-force-instance-id`). */
export interface Prefer {
  region?: string;
  machine?: string;
}

export interface Client {
  readonly edgeUrl: string;
  readonly token: string;
}

const REQUEST = `mutation Request($input: RequestReportInput!) { requestReport(input: $input) { __typename
  ... on MutationRequestReportSuccess { data { reportId status } } ... on Error { code message } } }`;
const DOWNLOAD = `mutation Download($id: ID!) { createDownloadUrl(reportId: $id) { __typename
  ... on MutationCreateDownloadUrlSuccess { data { url source region } } ... on Error { code message } } }`;
const STATUS = `subscription Status($id: ID!) { reportStatus(id: $id) { status sha256 version lastError } }`;

export class TypedFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly typed: boolean,
    readonly machine?: string,
  ) {
    super(message);
  }
}

function routing(prefer?: Prefer): Record<string, string> {
  return {
    ...(prefer?.region ? { 'fly-prefer-region': prefer.region } : {}),
    ...(prefer?.machine ? { 'fly-force-instance-id': prefer.machine } : {}),
  };
}

function headers(client: Client, prefer?: Prefer): Record<string, string> {
  return { authorization: `Bearer ${client.token}`, 'content-type': 'application/json', ...routing(prefer) };
}

/** One GraphQL mutation through the edge; a typed error result, a GraphQL error or a transport error throws TypedFailure. */
async function mutate<T>(client: Client, query: string, variables: object, field: string, prefer?: Prefer): Promise<{ data: T; region: string; machine: string }> {
  let response: Response;
  try {
    response = await fetch(`${client.edgeUrl}/graphql`, {
      method: 'POST',
      headers: headers(client, prefer),
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(15_000),
    });
  } catch (err) {
    // No answer at all: the edge refused the connection, or (a timeout) the answer took longer than 15 s.
    const timedOut = (err as Error).name === 'TimeoutError';
    throw new TypedFailure(timedOut ? 'client_timeout' : 'edge_unreachable', String((err as Error).cause ?? err), false);
  }
  const region = response.headers.get('x-edge-region') ?? '?';
  const machine = response.headers.get('x-edge-machine') ?? '?';
  const body = (await response.json().catch(() => null)) as {
    data?: Record<string, { __typename: string; data?: T; code?: string; message?: string }>;
    errors?: Array<{ message: string; extensions?: { code?: string } }>;
    error?: { code: string; message: string };
  } | null;
  if (body?.error) throw new TypedFailure(body.error.code, body.error.message, true, machine);
  const result = body?.data?.[field];
  if (!result) {
    const e = body?.errors?.[0];
    // A GraphQL error with a code (extensions.code) is typed; a bare message or a non-JSON answer is not.
    throw new TypedFailure(e?.extensions?.code ?? `http_${response.status}`, e?.message ?? `HTTP ${response.status}`, Boolean(e?.extensions?.code), machine);
  }
  if (result.code) throw new TypedFailure(result.code, result.message ?? '', true, machine);
  return { data: result.data as T, region, machine };
}

export async function requestReport(client: Client, input: object): Promise<string> {
  const { data } = await mutate<{ reportId: string }>(client, REQUEST, { input }, 'requestReport');
  return data.reportId;
}

export interface StatusUpdate {
  status: string;
  sha256: string | null;
  version: number;
  lastError: string | null;
}

/**
 * Follows reportStatus over SSE through the edge until `done` says so. A stream cut by a killed
 * region is re-opened (through the edge: another region). Resolves with the last update.
 */
export async function followStatus(client: Client, reportId: string, done: (u: StatusUpdate) => boolean, deadline: number): Promise<StatusUpdate | null> {
  let last: StatusUpdate | null = null;
  while (Date.now() < deadline) {
    const abort = AbortSignal.timeout(Math.max(1, deadline - Date.now()));
    try {
      const response = await fetch(`${client.edgeUrl}/graphql`, {
        method: 'POST',
        headers: { ...headers(client), accept: 'text/event-stream' },
        body: JSON.stringify({ query: STATUS, variables: { id: reportId } }),
        signal: abort,
      });
      if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
      const decoder = new TextDecoder();
      let buffer = '';
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const message = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const data = message
            .split('\n')
            .filter((l) => l.startsWith('data:'))
            .map((l) => l.slice(5).trim())
            .join('');
          if (!data) continue;
          const update = (JSON.parse(data) as { data?: { reportStatus?: StatusUpdate } }).data?.reportStatus;
          if (update) {
            last = update;
            if (done(update)) {
              await response.body.cancel().catch(() => undefined);
              return last;
            }
          }
        }
      }
    } catch {
      // The stream was cut (a killed region, a dropped connection): subscribe again.
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return last;
}

const sha256 = (bytes: ArrayBuffer) => createHash('sha256').update(Buffer.from(bytes)).digest('hex');

async function failureOf(response: Response): Promise<{ reason: string; message: string; typed: boolean }> {
  const text = await response.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: { code: string; message: string }; detail?: string };
    if (body.error?.code) return { reason: body.error.code, message: body.error.message, typed: true };
    if (body.detail === 'Report file not found') return { reason: 'seed_404', message: body.detail, typed: false };
    if (body.detail) return { reason: `http_${response.status}`, message: body.detail, typed: false };
  } catch {
    // not JSON
  }
  return { reason: `http_${response.status}`, message: text.slice(0, 200), typed: false };
}

/** quire's way: createDownloadUrl through the edge, then the bytes (S3 directly, /files through the edge). */
export async function downloadQuire(client: Client, reportId: string, expectedSha: string, prefer?: Prefer): Promise<Attempt> {
  const at = Date.now();
  let url: { url: string; source: string; region: string | null };
  let region: string;
  try {
    ({ data: url, region } = await mutate<typeof url>(client, DOWNLOAD, { id: reportId }, 'createDownloadUrl', prefer));
  } catch (err) {
    const f = err as TypedFailure;
    return { reportId, at, ok: false, reason: f.code, message: f.message, typed: f.typed, ...(f.machine ? { machine: f.machine } : {}) };
  }
  const viaEdge = url.url.startsWith(client.edgeUrl);
  let response: Response;
  try {
    response = await fetch(url.url, { headers: viaEdge ? routing(prefer) : {}, signal: AbortSignal.timeout(15_000) });
  } catch (err) {
    return {
      reportId,
      // When the store refused: the moment that has to fall in the outage window.
      at: Date.now(),
      ok: false,
      region,
      reason: (err as Error).name === 'TimeoutError' ? 'client_timeout' : viaEdge ? 'edge_unreachable' : 'object_store_unreachable',
      message: String((err as Error).cause ?? err),
      typed: false,
    };
  }
  const machine = response.headers.get('x-edge-machine') ?? undefined;
  if (response.status !== 200) return { reportId, at, ok: false, region, ...(machine ? { machine } : {}), ...(await failureOf(response)) };
  const bytes = await response.arrayBuffer().catch(() => null);
  if (!bytes) return { reportId, at, ok: false, region, reason: 'body_cut', message: 'the response body was cut', typed: false };
  if (sha256(bytes) !== expectedSha) return { reportId, at, ok: false, region, reason: 'sha256_mismatch', message: 'bytes differ', typed: false };
  const path = url.source === 'OBJECT_STORE' ? 'object' : response.headers.get('x-edge-replayed-from') ? 'replay' : 'local';
  return { reportId, at, ok: true, path, region: response.headers.get('x-edge-region') ?? region, ...(machine ? { machine } : {}) };
}

/** The seed's way: GET /reports/:id/download on whichever region the edge picks; 404 when the file is elsewhere. */
export async function downloadSeed(client: Client, reportId: string, expectedSha: string, prefer?: Prefer): Promise<Attempt> {
  const at = Date.now();
  let response: Response;
  try {
    response = await fetch(`${client.edgeUrl}/seed/reports/${reportId}/download`, {
      headers: headers(client, prefer),
      signal: AbortSignal.timeout(15_000),
    });
  } catch (err) {
    return { reportId, at, ok: false, reason: 'edge_unreachable', message: String(err), typed: false };
  }
  const region = response.headers.get('x-edge-region') ?? '?';
  if (response.status !== 200) return { reportId, at, ok: false, region, ...(await failureOf(response)) };
  const bytes = await response.arrayBuffer();
  if (sha256(bytes) !== expectedSha) return { reportId, at, ok: false, region, reason: 'sha256_mismatch', message: 'bytes differ', typed: false };
  return { reportId, at, ok: true, path: 'local', region };
}
