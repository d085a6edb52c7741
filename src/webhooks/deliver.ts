import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { callbackHost, checkCallbackUrlShape, isPublicAddress, type CallbackPolicy } from './callback-url.js';

/** At most this much of a receiver's answer is read (a few hundred bytes are kept for the event); the rest is dropped. */
export const MAX_RESPONSE_BYTES = 64 * 1024;

export type DeliveryOutcome = { delivered: true; httpStatus: number } | { delivered: false; httpStatus: number | null; error: string; permanent: boolean };

/** A lookup that refuses, in production, a name that resolves to an address that is not public: the check is on what is connected to. */
export function guardedLookup(production: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...(options as LookupOptions), all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      const refused = production ? addresses.find((a) => !isPublicAddress(a.address)) : undefined;
      if (refused || addresses.length === 0) {
        return callback(Object.assign(new Error(`${hostname} resolves to ${refused?.address ?? 'nothing'}, not a public address`), { code: 'EREFUSEDADDRESS' }), '', 0);
      }
      if ((options as LookupOptions).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      return callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}

/**
 * One attempt: POSTs `body` to `url` with `headers`, within `timeoutMs` for the whole exchange,
 * reading at most MAX_RESPONSE_BYTES of the answer, never following a redirect. 2xx is delivered;
 * anything else (3xx included) is a failed attempt. The URL is checked against the policy again
 * first: the allow-list may have changed since the report was requested.
 */
export async function deliverWebhook(
  url: string,
  body: string,
  headers: Record<string, string>,
  options: { policy: CallbackPolicy; timeoutMs: number; signal?: AbortSignal },
): Promise<DeliveryOutcome> {
  let target: URL;
  try {
    target = checkCallbackUrlShape(url, options.policy);
  } catch (err) {
    return { delivered: false, httpStatus: null, error: `refused: ${(err as Error).message}`, permanent: true };
  }
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<DeliveryOutcome>((resolve) => {
    let settled = false;
    const finish = (outcome: DeliveryOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      req.destroy();
      resolve(outcome);
    };
    const req = request(target, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'user-agent': 'quire-webhooks/1' },
      lookup: guardedLookup(options.policy.production),
      agent: false,
    });
    const timer = setTimeout(() => finish({ delivered: false, httpStatus: null, error: `no answer within ${options.timeoutMs} ms`, permanent: false }), options.timeoutMs);
    const onAbort = () => finish({ delivered: false, httpStatus: null, error: 'delivery stopped (worker stopping or lease lost)', permanent: false });
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener('abort', onAbort);
    req.on('error', (err: NodeJS.ErrnoException) => {
      const refused = err.code === 'EREFUSEDADDRESS';
      finish({ delivered: false, httpStatus: null, error: refused ? `refused: ${err.message}` : err.message || String(err.code), permanent: false });
    });
    req.on('response', (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      const chunks: Buffer[] = [];
      let read = 0;
      const done = () => {
        if (status >= 200 && status < 300) return finish({ delivered: true, httpStatus: status });
        const excerpt = Buffer.concat(chunks).toString('utf8').slice(0, 200).replace(/\s+/g, ' ').trim();
        finish({ delivered: false, httpStatus: status, error: `answered ${status}${excerpt ? `: ${excerpt}` : ''}`, permanent: false });
      };
      res.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (read <= 1024) chunks.push(chunk);
        // The answer's content does not matter beyond its status: stop reading a body that will not end.
        if (read > MAX_RESPONSE_BYTES) done();
      });
      res.on('end', done);
      res.on('error', done);
    });
    req.end(body);
  });
}
