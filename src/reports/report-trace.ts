import type { Kysely } from 'kysely';
import type { Database } from '../database/schema.js';
import { readStream } from '../events/read.js';
import { tracingEnabled } from '../telemetry/spans.js';
import { reportStreamId } from './report-state.js';

/**
 * The trace a report was requested in (its first event's traceparent), for what happens to it
 * outside its own stages — a download's resolution, /files serving on any machine — to continue.
 * Read only while tracing is on.
 */
export async function reportTraceparent(db: Kysely<Database>, reportId: string): Promise<string | undefined> {
  if (!tracingEnabled()) return undefined;
  const [first] = await readStream(db, reportStreamId(reportId), { limit: 1 });
  return first?.metadata.traceparent;
}
