#!/usr/bin/env node
// The package's bin: runs the TypeScript sources through tsx, so `npx quire` works in a checkout
// without a build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli.ts');
await main(process.argv);
