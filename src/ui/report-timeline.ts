// The report being followed: its status and timeline live over graphql-ws (reportStatus, and
// reportProgress while it waits to be rendered), its facts, the failure panel, download and retry.
import { $, button, dateTimeFormat, el, fact, formatBytes, hashCode, show, timeEl, timeFormat } from './dom';
import { UiCreateDownloadUrlDocument, UiDeleteReportDocument, UiEraseReportDocument, UiReportProgressDocument, UiReportStatusDocument, UiRetryReportDocument } from './gql/graphql';
import { handleFailure, recheckToken } from './auth';
import { socket, stopFollowing, stopProgress } from './connection';
import { updateListRow } from './report-row-status';
import { call, isStaff, state, type Report } from './state';
import { isFatalClose, RequestError, subscribe } from './transport';

/** Shows this report and follows it live; its id goes in the address (#id) so a reload comes back to it. */
export function follow(reportId: string): void {
  stopFollowing();
  state.reportId = reportId;
  state.report = null;
  if (location.hash.slice(1) !== reportId) history.replaceState(null, '', `#${reportId}`);
  $('report').hidden = false;
  $('report-heading').textContent = 'Report';
  $('report-template').textContent = '';
  $('report-id').textContent = reportId;
  $('status').textContent = 'Loading…';
  $('status').dataset.status = '';
  $('timeline').replaceChildren();
  $('facts').replaceChildren();
  $('failure').hidden = true;
  button('download').disabled = true;
  $('delete').hidden = true;
  $('erase').hidden = true;
  show('download-message', '', 'info');
  $('report-heading').focus();

  state.stopStatus = subscribe(
    socket(),
    UiReportStatusDocument,
    { id: reportId },
    ({ reportStatus }) => {
      if (state.reportId !== reportId) return;
      render(reportStatus);
    },
    (err) => {
      if (state.reportId !== reportId) return;
      void subscriptionFailed(err);
    },
  );
}

async function subscriptionFailed(err: unknown): Promise<void> {
  if (Array.isArray(err)) {
    const errors = err as Array<{ message: string; extensions?: { code?: string } }>;
    const message = errors.map((e) => e.message).join('; ');
    if (/not found/i.test(message)) {
      $('status').textContent = 'Not found: no such report, or it is not yours.';
      $('status').dataset.status = 'FAILED';
    } else if (errors.some((e) => e.extensions?.code === 'UNAUTHENTICATED')) {
      await recheckToken();
    } else {
      $('status').textContent = `Live updates failed: ${message}`;
    }
    return;
  }
  if (isFatalClose(err)) {
    // 4403: the token was refused at connect (expired while the page was open, say).
    await recheckToken();
    return;
  }
  $('status').textContent = 'Live updates stopped. Reload the page to reconnect.';
}

const STATUS_TEXT: Record<string, string> = {
  REQUESTED: 'waiting to be rendered',
  RENDERED: 'rendered, being stored',
  STORED: 'ready to download',
  REPLICATED: 'ready to download from every region',
  FAILED: 'see the reason below',
  LOST: 'its only copy was on a machine’s volume that is gone',
  ERASED: 'erased: its title and params are gone for good, its files are purged',
  EXPIRED: 'its retention ended: it can no longer be downloaded and its copies are deleted',
  DELETED: 'it can no longer be downloaded and its copies are deleted',
};

const GONE = ['EXPIRED', 'DELETED', 'ERASED'];

/** How a gone report is named: "Expired", "Deleted", "Erased". */
const GONE_WORD: Record<string, string> = { EXPIRED: 'Expired', DELETED: 'Deleted', ERASED: 'Erased' };

const SOURCE_TEXT: Record<string, string> = {
  OBJECT_STORE: 'the object store',
  LOCAL_VOLUME: 'this machine’s volume',
  REMOTE_VOLUME: 'another machine’s volume',
};

function elapsed(fromIso: string, toIso: string): string {
  const ms = new Date(toIso).getTime() - new Date(fromIso).getTime();
  if (!(ms > 0)) return '';
  return ms < 1000 ? `+${ms} ms` : `+${(ms / 1000).toFixed(1)} s`;
}

type HistoryEvent = Report['history'][number];

