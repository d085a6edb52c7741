// quire's progress page: sign in with a bearer token, request a report (the form is generated from
// the template's params schema), follow its life live over graphql-ws (reportStatus +
// reportProgress), download it, retry it when it failed; auditors also read the event log and the
// current digest. Built by Vite (vite.config.ts) into dist/ui, which quire serves.
import './style.css';
import type { Client } from 'graphql-ws';
import { $, dateTimeFormat, el, fact, formatBytes, hashCode, show, timeEl, timeFormat } from './dom';
import {
  UiCreateDownloadUrlDocument,
  UiEventsDocument,
  UiLogDigestDocument,
  UiMeDocument,
  UiReportProgressDocument,
  UiReportsDocument,
  UiReportStatusDocument,
  UiRequestReportDocument,
  UiRetryReportDocument,
  UiTemplatesDocument,
  UiViewerReportsDocument,
  type ReportViewFragment,
  type UiMeQuery,
  type UiReportsQuery,
  type UiTemplatesQuery,
  type TypedDocumentString,
} from './gql/graphql';
import { buildParamsForm, EXAMPLES, type Issue, type JsonSchema, type ParamsForm } from './schema-form';
import { AuthError, gql, isFatalClose, openSocket, RequestError, subscribe } from './transport';

const TOKEN_KEY = 'quire.token';
const MAX_PARAMS_BYTES = 1024 * 1024;
const PAGE_SIZE = 10;
const EVENTS_PAGE_SIZE = 25;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type Viewer = UiMeQuery['me'];
type Report = ReportViewFragment;
type Template = UiTemplatesQuery['templates'][number];

const state: {
  token: string | null;
  viewer: Viewer | null;
  ws: Client | null;
  reportId: string | null;
  report: Report | null;
  stopStatus: (() => void) | null;
  stopProgress: (() => void) | null;
  /** The list's live feed (viewerReports): one subscription for every row. */
  stopList: (() => void) | null;
  cursor: string | null;
  templates: Template[];
  form: ParamsForm | null;
  eventsCursor: string | null;
} = { token: null, viewer: null, ws: null, reportId: null, report: null, stopStatus: null, stopProgress: null, stopList: null, cursor: null, templates: [], form: null, eventsCursor: null };

const call = <R, V>(document: TypedDocumentString<R, V>, variables: V) => gql(state.token, document, variables);

const input = (id: string) => $<HTMLInputElement>(id);
const button = (id: string) => $<HTMLButtonElement>(id);
const value = (id: string) => input(id).value.trim();
const isStaff = () => !!state.viewer && state.viewer.role !== 'USER';

// ---------------------------------------------------------------------------------------------
// Connection

function connection(text: string, kind: string): void {
  const node = $('connection');
  node.textContent = text;
  node.dataset.state = kind;
}

function startSocket(): Client {
  closeSocket();
  // Events of a client that was replaced (sign-out, new token) must not touch the indicator.
  const client: Client = openSocket(state.token ?? '', {
    connecting: (isRetry) => {
      if (state.ws === client) connection(isRetry ? 'Reconnecting…' : 'Connecting…', 'connecting');
    },
    connected: () => {
      if (state.ws === client) connection('Live', 'live');
    },
    closed: (event) => {
      if (state.ws !== client) return;
      if (isFatalClose(event)) connection('Disconnected: the token was refused', 'down');
      else if (state.stopStatus || state.stopList) connection('Connection lost, reconnecting…', 'connecting');
      else connection('Idle', 'idle');
    },
  });
  state.ws = client;
  return client;
}

function closeSocket(): void {
  stopFollowing();
  state.stopList?.();
  state.stopList = null;
  void state.ws?.dispose();
  state.ws = null;
  connection('Not connected', 'idle');
}

const socket = (): Client => state.ws ?? startSocket();

// ---------------------------------------------------------------------------------------------
// Messages

function describeAuthFailure(message: string): string {
  if (/expired/i.test(message)) {
    return 'Your token has expired. Get a new one (npm start prints a dev token; npx quire token --sub <you> makes one) and paste it above.';
  }
  if (!state.token) return 'A bearer token is required: paste one above.';
  return `This token was not accepted (${message}). Check that you copied all of it, and that it was made for this deployment.`;
}

/** A 401 anywhere signs the page out, with the reason next to the token field. */
function handleAuthError(err: AuthError): void {
  const text = describeAuthFailure(err.message);
  signOut(false);
  show('auth-message', text);
  input('token').focus();
}

