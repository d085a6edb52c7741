import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';

const NEWLINE = 0x0a;

/**
 * `COPY (query) TO STDOUT` on `client`, as batches of whole rows of COPY text (each ends with the
 * newline that ends its last row) of at least `minBytes` (the last may be smaller; a row longer
 * than that is one batch). Each batch is a fresh buffer the caller owns — it can be transferred
 * to a worker. Pulled one batch at a time: the socket is read only as fast as batches are taken,
 * so memory holds one batch being filled plus the stream's own high-water mark. A server error
 * or a lost connection mid-way throws from the next pull; the caller must then destroy `client`
 * (release(true)): the protocol is left in the middle of a COPY.
 */
export async function* copyOutBatches(client: pg.ClientBase, query: string, minBytes: number): AsyncGenerator<Uint8Array, void, undefined> {
  const stream = client.query(copyTo(`COPY (${query}) TO STDOUT`));
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    pending.push(chunk);
    pendingBytes += chunk.length;
    if (pendingBytes < minBytes) continue;
    const joined = new Uint8Array(pendingBytes);
    let at = 0;
    for (const b of pending) {
      joined.set(b, at);
      at += b.length;
    }
    // Batches of about minBytes each (a chunk from the socket may hold several), each in a
    // buffer of its own so that it can be transferred; the last one takes `joined` itself.
    const cuts: number[] = [];
    for (let from = 0; ; ) {
      const end = joined.indexOf(NEWLINE, from + minBytes - 1);
      if (end === -1) break;
      cuts.push(end + 1);
      from = end + 1;
      if (joined.length - from < minBytes) break;
    }
    if (cuts.length === 0) {
      // No row ends past minBytes yet: wait for more.
      pending = [Buffer.from(joined.buffer)];
      continue;
    }
    const last = cuts[cuts.length - 1]!;
    // The partial row after the last whole one starts the next batch (a copy: `joined` is handed over).
    const rest = Buffer.from(joined.subarray(last));
    pending = rest.length > 0 ? [rest] : [];
    pendingBytes = rest.length;
    for (let i = 0, from = 0; i < cuts.length; from = cuts[i++]!) yield i === cuts.length - 1 ? joined.subarray(from, cuts[i]) : joined.slice(from, cuts[i]);
  }
  if (pendingBytes === 0) return;
  const last = Buffer.concat(pending, pendingBytes);
  if (last[last.length - 1] !== NEWLINE) throw new Error('COPY output ended in the middle of a row');
  yield new Uint8Array(last);
}
