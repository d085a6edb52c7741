import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { canRead, type Actor } from '../actor.js';
import type { EventStore } from '../events/event-store.js';
import { storableJsonIssues } from '../events/storable-json.js';
import { loadReportState } from '../projections/report-rows.js';
import { reportStreamId } from '../projections/report-state.js';
import { ForbiddenError, InvalidParamsError, ParamsTooLargeError, ReportNotFoundError, UnknownTemplateError } from './errors.js';
import { getTemplate, templateNames } from './templates/registry.js';
import { isUuid } from './uuid.js';

export const MAX_PARAMS_BYTES = 1024 * 1024;

export interface RequestReportInput {
  template: string;
  title: string;
  params: unknown;
}

export interface RequestReportResult {
  reportId: string;
  streamId: string;
}

const Title = z
  .string()
  .trim()
  .min(1, 'a title is required')
  .max(200, 'at most 200 characters')
  .regex(/^[^\p{Cc}]*$/u, 'no control characters');

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
  if (actor.role === 'auditor') throw new ForbiddenError('auditors read; they cannot request reports');
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

  const issues = [
    ...(title.success ? [] : title.error.issues.map((i) => ({ path: 'title', message: i.message }))),
    ...(params.success ? [] : params.error.issues.map((i) => ({ path: ['params', ...i.path].join('.'), message: i.message }))),
  ];
  if (issues.length > 0 || !title.success || !params.success) throw new InvalidParamsError(issues);

  if (template.name === 'history') {
    // The subject must be a report the requester may read; otherwise it "does not exist".
    const subjectId = (params.data as { reportId: string }).reportId;
    const subject = isUuid(subjectId) ? await loadReportState(store.db, subjectId) : null;
    if (!subject || !canRead(actor, subject.owner)) throw new ReportNotFoundError(subjectId);
  }

  const reportId = randomUUID();
  const streamId = reportStreamId(reportId);
  await store.append(
    streamId,
    'no_stream',
    [
      {
        type: 'ReportRequested',
        data: {
          reportId,
          template: template.name,
          title: title.data,
          params: params.data as Record<string, unknown>,
          owner: actor.id,
        },
      },
    ],
    { actor: actor.id, ...(options.requestId ? { requestId: options.requestId } : {}) },
  );
  return { reportId, streamId };
}