function handleFailure(err: unknown, messageId: string): void {
  if (err instanceof AuthError) return handleAuthError(err);
  show(messageId, err instanceof Error ? err.message : String(err));
}

// ---------------------------------------------------------------------------------------------
// Sign in

async function signIn(token: string): Promise<void> {
  state.token = token;
  show('auth-message', '');
  button('sign-in').disabled = true;
  try {
    const { me } = await call(UiMeDocument, {});
    state.viewer = me;
    sessionStorage.setItem(TOKEN_KEY, token);
    $('viewer').textContent = `Signed in as ${me.id} (${me.role.toLowerCase()}).`;
    $('sign-out').hidden = false;
    const canRequest = me.role === 'USER' || me.role === 'ADMIN';
    $<HTMLFieldSetElement>('request-fields').disabled = !canRequest;
    show('request-message', canRequest ? '' : 'Your role can read reports but not request them.', 'info');
    button('refresh-list').disabled = false;
    $('list-heading').textContent = me.role === 'USER' ? 'Your reports' : 'All reports';
    startSocket();
    // The socket opens with the first subscription (lazy): until then, say what is true.
    if ($('connection').dataset.state === 'idle') connection('Signed in', 'idle');
    void loadTemplates();
    // Live first, then the first page: a change in between arrives by the feed, not lost.
    followList();
    void loadReports(true);
    $('audit').hidden = !isStaff();
    if (isStaff()) void loadAudit(true);
    const fromHash = location.hash.slice(1);
    if (UUID.test(fromHash)) follow(fromHash);
  } catch (err) {
    show('auth-message', err instanceof AuthError ? describeAuthFailure(err.message) : err instanceof Error ? err.message : String(err));
    state.token = null;
    state.viewer = null;
    sessionStorage.removeItem(TOKEN_KEY);
    input('token').focus();
  } finally {
    button('sign-in').disabled = false;
  }
}

function signOut(clearField = true): void {
  closeSocket();
  state.token = null;
  state.viewer = null;
  sessionStorage.removeItem(TOKEN_KEY);
  if (clearField) input('token').value = '';
  $('viewer').textContent = '';
  $('sign-out').hidden = true;
  $<HTMLFieldSetElement>('request-fields').disabled = true;
  button('refresh-list').disabled = true;
  $('more').hidden = true;
  $('reports-table').hidden = true;
  $('reports-body').replaceChildren();
  $('report').hidden = true;
  $('audit').hidden = true;
  $('events-body').replaceChildren();
  $('digest').replaceChildren();
  state.reportId = null;
  state.report = null;
}

// ---------------------------------------------------------------------------------------------
// Request form: the params controls come from the chosen template's JSON Schema

async function loadTemplates(): Promise<void> {
  try {
    const { templates } = await call(UiTemplatesDocument, {});
    state.templates = templates;
    const select = $<HTMLSelectElement>('template');
    const previous = select.value;
    select.replaceChildren(...templates.map((t) => el('option', { value: t.name }, t.name.charAt(0).toUpperCase() + t.name.slice(1))));
    if (templates.some((t) => t.name === previous)) select.value = previous;
    syncTemplate();
  } catch (err) {
    handleFailure(err, 'request-message');
  }
}

function syncTemplate(): void {
  const template = state.templates.find((t) => t.name === $<HTMLSelectElement>('template').value);
  $('template-description').textContent = template?.description ?? '';
  const box = $('params');
  const legend = box.querySelector('legend')!;
  legend.textContent = template ? `${template.name.charAt(0).toUpperCase()}${template.name.slice(1)} parameters` : 'Parameters';
  const inner = el('div');
  box.replaceChildren(legend, inner);
  state.form = template ? buildParamsForm(template.paramsSchema as JsonSchema, inner, EXAMPLES[template.name]) : null;
  clearFieldErrors();
}

function clearFieldErrors(): void {
  for (const node of document.querySelectorAll<HTMLElement>('#request-form .field-error')) node.textContent = '';
  for (const node of document.querySelectorAll<HTMLElement>('#request-form [aria-invalid]')) node.removeAttribute('aria-invalid');
}

/**
 * Puts an issue next to the control for its path, or the nearest enclosing one (params.rows.3.date
 * lands on the rows editor). Returns the control, or null when none matches.
 */
