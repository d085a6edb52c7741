// Worker entry of the hash pool. quire has no build step, so the worker teaches its own thread
// TypeScript (tsx's loader hooks are per thread) before loading the real worker module.
import { register } from 'tsx/esm/api';

register();
await import('./hash-thread.ts');