/** One timeline entry per event of the report's own history. */
function timelineEntry(event: HistoryEvent, report: Report, isLastFailure: boolean): HTMLElement {
  const location = (kind: string) => report.locations.find((l) => l.kind === kind);
  const region = event.metadata.region;
  const by = event.metadata.actor ? ` by ${event.metadata.actor}` : '';
  let status: string;
  let detail: string;
  switch (event.type) {
    case 'ReportRequested':
      status = 'REQUESTED';
      detail = `in ${region}${by}`;
      break;
    case 'ReportRendered':
      status = 'RENDERED';
      detail = [report.pages != null ? `${report.pages} page${report.pages === 1 ? '' : 's'}` : '', formatBytes(report.bytes), `in ${region}`].filter(Boolean).join(', ');
      break;
    case 'ReportStoredLocal':
      status = 'STORED';
      detail = `on the volume ${event.metadata.machine ? `of machine ${event.metadata.machine} ` : ''}in ${location('VOLUME')?.region ?? region}`;
      break;
    case 'ReportReplicated': {
      status = 'REPLICATED';
      const bucket = location('OBJECT')?.bucket;
      detail = `to the object store${bucket ? ` (${bucket})` : ''}, from ${region}`;
      break;
    }
    case 'ReportMigrated':
      status = 'MIGRATED';
      detail = `from a legacy volume to the object store, in ${region}`;
      break;
    case 'ReportFailed':
      status = 'FAILED';
      detail = isLastFailure
        ? [report.failedStage ? `while trying to ${report.failedStage}` : '', report.lastError ? `: ${report.lastError}` : '', ` (attempt ${report.attempts}, in ${region})`].join('')
        : `in ${region}`;
      break;
    case 'ReportVolumeForgotten':
      status = 'LOST';
      detail = `a machine’s volume was forgotten${by}`;
      break;
    case 'ReportRetryRequested':
      status = 'RETRY';
      detail = `requested${by}, in ${region}`;
      break;
    // Completion webhooks (requestReport's callbackUrl): each attempt, from the machine that made it.
    case 'WebhookDelivered':
      status = 'WEBHOOK';
      detail = `delivered to ${report.callbackUrl ?? 'the callback URL'}, from ${region}`;
      break;
    case 'WebhookAttemptFailed':
      status = 'WEBHOOK';
      detail = `attempt failed, from ${region}`;
      break;
    case 'WebhookFailed':
      status = 'WEBHOOK';
      detail = 'given up on';
      break;
    case 'WebhookCancelled':
      status = 'WEBHOOK';
      detail = 'cancelled: the report was erased';
      break;
    case 'ReportExpired':
      status = 'EXPIRED';
      detail = 'its retention ended';
      break;
    case 'ReportDeleted':
      status = 'DELETED';
      detail = by ? `deleted${by}` : 'deleted';
      break;
    case 'ReportErased':
      // Who and when; the reason stays in the log (auditors read it), never any of the erased data.
      status = 'ERASED';
      detail = `personal data erased${by}`;
      break;
    case 'ReportHeld':
      status = 'HELD';
      detail = `legal hold${by}`;
      break;
    case 'ReportReleased':
      status = 'RELEASED';
      detail = `legal hold released${by}`;
      break;
    case 'ReportPurged':
      status = 'PURGED';
      detail = `a copy was deleted, in ${region}`;
      break;
    default:
      status = event.type;
      detail = `in ${region}`;
  }
  const li = el('li', { className: `event status-${status.toLowerCase()}` });
  li.dataset.status = status;
  li.dataset.version = String(event.streamVersion);
  const when = el('span', { className: 'when' }, timeEl(event.recordedAt));
  const since = elapsed(report.requestedAt, event.recordedAt);
  if (since && status !== 'REQUESTED') when.append(` (${since})`);
  li.append(el('span', { className: 'badge' }, status), ' ', when, ' ', el('span', { className: 'what' }, detail));
  // Auditors (and admins) see where each event sits in the stream's hash chain.
  if (isStaff()) {
    const dl = el('dl');
    fact(dl, 'hash', hashCode(event.hash));
    fact(dl, 'previous', hashCode(event.prevHash));
    li.append(el('details', { className: 'chain' }, el('summary', {}, `v${event.streamVersion} hash ${event.hash.slice(0, 12)}…`), dl));
  }
  return li;
}

