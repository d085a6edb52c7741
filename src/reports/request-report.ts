import { randomUUID } from 'node:crypto';
import { v5 as uuidv5 } from 'uuid';
import { z } from 'zod';
import { canonicalJson } from '../events/canonical-json.js';
import { assertMayChange, type Actor } from '../actor.js';
import type { EventStore } from '../events/event-store.js';
import { storableJsonIssues } from '../events/storable-json.js';
import { loadReportState } from './load-report.js';
import { isGone, reportStreamId } from './report-state.js';
import { decide } from './decide.js';
import { ConflictError, InvalidParamsError, type ParamIssue } from '../errors.js';
import type { EventData } from '../events/types.js';
import { CallbackUrlRefusedError, checkCallbackUrl, type CallbackPolicy } from '../webhooks/callback-url.js';
import { GoneError, ParamsTooLargeError, UnknownTemplateError } from './errors.js';
import { personalDataOf } from './personal-data.js';
import type { RecordedEvent } from '../events/recorded-event.js';
import { readableReport } from './report-access.js';
import { getTemplate, templateNames } from './templates/registry.js';
import { isUuid } from './uuid.js';
import { inSpan } from '../telemetry/spans.js';
import { MAX_PARAMS_BYTES, MAX_TITLE_LENGTH, PDF_STANDARDS, type PdfStandard } from '../shared/report-input.js';
import { expiryFor, NO_RETENTION_LIMITS, type RetentionPolicy } from './retention.js';

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
  /** Render to this archival standard (else the template's default). */
  pdfStandard?: PdfStandard | null;
  /** Where to POST the outcome when the report is STORED, REPLICATED or FAILED (checked against the callback policy). */
  callbackUrl?: string | null;
  /** How long to keep it (an ISO-8601 duration), or until when (expiresAt); neither: the template's default. */
  retainFor?: string | null;
  expiresAt?: string | Date | null;
}

