import { randomUUID } from 'node:crypto';
import { v5 as uuidv5 } from 'uuid';
import { z } from 'zod';
import { canonicalJson } from '../events/canonical-json.js';
import { assertMayChange, type Actor } from '../actor.js';
import type { EventStore } from '../events/event-store.js';
import { storableJsonIssues } from '../events/storable-json.js';
import { loadReportState } from './load-report.js';
import { reportStreamId } from './report-state.js';
import { decide } from './decide.js';
import { InvalidParamsError } from '../errors.js';
import { ParamsTooLargeError, UnknownTemplateError } from './errors.js';
import { readableReport } from './report-access.js';
import { getTemplate, templateNames } from './templates/registry.js';
import { isUuid } from './uuid.js';
import { MAX_PARAMS_BYTES, MAX_TITLE_LENGTH } from '../shared/report-input.js';

export interface RequestReportInput {
  template: string;
  title: string;
  params: unknown;
  /**
   * The client's key for this request (e.g. a UUID it made): the same key from the same viewer
   * names the same report, so a request retried after a lost answer (a machine killed mid-request,
   * a timeout) does not create a second report.
   */
  idempotencyKey?: string | null;
}

export interface RequestReportResult {
  reportId: string;
  streamId: string;
}

const Title = z
  .string()
  .trim()
  .min(1, 'a title is required')
  .max(MAX_TITLE_LENGTH, `at most ${MAX_TITLE_LENGTH} characters`)
  .regex(/^[^\p{Cc}]*$/u, 'no control characters');

const IdempotencyKey = z.string().regex(/^[A-Za-z0-9_.:-]{1,100}$/, '1–100 characters of A–Z, a–z, 0–9 and _.:-');

/** A fixed namespace: a viewer's idempotency key always names the same report (and event), on every machine. */
const REQUEST_NAMESPACE = '0c6f4f4e-3b1e-4d43-9a55-2f0b8f3c7d12';

/**
 * Validates a report request against its template and appends ReportRequested to a new stream.
 * Every check runs before the append: on bad input nothing is written.
 */
export async function requestReport(
  store: EventStore,
  input: RequestReportInput,
  actor: Actor,
  options: { requestId?: string } = {},
): Promise<RequestReportResult> {
  assertMayChange(actor, 'request reports');
  const template = getTemplate(input.template);
  if (!template) throw new UnknownTemplateError(input.template, templateNames);

  // Before anything walks params recursively (JSON.stringify, zod): text the log cannot store and
  // nesting deep enough to overflow the stack are the caller's mistake, not a 500.
  const unstorable = [
    ...storableJsonIssues(input.title).map((i) => ({ path: 'title', message: i.message })),
    ...storableJsonIssues(input.params).map((i) => ({ path: ['params', i.path].filter(Boolean).join('.'), message: i.message })),
  ];
  if (unstorable.length > 0) throw new InvalidParamsError(unstorable);

  const title = Title.safeParse(input.title);
  const serialized = JSON.stringify(input.params ?? null);
  const bytes = Buffer.byteLength(serialized ?? '', 'utf8');
  if (bytes > MAX_PARAMS_BYTES) throw new ParamsTooLargeError(bytes, MAX_PARAMS_BYTES);
  const params = template.params.safeParse(input.params);
  const key = input.idempotencyKey == null ? undefined : IdempotencyKey.safeParse(input.idempotencyKey);

  const issues = [
    ...(key === undefined || key.success ? [] : key.error.issues.map((i) => ({ path: 'idempotencyKey', message: i.message }))),
    ...(title.success ? [] : title.error.issues.map((i) => ({ path: 'title', message: i.message }))),
    ...(params.success ? [] : params.error.issues.map((i) => ({ path: ['params', ...i.path].join('.'), message: i.message }))),
  ];
  if (issues.length > 0 || !title.success || !params.success) throw new InvalidParamsError(issues);

  if (template.name === 'history') {
    // The subject must be a report the requester may read; otherwise it "does not exist".
    const subjectId = (params.data as { reportId: string }).reportId;
    readableReport(actor, subjectId, isUuid(subjectId) ? await loadReportState(store.db, subjectId) : null);
  }

  const keyed = key?.success ? `${actor.id}\n${key.data}` : undefined;
  const reportId = keyed ? uuidv5(`report:${keyed}`, REQUEST_NAMESPACE) : randomUUID();
  const streamId = reportStreamId(reportId);
  // A new stream: 'no_stream' below is the load (nothing there yet).
  const events = decide(
    { type: 'RequestReport', data: { reportId, template: template.name, title: title.data, params: params.data as Record<string, unknown>, owner: actor.id } },
    null,
  );
  const appended = await store.append(
    streamId,
    'no_stream',
    // With a key, a retried append is recognised by its event id and answered as the first one was.
    events.map((e) => (keyed ? { ...e, eventId: uuidv5(`requested:${keyed}`, REQUEST_NAMESPACE) } : e)),
    { actor: actor.id, ...(options.requestId ? { requestId: options.requestId } : {}) },
  );
  const first = appended.events[0];
  if (appended.idempotent && first?.type === 'ReportRequested') {
    const same =
      first.data.template === template.name && first.data.title === title.data && canonicalJson(first.data.params) === canonicalJson(params.data);
    if (!same) throw new InvalidParamsError([{ path: 'idempotencyKey', message: 'already used for a different request' }]);
  }
  return { reportId, streamId };
}
