// A hash worker whose code throws outside the per-batch error handling (an uncaught exception).
import { parentPort } from 'node:worker_threads';

parentPort.on('message', () => {
  throw new Error('boom in the hash worker');
});
