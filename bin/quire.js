#!/usr/bin/env node
// The package's bin: runs the TypeScript sources through tsx, so `npx quire` works in a checkout
// without a build step.
import { register } from 'tsx/esm/api';

register();
// Traces with the http, pg and aws-sdk instrumentations: registered before src/cli.ts imports
// those modules (they patch them as they load). Without the endpoint nothing of the SDK loads.
if (process.env.OTEL_EXPORTER_OTLP_ENDPOINT && process.argv[2] === 'serve') await import('../src/telemetry/preload.ts');
const { main } = await import('../src/cli.ts');
await main(process.argv);