export interface RequestReportOptions {
  requestId?: string;
  /** Which callback URLs are accepted (WEBHOOK_ALLOWED_HOSTS, production); without one, none is. */
  callbacks?: CallbackPolicy;
  /** How long a key names its first report (IDEMPOTENCY_WINDOW); default a day. */
  idempotencyWindowMs?: number;
  /** Retention defaults and maximum (RETENTION_DEFAULT / RETENTION_MAX); none: no limits. */
  retention?: RetentionPolicy;
  /** The clock, for expiry (tests). */
  now?: Date;
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

const DEFAULT_IDEMPOTENCY_WINDOW_MS = 86_400_000;

/**
 * The report (and its ReportRequested event id) a viewer's key names in its `generation`-th
 * window: generation 0 is the key's first use; once a window has passed, the key names the next.
 */
function keyedIds(keyed: string, generation: number): { reportId: string; eventId: string } {
  const suffix = generation === 0 ? '' : `\n${generation}`;
  return { reportId: uuidv5(`report:${keyed}${suffix}`, REQUEST_NAMESPACE), eventId: uuidv5(`requested:${keyed}${suffix}`, REQUEST_NAMESPACE) };
}

/** A request in clear: what is compared and then encrypted (personal-data.ts). */
type Requested = Extract<EventData<'ReportRequested'>, { title: string }>;

/** The same request: template, title, params and callbackUrl (the report id and owner follow from the key). */
function sameRequest(a: EventData<'ReportRequested'>, b: Requested): boolean {
  const personal = personalDataOf(a);
  return (
    a.template === b.template &&
    personal.title === b.title &&
    canonicalJson(personal.params) === canonicalJson(b.params) &&
    a.callbackUrl === b.callbackUrl &&
    a.pdfStandard === b.pdfStandard
  );
}

function keyReused(key: string): ConflictError {
  return new ConflictError(`idempotency key ${key} was already used for a different request; send the same request, or use a new key`);
}

/** The answer to a request made again with its key: the first report if it asked the same, else a conflict. */
async function answerRepeat(store: EventStore, first: RecordedEvent | undefined, asked: Requested, key: string, result: RequestReportResult): Promise<RequestReportResult> {
  // Gone (expired, deleted, erased): not answered as a success again (an erased one cannot even be compared).
  const state = await loadReportState(store.db, result.reportId);
  if (state && isGone(state)) throw new GoneError(result.reportId, state.status);
  const [revealed] = first ? await store.reveal([first]) : [];
  if (revealed?.type !== 'ReportRequested' || !sameRequest(revealed.data, asked)) throw keyReused(key);
  return result;
}

/**
 * Validates a report request against its template and appends ReportRequested to a new stream.
 * Every check runs before the append: on bad input nothing is written.
 */
export async function requestReport(
  store: EventStore,
  input: RequestReportInput,
  actor: Actor,
  options: RequestReportOptions = {},
): Promise<RequestReportResult> {
  // The root of the report's trace (or a child of the caller's): every later stage continues it.
  return inSpan('requestReport', { attributes: { 'quire.template': String(input.template).slice(0, 64) } }, async (span) => {
    const result = await request(store, input, actor, options);
    span?.setAttribute('quire.report_id', result.reportId);
    return result;
  });
}

async function request(store: EventStore, input: RequestReportInput, actor: Actor, options: RequestReportOptions): Promise<RequestReportResult> {
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
  const pdfStandard = input.pdfStandard == null ? undefined : z.enum(PDF_STANDARDS).safeParse(input.pdfStandard);

  const issues: ParamIssue[] = [
    ...(key === undefined || key.success ? [] : key.error.issues.map((i) => ({ path: 'idempotencyKey', message: i.message }))),
    ...(title.success ? [] : title.error.issues.map((i) => ({ path: 'title', message: i.message }))),
    ...(pdfStandard === undefined || pdfStandard.success ? [] : [{ path: 'pdfStandard', message: `one of ${PDF_STANDARDS.join(', ')}` }]),
    ...(params.success ? [] : params.error.issues.map((i) => ({ path: ['params', ...i.path].join('.'), message: i.message }))),
  ];
  let callbackUrl: string | undefined;
  if (input.callbackUrl != null) {
    try {
      callbackUrl = await checkCallbackUrl(input.callbackUrl, options.callbacks ?? { allowedHosts: [], production: true });
    } catch (err) {
      if (!(err instanceof CallbackUrlRefusedError)) throw err;
      issues.push({ path: 'callbackUrl', message: err.message });
    }
  }
  if (issues.length > 0 || !title.success || !params.success) throw new InvalidParamsError(issues);
  const expiresAt = expiryFor(input, template.name, options.retention ?? NO_RETENTION_LIMITS, options.now ?? new Date());

  if (template.name === 'history') {
    // The subject must be a report the requester may read; otherwise it "does not exist".
    const subjectId = (params.data as { reportId: string }).reportId;
    readableReport(actor, subjectId, isUuid(subjectId) ? await loadReportState(store.db, subjectId) : null);
  }

  const keyed = key?.success ? `${actor.id}\n${key.data}` : undefined;
  const data = (reportId: string): Requested => ({
    reportId,
    template: template.name,
    title: title.data,
    params: params.data as Record<string, unknown>,
    owner: actor.id,
    ...(callbackUrl === undefined ? {} : { callbackUrl }),
    ...(pdfStandard?.success ? { pdfStandard: pdfStandard.data } : {}),
    ...(expiresAt ? { expiresAt: expiresAt.toISOString() } : {}),
  });

  let ids: { reportId: string; eventId?: string } = { reportId: randomUUID() };
  if (keyed) {
    // The key's report in its current window: the same request answers it (nothing appended, no
    // second render); a different one is a conflict. A report past its window frees the key.
    const windowMs = options.idempotencyWindowMs ?? DEFAULT_IDEMPOTENCY_WINDOW_MS;
    for (let generation = 0; ; generation++) {
      ids = keyedIds(keyed, generation);
      const existing = await loadReportState(store.db, ids.reportId);
      if (!existing) break;
      // Someone else's: ids are names of (subject, key, window), and a subject may contain the
      // separator; another viewer's report is never answered (nor its key's use revealed).
      if (existing.owner !== actor.id) continue;
      if (Date.now() - existing.requestedAt.getTime() >= windowMs) continue;
      const first = (await store.readStream(existing.streamId, { limit: 1 }))[0];
      return answerRepeat(store, first, data(ids.reportId), key!.data!, { reportId: existing.reportId, streamId: existing.streamId });
    }
  }
  const reportId = ids.reportId;
  const streamId = reportStreamId(reportId);
  // A new stream: 'no_stream' below is the load (nothing there yet).
  // Title and params go into the log encrypted with the report's new data key (personal-data.ts),
  // whose row is written in the append's transaction: one commit, and no key without its request.
  const { data: encrypted, dataKey } = store.personalData.encrypt(data(reportId));
  const events = decide({ type: 'RequestReport', data: encrypted }, null);
  const appended = await store.append(
    streamId,
    'no_stream',
    // With a key, a concurrent twin's append is recognised by its event id and answered as the first
    // one was (with the first one's data key: the twin's is rolled back with its append).
    events.map((e) => (ids.eventId ? { ...e, eventId: ids.eventId } : e)),
    { actor: actor.id, ...(options.requestId ? { requestId: options.requestId } : {}) },
    { alongside: [dataKey] },
  );
  const first = appended.events[0];
  if (appended.idempotent) return answerRepeat(store, first, data(reportId), key!.data!, { reportId, streamId });
  return { reportId, streamId };
}
