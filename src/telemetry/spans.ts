import type { IncomingMessage, ServerResponse } from 'node:http';
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Link, type Span } from '@opentelemetry/api';

/**
 * quire's own spans, through @opentelemetry/api only: without an SDK (OTEL_EXPORTER_OTLP_ENDPOINT
 * unset) nothing here starts a span at all — `enabled` is false and every helper just runs its
 * function. The SDK (./tracing.ts) is imported lazily and flips it.
 */
let enabled = false;

export function setTracingEnabled(on: boolean): void {
  enabled = on;
}

export function tracingEnabled(): boolean {
  return enabled;
}

const tracer = () => trace.getTracer('quire');

/** W3C trace context: version 00, trace id, parent span id, flags. */
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The active span as a W3C `traceparent` (kept in event metadata), or undefined when there is none. */
export function currentTraceparent(): string | undefined {
  if (!enabled) return undefined;
  const span = trace.getActiveSpan()?.spanContext();
  if (!span || !trace.isSpanContextValid(span)) return undefined;
  return `00-${span.traceId}-${span.spanId}-${span.traceFlags.toString(16).padStart(2, '0')}`;
}

/** A context whose parent is the remote span `traceparent` names (the root context when it names none). */
export function contextFrom(traceparent: string | undefined | null): Context {
  const m = traceparent ? TRACEPARENT.exec(traceparent) : null;
  if (!m || /^0+$/.test(m[1]!) || /^0+$/.test(m[2]!)) return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, { traceId: m[1]!, spanId: m[2]!, traceFlags: parseInt(m[3]!, 16), isRemote: true });
}

export interface SpanOptions {
  attributes?: Attributes;
  /** Continue this trace (an event's traceparent) instead of the active one. */
  parent?: string | undefined | null;
  /** With `parent`: link the span that was active (the request that asked), so neither trace loses the other. */
  linkActive?: boolean;
  kind?: SpanKind;
}

/** Runs `fn` inside a span (ended when it settles; a throw is recorded as the span's error). */
export async function inSpan<T>(name: string, options: SpanOptions, fn: (span: Span | undefined) => Promise<T>): Promise<T> {
  if (!enabled) return fn(undefined);
  const active = trace.getActiveSpan()?.spanContext();
  const links: Link[] = options.parent && options.linkActive && active && trace.isSpanContextValid(active) ? [{ context: active }] : [];
  const parent = options.parent !== undefined ? contextFrom(options.parent) : context.active();
  return tracer().startActiveSpan(name, { attributes: options.attributes ?? {}, links, kind: options.kind ?? SpanKind.INTERNAL }, parent, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.recordException(err instanceof Error ? err : String(err));
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
      throw err;
    } finally {
      span.end();
    }
  });
}

/**
 * An HTTP request's server span, continuing the client's `traceparent`. When the http
 * instrumentation runs (the preload), it already made one: that one is used.
 */
export async function withRequestSpan(req: IncomingMessage, res: ServerResponse, route: string, fn: () => Promise<void>): Promise<void> {
  if (!enabled) return fn();
  const instrumented = trace.getActiveSpan();
  if (instrumented) {
    // The http instrumentation names it by method only: add the route (never a /files token).
    instrumented.updateName(`${req.method} ${route}`);
    instrumented.setAttribute('http.route', route);
    return fn();
  }
  const header = req.headers.traceparent;
  const parent = typeof header === 'string' ? contextFrom(header) : ROOT_CONTEXT;
  const span = tracer().startSpan(`${req.method} ${route}`, { kind: SpanKind.SERVER, attributes: { 'http.request.method': req.method ?? '', 'http.route': route } }, parent);
  res.once('close', () => {
    span.setAttribute('http.response.status_code', res.statusCode);
    if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  });
  return context.with(trace.setSpan(parent, span), fn);
}
