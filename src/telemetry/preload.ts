/**
 * Loaded by bin/quire.js before anything else of quire, when OTEL_EXPORTER_OTLP_ENDPOINT is set
 * for `serve`: the http, pg and aws-sdk instrumentations patch those modules as they load, and
 * quire imports them as ES modules, which only the import-in-the-middle loader hook lets them see.
 * The hook wraps just the modules the instrumentations ask for (the message channel tells it which).
 */
import { register } from 'node:module';
import { hostname } from 'node:os';
import { createAddHookMessageChannel } from 'import-in-the-middle';
import { startTracing } from './tracing.js';

const endpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
// Not a URL: left to the configuration's validation, which names the variable and exits.
if (endpoint && URL.canParse(endpoint)) {
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
  register('import-in-the-middle/hook.mjs', import.meta.url, registerOptions);
  await startTracing({
    endpoint,
    instance: process.env.FLY_MACHINE_ID ?? process.env.MACHINE_ID ?? hostname(),
    region: process.env.FLY_REGION ?? 'local',
    instrument: true,
  });
  await waitForAllMessagesAcknowledged();
}