function render(report: Report): void {
  state.report = report;
  $('report-heading').textContent = report.title;
  $('report-template').textContent = `${report.template} report`;
  const status = $('status');
  status.dataset.status = report.status;
  let statusText = STATUS_TEXT[report.status] ?? '';
  if (report.status === 'REQUESTED' && report.attempts > 0 && report.nextAttemptAt) {
    statusText = `attempt ${report.attempts} failed (${report.lastError ?? 'no reason given'}); trying again at ${timeFormat.format(new Date(report.nextAttemptAt))}`;
  }
  status.textContent = `Status: ${report.status}${statusText ? ` · ${statusText}` : ''}`;

  // Timeline: every event, oldest first; only the newest failure carries the report's last error.
  const lastFailure = report.history.findLast((e) => e.type === 'ReportFailed');
  $('timeline').replaceChildren(...report.history.map((e) => timelineEntry(e, report, e === lastFailure)));

  // Progress only means something while the report waits to be rendered.
  if (report.status === 'REQUESTED') {
    if (!state.stopProgress) startProgress(report.reportId);
  } else stopProgress();

  // Failure panel with the reason and, when retrying is possible, the Retry button.
  const failed = report.status === 'FAILED' || report.status === 'LOST';
  $('failure').hidden = !failed;
  if (report.status === 'LOST') {
    $('failure-text').textContent = `Lost: ${report.lastError ?? 'its only copy was on a volume that is gone'}.`;
    $('retry').hidden = true;
  } else if (failed) {
    const next = report.nextAttemptAt ? ` Next automatic attempt at ${timeFormat.format(new Date(report.nextAttemptAt))}.` : ' No more automatic attempts.';
    $('failure-text').textContent = `Failed${report.failedStage ? ` at ${report.failedStage}` : ''} after ${report.attempts} attempt${report.attempts === 1 ? '' : 's'}: ${report.lastError ?? 'no reason given'}.${next}`;
    $('retry').hidden = state.viewer?.role === 'AUDITOR';
  }

  const facts = $('facts');
  facts.replaceChildren();
  fact(facts, 'Requested', timeEl(report.requestedAt, dateTimeFormat));
  fact(facts, 'Owner', report.owner);
  if (report.pages != null) fact(facts, 'Pages', String(report.pages));
  if (report.bytes != null) fact(facts, 'Size', formatBytes(report.bytes));
  if (report.sha256) fact(facts, 'SHA-256', hashCode(report.sha256));
  const gone = GONE.includes(report.status);
  if (gone && report.goneAt) fact(facts, GONE_WORD[report.status]!, timeEl(report.goneAt, dateTimeFormat));
  else if (report.expiresAt) fact(facts, 'Expires', timeEl(report.expiresAt, dateTimeFormat));
  else fact(facts, 'Expires', 'never (kept until deleted)');
  if (report.held) fact(facts, 'Legal hold', 'yes: it neither expires nor can be deleted until an admin releases it');
  if (report.locations.length > 0) {
    fact(facts, 'Stored in', report.locations.map((l) => (l.kind === 'OBJECT' ? `object store${l.bucket ? ` ${l.bucket}` : ''}` : `volume in ${l.region}${l.machine ? ` (machine ${l.machine})` : ''}`)).join(' and '));
  }

  const d = report.downloadable;
  button('download').disabled = !d.available;
  // Its owner (or an admin) may delete it, unless it is held or gone already.
  const mayDelete = !!state.viewer && (state.viewer.role === 'ADMIN' || (state.viewer.role === 'USER' && state.viewer.id === report.owner));
  $('delete').hidden = !mayDelete || gone || report.held;
  // Admins may erase its personal data, also once it is expired or deleted; not while held, nor twice.
  $('erase').hidden = state.viewer?.role !== 'ADMIN' || report.status === 'ERASED' || report.held;
  if (gone) {
    const erased = report.status === 'ERASED' ? ' Its title and params are erased for good.' : '';
    show('download-message', `${GONE_WORD[report.status]}: this report can no longer be downloaded.${erased}`, 'info');
  } else if (d.available) {
    const where = SOURCE_TEXT[d.source ?? ''] ?? d.source;
    show('download-message', `Will be served from ${where}${d.region ? ` (${[d.region, d.machine].filter(Boolean).join(', ')})` : ''}.`, 'info');
  } else if (report.status === 'STORED' || report.status === 'REPLICATED') {
    show('download-message', `Not downloadable from here right now: ${d.reason}`, 'error');
  } else show('download-message', '', 'info');

  updateListRow(report);
}

function startProgress(reportId: string): void {
  const bar = $<HTMLProgressElement>('progress-bar');
  state.stopProgress = subscribe(
    socket(),
    UiReportProgressDocument,
    { id: reportId },
    ({ reportProgress }) => {
      if (state.reportId !== reportId || state.report?.status !== 'REQUESTED') return;
      const f = Math.max(0, Math.min(1, reportProgress.fraction));
      $('progress').hidden = false;
      bar.value = f;
      $('progress-text').textContent = `${Math.round(f * 100)} %`;
    },
    () => {},
  );
}