function fieldError(path: string, message: string): HTMLElement | null {
  const form = $('request-form');
  const parts = path.split('.');
  while (parts.length > 0) {
    const p = parts.join('.');
    const error = [...form.querySelectorAll<HTMLElement>('.field-error')].find((e) => e.dataset.path === p && !e.closest('[hidden]'));
    if (error) {
      const shown = p === path ? message : `${path.slice(p.length + 1)}: ${message}`;
      error.textContent = error.textContent ? `${error.textContent}; ${shown}` : shown;
      const control = [...form.querySelectorAll<HTMLElement>('[data-path]')].find((c) => c.dataset.path === p && c !== error && !c.classList.contains('item') && !c.closest('[hidden]'));
      control?.setAttribute('aria-invalid', 'true');
      return control ?? error;
    }
    parts.pop();
  }
  return null;
}

function issueList(title: string, issues: readonly Issue[]): HTMLElement {
  return el('div', {}, el('p', {}, title), el('ul', {}, ...issues.map(({ path, message }) => el('li', {}, el('code', {}, path), `: ${message}`))));
}

function refuse(issues: Issue[]): void {
  const unplaced = issues.filter((issue) => !fieldError(issue.path, issue.message));
  show('request-message', unplaced.length > 0 ? issueList('Please correct these:', issues) : 'Please correct the highlighted fields.');
  document.querySelector<HTMLElement>('#request-form [aria-invalid="true"]')?.focus();
}

async function submitRequest(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  clearFieldErrors();
  show('request-message', '');
  if (!state.form) return show('request-message', 'The templates are not loaded yet.');
  const template = $<HTMLSelectElement>('template').value;
  const title = value('title');
  const { params, issues } = state.form.read();
  if (!title) issues.unshift({ path: 'title', message: 'a title is required' });
  else if (title.length > 200) issues.unshift({ path: 'title', message: 'at most 200 characters' });
  if (issues.length === 0 && new TextEncoder().encode(JSON.stringify(params)).length > MAX_PARAMS_BYTES) {
    issues.push({ path: 'params.rows', message: 'these parameters are over 1 MiB: use fewer rows' });
  }
  if (issues.length > 0) return refuse(issues);
  const submit = button('request');
  submit.disabled = true;
  submit.textContent = 'Requesting…';
  try {
    const { requestReport: r } = await call(UiRequestReportDocument, { input: { template, title, params } });
    switch (r.__typename) {
      case 'MutationRequestReportSuccess':
        show('request-message', `Requested “${r.data.title}”.`, 'ok');
        follow(r.data.reportId);
        void loadReports(true);
        break;
      case 'InvalidParamsError': {
        for (const issue of r.issues) fieldError(issue.path, issue.message);
        show('request-message', issueList(`The server refused these parameters (${r.code}):`, r.issues));
        break;
      }
      case 'RateLimitedError':
        show('request-message', `Too many requests: try again in ${r.retryAfterSeconds} s.`);
        break;
      case 'ForbiddenError':
        show('request-message', `Not allowed: ${r.message}`);
        break;
      default:
        show('request-message', `${r.code}: ${r.message}`);
    }
  } catch (err) {
    handleFailure(err, 'request-message');
  } finally {
    submit.disabled = false;
    submit.textContent = 'Request report';
  }
}

// ---------------------------------------------------------------------------------------------
// Following one report

function stopFollowing(): void {
  state.stopStatus?.();
  state.stopStatus = null;
  stopProgress();
}

function stopProgress(): void {
  state.stopProgress?.();
  state.stopProgress = null;
  $('progress').hidden = true;
}

function follow(reportId: string): void {
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

/** After the socket refused the token: ask over HTTP for the exact reason, then sign out. */
async function recheckToken(): Promise<void> {
  try {
    await call(UiMeDocument, {});
    $('status').textContent = 'Live updates were refused by the server.';
  } catch (err) {
    handleFailure(err, 'auth-message');
  }
}

const STATUS_TEXT: Record<string, string> = {
  REQUESTED: 'waiting to be rendered',
  RENDERED: 'rendered, being stored',
  STORED: 'ready to download',
  REPLICATED: 'ready to download from every region',
  FAILED: 'see the reason below',
  LOST: 'its only copy was on a machine’s volume that is gone',
};

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
  if (report.locations.length > 0) {
    fact(facts, 'Stored in', report.locations.map((l) => (l.kind === 'OBJECT' ? `object store${l.bucket ? ` ${l.bucket}` : ''}` : `volume in ${l.region}${l.machine ? ` (machine ${l.machine})` : ''}`)).join(' and '));
  }

  const d = report.downloadable;
  button('download').disabled = !d.available;
  if (d.available) {
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

async function download(): Promise<void> {
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
    } else {
      show('download-message', `${r.code}: ${r.message}`);
    }
  } catch (err) {
    handleFailure(err, 'download-message');
  } finally {
    b.disabled = !state.report?.downloadable.available;
  }
}

