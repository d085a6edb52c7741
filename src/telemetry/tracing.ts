import type { Instrumentation } from '@opentelemetry/instrumentation';
import { setTracingEnabled } from './spans.js';

export interface TracingOptions {
  /** OTLP/HTTP base URL (OTEL_EXPORTER_OTLP_ENDPOINT): spans go to `<endpoint>/v1/traces`. */
  endpoint: string;
  /** service.instance.id: this machine. */
  instance: string;
  region: string;
  /**
   * The http, pg and aws-sdk instrumentations. They patch modules as they load, so they must be
   * registered before quire's modules import node:http, pg and the AWS SDK: bin/quire.js does it
   * first (with the ESM loader hook), when OTEL_EXPORTER_OTLP_ENDPOINT is set.
   */
  instrument?: boolean;
}

export interface Tracing {
  /** Sends every finished span now. */
  flush(): Promise<void>;
  /** Flushes and stops: no span is recorded after. */
  shutdown(): Promise<void>;
}

let active: Tracing | undefined;

/**
 * The OpenTelemetry SDK (2.x) exporting OTLP/HTTP, started only when an endpoint is configured:
 * everything here is imported lazily, so a quire without OTEL_EXPORTER_OTLP_ENDPOINT loads none of it.
 * Started once per process; later calls return the running one.
 */
export async function startTracing(options: TracingOptions): Promise<Tracing> {
  if (active) return active;
  const [{ NodeTracerProvider }, { BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes }] = await Promise.all([
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
  ]);
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({
      'service.name': process.env.OTEL_SERVICE_NAME ?? 'quire',
      'service.instance.id': options.instance,
      'cloud.region': options.region,
    }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${options.endpoint.replace(/\/+$/, '')}/v1/traces` }), { scheduledDelayMillis: 1000 })],
  });
  // The global provider, AsyncLocalStorage context and the W3C trace-context propagator.
  provider.register();
  let instrumentations: Instrumentation[] = [];
  if (options.instrument) {
    const [{ registerInstrumentations }, { HttpInstrumentation }, { PgInstrumentation }, { AwsInstrumentation }] = await Promise.all([
      import('@opentelemetry/instrumentation'),
      import('@opentelemetry/instrumentation-http'),
      import('@opentelemetry/instrumentation-pg'),
      import('@opentelemetry/instrumentation-aws-sdk'),
    ]);
    instrumentations = [
      // Never the token of a /files link: the span is named by the route, and the URL attribute redacted.
      new HttpInstrumentation({
        requestHook: (span, request) => {
          if (!('url' in request) || !request.url?.startsWith('/files/')) return;
          for (const key of ['http.target', 'http.url', 'url.path', 'url.full']) span.setAttribute(key, '/files/:token');
          span.setAttribute('url.query', '');
        },
      }),
      // Only queries inside a span (a request, a stage): not every poll of the work loops and the event hub.
      new PgInstrumentation({ enhancedDatabaseReporting: false, requireParentSpan: true }),
      new AwsInstrumentation(),
    ];
    registerInstrumentations({ tracerProvider: provider, instrumentations });
  }
  setTracingEnabled(true);
  active = {
    flush: () => provider.forceFlush(),
    async shutdown() {
      setTracingEnabled(false);
      for (const i of instrumentations) i.disable();
      active = undefined;
      await provider.shutdown();
      const { trace, context, propagation } = await import('@opentelemetry/api');
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
  return active;
}

/** The running SDK, if any (started by bin/quire.js or `serve`). */
export function runningTracing(): Tracing | undefined {
  return active;
}