export async function download(): Promise<void> {
  const report = state.report;
  if (!report) return;
  const b = button('download');
  b.disabled = true;
  show('download-message', 'Preparing a download link…', 'info');
  try {
    const { createDownloadUrl: r } = await call(UiCreateDownloadUrlDocument, { reportId: report.reportId });
    if (r.__typename === 'MutationCreateDownloadUrlSuccess') {
      const where = SOURCE_TEXT[r.data.source] ?? r.data.source;
      show('download-message', `Downloading from ${where}${r.data.region ? ` (${r.data.region})` : ''}; the link expires at ${timeFormat.format(new Date(r.data.expiresAt))}.`, 'ok');
      // The file is sent as an attachment: the browser downloads it and this page stays.
      const url = new URL(r.data.url, location.href);
      if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new RequestError(`refusing a download link of scheme ${url.protocol}`);
      location.assign(url.href);
    } else if (r.__typename === 'NotReadyError') {
      show('download-message', `Not ready yet (status ${r.status}): wait until it is stored.`);
    } else if (r.__typename === 'UnavailableError') {
      show('download-message', `Unavailable: the file is only on volumes in ${r.regions.join(', ')}, which this instance cannot reach. Try again later.`);
    } else if (r.__typename === 'NotFoundError') {
      show('download-message', 'Not found: no such report, or it is not yours.');
    } else if (r.__typename === 'GoneError') {
      show('download-message', `Gone: this report is ${(GONE_WORD[r.status] ?? 'deleted').toLowerCase()} and can no longer be downloaded.`);
    } else {
      show('download-message', `${r.code}: ${r.message}`);
    }
  } catch (err) {
    handleFailure(err, 'download-message');
  } finally {
    b.disabled = !state.report?.downloadable.available;
  }
}

export async function deleteFollowed(): Promise<void> {
  const report = state.report;
  if (!report || !confirm(`Delete “${report.title}”? It can no longer be downloaded, and every copy of its file is deleted.`)) return;
  const b = button('delete');
  b.disabled = true;
  try {
    const { deleteReport: r } = await call(UiDeleteReportDocument, { id: report.reportId });
    // The live status shows DELETED as soon as it is appended.
    if (r.__typename === 'MutationDeleteReportSuccess') show('download-message', 'Deleted: this report can no longer be downloaded; its copies are being removed.', 'ok');
    else show('download-message', `${r.code}: ${r.message}`);
  } catch (err) {
    handleFailure(err, 'download-message');
  } finally {
    b.disabled = false;
  }
}

/** Admins: erase the followed report's personal data, with the reason the log keeps (asked for, never guessed). */
export async function eraseFollowed(): Promise<void> {
  const report = state.report;
  if (!report) return;
  const reason = prompt(`Erase the personal data of “${report.title}” for good? Its title and params become unreadable and every copy of its file is deleted.\n\nWhy (kept in the log, so no personal data; e.g. the request it answers):`);
  if (reason === null) return;
  if (reason.trim() === '') return show('download-message', 'Nothing erased: say why (e.g. the erasure request it answers).');
  const b = button('erase');
  b.disabled = true;
  try {
    const { eraseReport: r } = await call(UiEraseReportDocument, { id: report.reportId, reason: reason.trim() });
    // The live status shows ERASED and the title [erased] as soon as it is appended.
    if (r.__typename === 'MutationEraseReportSuccess') show('download-message', 'Erased: its personal data is gone and its copies are being removed.', 'ok');
    else show('download-message', `${r.code}: ${r.message}`);
  } catch (err) {
    handleFailure(err, 'download-message');
  } finally {
    b.disabled = false;
  }
}

export async function retry(): Promise<void> {
  const report = state.report;
  if (!report) return;
  const b = button('retry');
  b.disabled = true;
  try {
    const { retryReport: r } = await call(UiRetryReportDocument, { id: report.reportId });
    if (r.__typename === 'MutationRetryReportSuccess') show('download-message', 'Retry requested: the report is back in the queue.', 'ok');
    else if (r.__typename === 'NotRetryableError') show('download-message', `Cannot retry a report that is ${r.status}.`);
    else show('download-message', `${r.code}: ${r.message}`);
  } catch (err) {
    handleFailure(err, 'download-message');
  } finally {
    b.disabled = false;
  }
}