async function retry(): Promise<void> {
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

// ---------------------------------------------------------------------------------------------
// The viewer's reports (relay pagination, newest first)

function statusBadge(status: string): HTMLElement {
  return el('span', { className: `badge status-${status.toLowerCase()}` }, status);
}

function listRow(node: UiReportsQuery['reports']['edges'][number]['node']): HTMLElement {
  const open = el('button', { type: 'button', className: 'link' }, node.title);
  open.addEventListener('click', () => follow(node.reportId));
  const tr = el('tr', {}, el('td', {}, open), el('td', {}, node.template), el('td', { className: 'status-cell' }, statusBadge(node.status)), el('td', {}, timeEl(node.requestedAt, dateTimeFormat)));
  tr.dataset.reportId = node.reportId;
  return tr;
}

function updateListRow(report: Pick<Report, 'reportId' | 'status'>): void {
  const cell = document.querySelector(`tr[data-report-id="${CSS.escape(report.reportId)}"] .status-cell`);
  cell?.replaceChildren(statusBadge(report.status));
}

/** A render's progress as a bar in its row (transient: the next state change replaces it). */
function showListProgress(reportId: string, fraction: number): void {
  const cell = document.querySelector(`tr[data-report-id="${CSS.escape(reportId)}"] .status-cell`);
  if (!cell) return;
  let bar = cell.querySelector('progress');
  if (!bar) cell.append((bar = el('progress', { max: 1, className: 'row-progress' })));
  bar.value = fraction;
  bar.textContent = `${Math.round(fraction * 100)} %`;
  bar.setAttribute('aria-label', `Rendered ${Math.round(fraction * 100)} %`);
}

/**
 * "Your reports" (all reports for auditors) kept live by one subscription: a new report appears at
 * the top, a status change updates its row, a render in progress shows a bar.
 */
function followList(): void {
  state.stopList?.();
  state.stopList = subscribe(
    socket(),
    UiViewerReportsDocument,
    {},
    ({ viewerReports: update }) => {
      if (update.progress !== null) return showListProgress(update.reportId, update.progress);
      const report = update.report;
      if (!report) return;
      const body = $('reports-body');
      if (body.querySelector(`tr[data-report-id="${CSS.escape(report.reportId)}"]`)) return updateListRow(report);
      body.prepend(listRow(report));
      $('reports-table').hidden = false;
      show('list-message', '', 'info');
    },
    (err) => {
      const errors = Array.isArray(err) ? (err as Array<{ message: string; extensions?: { code?: string } }>) : [];
      if (isFatalClose(err) || errors.some((e) => e.extensions?.code === 'UNAUTHENTICATED')) return void recheckToken();
      show('list-message', `Live updates of the list stopped${errors.length ? `: ${errors.map((e) => e.message).join('; ')}` : ''}. Refresh reloads it.`, 'error');
    },
  );
}

async function loadReports(reset: boolean): Promise<void> {
  if (!state.token) return;
  if (reset) state.cursor = null;
  try {
    const { reports } = await call(UiReportsDocument, { first: PAGE_SIZE, after: state.cursor });
    const body = $('reports-body');
    if (reset) body.replaceChildren();
    body.append(...reports.edges.map((e) => listRow(e.node)));
    state.cursor = reports.pageInfo.endCursor ?? state.cursor;
    $('more').hidden = !reports.pageInfo.hasNextPage;
    $('reports-table').hidden = body.children.length === 0;
    show('list-message', body.children.length === 0 ? 'No reports yet.' : '', 'info');
  } catch (err) {
    handleFailure(err, 'list-message');
  }
}

// ---------------------------------------------------------------------------------------------
// Auditors and admins: the global log with hashes, and the current digest

async function loadAudit(reset: boolean): Promise<void> {
  if (!state.token || !isStaff()) return;
  if (reset) {
    state.eventsCursor = null;
    void loadDigest();
  }
  try {
    const { events } = await call(UiEventsDocument, { first: EVENTS_PAGE_SIZE, after: state.eventsCursor });
    const body = $('events-body');
    if (reset) body.replaceChildren();
    for (const { node: e } of events.edges) {
      const tr = el(
        'tr',
        {},
        el('td', {}, String(e.globalPosition)),
        el('td', {}, e.type),
        el('td', {}, el('code', {}, e.streamId)),
        el('td', {}, String(e.streamVersion)),
        el('td', {}, timeEl(e.recordedAt, dateTimeFormat)),
        el('td', {}, hashCode(e.hash)),
        el('td', {}, hashCode(e.prevHash)),
      );
      tr.dataset.position = String(e.globalPosition);
      body.append(tr);
    }
    state.eventsCursor = events.pageInfo.endCursor ?? state.eventsCursor;
    $('more-events').hidden = !events.pageInfo.hasNextPage;
    $('events-table').hidden = body.children.length === 0;
    show('events-message', body.children.length === 0 ? 'The log is empty.' : `${body.children.length} event${body.children.length === 1 ? '' : 's'} shown.`, 'info');
  } catch (err) {
    handleFailure(err, 'events-message');
  }
}

async function loadDigest(): Promise<void> {
  try {
    const { logDigest: d } = await call(UiLogDigestDocument, {});
    const dl = $('digest');
    dl.replaceChildren();
    if (!d) return show('digest-message', 'No seal yet: the sealer seals the log every few events or seconds.', 'info');
    show('digest-message', '', 'info');
    fact(dl, 'Seal hash', hashCode(d.sealHash));
    fact(dl, 'Seal', `#${d.seq}, ${d.eventCount.toLocaleString()} events, through position ${d.position}`);
    fact(dl, 'Merkle root', hashCode(d.merkleRoot));
    fact(dl, 'Checkpoint', el('code', {}, d.checkpoint));
    fact(dl, 'Sealed', timeEl(d.sealedAt, dateTimeFormat));
  } catch (err) {
    handleFailure(err, 'digest-message');
  }
}

// ---------------------------------------------------------------------------------------------
// Wiring

function start(): void {
  $('auth-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const token = value('token').replace(/^bearer\s+/i, '');
    if (!token) {
      show('auth-message', 'Paste a bearer token first.');
      input('token').focus();
      return;
    }
    void signIn(token);
  });
  $('sign-out').addEventListener('click', () => {
    signOut();
    show('auth-message', 'Token forgotten.', 'info');
  });
  $('template').addEventListener('change', syncTemplate);
  $<HTMLFormElement>('request-form').addEventListener('submit', (e) => void submitRequest(e));
  $('download').addEventListener('click', () => void download());
  $('retry').addEventListener('click', () => void retry());
  $('refresh-list').addEventListener('click', () => void loadReports(true));
  $('more').addEventListener('click', () => void loadReports(false));
  $('refresh-audit').addEventListener('click', () => void loadAudit(true));
  $('more-events').addEventListener('click', () => void loadAudit(false));
  window.addEventListener('hashchange', () => {
    const id = location.hash.slice(1);
    if (state.token && UUID.test(id) && id !== state.reportId) follow(id);
  });
  document.body.dataset.ready = 'true';

  // In development, on loopback only, quire puts the dev token `npm start` printed into the page.
  const devToken = document.querySelector<HTMLMetaElement>('meta[name="quire-dev-token"]')?.content;
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) {
    input('token').value = saved;
    void signIn(saved);
  } else if (devToken) {
    // Filled in by quire for a browser on its own machine: connect at once, nothing to press.
    input('token').value = devToken;
    $('token-hint').append(' ', el('strong', {}, 'Signed in with the dev token of this development server.'));
    void signIn(devToken);
  }
  void showObjectStore();
}

/**
 * The object store's state, from /readyz (no token needed): quire serves on without it, so the
 * page says when downloads come from volumes and copies wait.
 */
async function showObjectStore(): Promise<void> {
  const shown = $('object-store');
  try {
    const res = await fetch('/readyz', { cache: 'no-store' });
    const body = (await res.json()) as { objectStore?: { kind: string; bucket: string; state: string; detail?: string } };
    const store = body.objectStore;
    if (!store) return;
    const name = store.kind === 's3' ? `S3 bucket ${store.bucket}` : 'disk store';
    shown.textContent = store.state === 'up' ? `Object store: ${name}, answering` : `Object store: ${name} not answering — downloads come from volumes, copies wait`;
    shown.dataset.state = store.state === 'up' ? 'live' : 'down';
    if (store.detail) shown.title = store.detail;
    shown.hidden = false;
  } catch {
    shown.hidden = true;
  }
}

start();
