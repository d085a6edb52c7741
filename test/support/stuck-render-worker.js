// The real render worker, except that every template's layout never ends: it waits (idle, not
// spinning) until its thread is terminated. It stands for a render still in flight when its
// machine shuts down, which only ending the thread stops.
import { register } from 'tsx/esm/api';

register();
const { templates } = await import('../../src/reports/templates/registry.ts');
const stuck = () => {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  for (;;) Atomics.wait(cell, 0, 0, 100);
};
for (const name of Object.keys(templates)) templates[name] = { ...templates[name], build: stuck };
await import('../../src/render/render-thread.ts');
