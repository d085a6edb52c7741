import { parentPort } from 'node:worker_threads';
import { checkCopy, checkRows, unpackRows } from './row-checks.js';
import type { FromHashWorker, ToHashWorker } from './hash-pool.js';

// A worker of the hash pool: checks each batch it is given, in the order given.
if (!parentPort) throw new Error('hash-thread must run in a worker thread');
const port = parentPort;

port.on('message', (msg: ToHashWorker) => {
  let reply: FromHashWorker;
  try {
    const checked = 'copy' in msg ? checkCopy(msg.copy) : { verdicts: checkRows(unpackRows(msg.rows)) };
    reply = { id: msg.id, ...checked };
    port.postMessage(reply, [checked.verdicts.leaves.buffer as ArrayBuffer]);
  } catch (err) {
    // Not swallowed: the pool fails the verify with it.
    reply = { id: msg.id, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
    port.postMessage(reply);
  }
});
