// A hash worker that ends its thread on its second batch, as a crashed one would (the first is
// never answered either): verify must fail, not wait and not report ok.
import { parentPort } from 'node:worker_threads';

let batches = 0;
parentPort.on('message', () => {
  if (++batches >= 2) process.exit(3);
});
