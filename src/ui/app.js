// quire's progress page: sign in with a bearer token, request a report, follow its life live over
// graphql-ws (reportStatus + reportProgress), download it, retry it when it failed.
// Plain ES module, no build step; the only import is graphql-ws's browser client, served by quire.
import { createClient } from './vendor/graphql-ws/client.js';
import { CREATE_DOWNLOAD_URL, ME, REPORTS, REPORT_PROGRESS, REPORT_STATUS, REQUEST_REPORT, RETRY_REPORT } from './operations.js';

const TOKEN_KEY = 'quire.token';
const MAX_PARAMS_BYTES = 1024 * 1024;
const PAGE_SIZE = 10;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const $ = (id) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing`);
  return el;
};

/** @type {{ token: string | null, viewer: { id: string, role: string } | null, ws: any, reportId: string | null, report: any, stopStatus: null | (() => void), stopProgress: null | (() => void), cursor: string | null }} */
const state = { token: null, viewer: null, ws: null, reportId: null, report: null, stopStatus: null, stopProgress: null, cursor: null };

// ---------------------------------------------------------------------------------------------
// Transport

class AuthError extends Error {}
class RequestError extends Error {}

/** One GraphQL operation over HTTP. Throws AuthError on 401, RequestError on anything unusable. */
async function gql(query, variables = {}) {
  let res;
  try {
    res = await fetch('/graphql', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json',
        authorization: `Bearer ${state.token}`,
      },
      body: JSON.stringify({ query, variables }),
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch {
    throw new RequestError('quire could not be reached: check your connection and try again.');
  }
  let body;
  try {
    body = await res.json();
  } catch {
    throw new RequestError(`quire answered ${res.status} ${res.statusText} without a GraphQL response.`);
  }
  const first = body?.errors?.[0];
  if (res.status === 401 || first?.extensions?.code === 'UNAUTHENTICATED') throw new AuthError(first?.message ?? 'a valid bearer token is required');
  if (!body?.data) throw new RequestError(first?.message ?? `quire answered ${res.status}.`);
  if (first) throw new RequestError(first.message);
  return body.data;
}

function wsUrl() {
  const url = new URL('/graphql', location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}

/** Close codes after which reconnecting cannot help: the token is bad, or the request was. */
const FATAL_CLOSE = new Set([4400, 4401, 4403, 4406, 4409, 4429, 4500]);

function connection(text, kind) {
  const el = $('connection');
  el.textContent = text;
  el.dataset.state = kind;
}

function openSocket() {
  closeSocket();
  const token = state.token;
  // Events of a client that was replaced (sign-out, new token) must not touch the indicator.
  const client = createClient({
    url: wsUrl(),
    lazy: true,
    keepAlive: 15_000,
    retryAttempts: Number.POSITIVE_INFINITY,
    // Exponential back-off with jitter, at most ~15 s between attempts.
    retryWait: (retries) => new Promise((resolve) => setTimeout(resolve, Math.min(15_000, 500 * 2 ** retries) * (0.5 + Math.random() / 2))),
    shouldRetry: (e) => !(e && typeof e === 'object' && 'code' in e && FATAL_CLOSE.has(e.code)),
    connectionParams: () => ({ authorization: `Bearer ${token}` }),
    on: {
      connecting: (isRetry) => {
        if (state.ws === client) connection(isRetry ? 'Reconnecting…' : 'Connecting…', 'connecting');
      },
      connected: () => {
        if (state.ws === client) connection('Live', 'live');
      },
      closed: (event) => {
        if (state.ws !== client) return;
        if (event && FATAL_CLOSE.has(event.code)) connection('Disconnected: the token was refused', 'down');
        else if (state.stopStatus) connection('Connection lost, reconnecting…', 'connecting');
        else connection('Idle', 'idle');
      },
    },
  });
  state.ws = client;
}

function closeSocket() {
  stopFollowing();
  state.ws?.dispose();
  state.ws = null;
  connection('Not connected', 'idle');
}

/** Subscribes; returns an unsubscribe function. `onError` gets GraphQL errors or a CloseEvent. */
function subscribe(query, variables, onData, onError) {
  if (!state.ws) openSocket();
  return state.ws.subscribe(
    { query, variables },
    {
      next: (result) => {
        if (result.errors?.length) onError(result.errors);
        else if (result.data) onData(result.data);
      },
      error: onError,
      complete: () => {},
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Messages

function show(id, text, kind = 'error') {
  const el = $(id);
  el.replaceChildren();
  if (text) el.append(text);
  el.dataset.kind = kind;
}

function describeAuthFailure(message) {
  if (/expired/i.test(message)) {
    return 'Your token has expired. Get a new one (npm start prints a dev token; npx quire token --sub <you> makes one) and paste it above.';
  }
  if (!state.token) return 'A bearer token is required: paste one above.';
  return `This token was not accepted (${message}). Check that you copied all of it, and that it was made for this deployment.`;
}

/** A 401 anywhere signs the page out, with the reason next to the token field. */
function handleAuthError(err) {
  const text = describeAuthFailure(err.message);
  signOut(false);
  show('auth-message', text);
  $('token').focus();
}

function handleFailure(err, messageId) {
  if (err instanceof AuthError) return handleAuthError(err);
  show(messageId, err instanceof Error ? err.message : String(err));
}

// ---------------------------------------------------------------------------------------------
// Sign in

async function signIn(token) {
  state.token = token;
  show('auth-message', '');
  $('sign-in').disabled = true;
  try {
    const { me } = await gql(ME);
    state.viewer = me;
    sessionStorage.setItem(TOKEN_KEY, token);
    $('viewer').textContent = `Signed in as ${me.id} (${me.role.toLowerCase()}).`;
    $('sign-out').hidden = false;
    const canRequest = me.role === 'USER' || me.role === 'ADMIN';
    $('request-fields').disabled = !canRequest;
    show('request-message', canRequest ? '' : 'Your role can read reports but not request them.', 'info');
    $('refresh-list').disabled = false;
    $('list-heading').textContent = me.role === 'USER' ? 'Your reports' : 'All reports';
    openSocket();
    loadReports(true);
    const fromHash = location.hash.slice(1);
    if (UUID.test(fromHash)) follow(fromHash);
  } catch (err) {
    show('auth-message', err instanceof AuthError ? describeAuthFailure(err.message) : err.message);
    state.token = null;
    state.viewer = null;
    sessionStorage.removeItem(TOKEN_KEY);
    $('token').focus();
  } finally {
    $('sign-in').disabled = false;
  }
}

function signOut(clearField = true) {
  closeSocket();
  state.token = null;
  state.viewer = null;
  sessionStorage.removeItem(TOKEN_KEY);
  if (clearField) $('token').value = '';
  $('viewer').textContent = '';
  $('sign-out').hidden = true;
  $('request-fields').disabled = true;
  $('refresh-list').disabled = true;
  $('more').hidden = true;
  $('reports-table').hidden = true;
  $('reports-body').replaceChildren();
  $('report').hidden = true;
  state.reportId = null;
  state.report = null;
}

// ---------------------------------------------------------------------------------------------
// Request form: parameters built from a few fields, checked here as the server checks them

function templateChosen() {
  return /** @type {HTMLSelectElement} */ ($('template')).value;
}

function syncTemplate() {
  const table = templateChosen() === 'table';
  for (const [id, on] of [
    ['table-params', table],
    ['summary-params', !table],
  ]) {
    const fs = $(id);
    fs.hidden = !on;
    fs.disabled = !on;
  }
  clearFieldErrors();
}

const value = (id) => /** @type {HTMLInputElement} */ ($(id)).value.trim();

function tableParams() {
  const rows = Number(value('rows'));
  const currency = value('currency');
  const start = Date.UTC(2024, 0, 1);
  return {
    ...(value('subtitle') ? { subtitle: value('subtitle') } : {}),
    columns: [
      { label: 'Item', key: 'item' },
      { label: 'Quantity', key: 'quantity', format: 'number' },
      { label: 'Unit price', key: 'price', format: 'currency', currency },
      { label: 'Date', key: 'date', format: 'date' },
    ],
    rows: Array.from({ length: rows }, (_, i) => ({
      item: `Item ${i + 1}`,
      quantity: ((i * 7) % 13) + 1,
      price: Math.round(((i * 37) % 1000) + 99) / 10,
      date: new Date(start + i * 86_400_000).toISOString().slice(0, 10),
    })),
    totals: /** @type {HTMLInputElement} */ ($('totals')).checked ? ['quantity', 'price'] : false,
    locale: value('locale') || 'en-US',
    timeZone: value('time-zone') || 'UTC',
  };
}

function summaryParams() {
  const points = Number(value('points'));
  const values = Array.from({ length: points }, (_, i) => Math.round(1000 + 400 * Math.sin(i / 2) + 40 * i));
  const total = values.reduce((a, b) => a + b, 0);
  return {
    kpis: [
      { label: 'Total', value: total, unit: 'EUR', delta: 0.12 },
      { label: 'Average', value: Math.round(total / points), unit: 'EUR', delta: -0.03 },
      { label: 'Periods', value: points },
    ],
    series: {
      label: value('series-label'),
      points: values.map((v, i) => ({ label: `P${i + 1}`, value: v })),
    },
    locale: value('locale') || 'en-US',
  };
}

/** Field name (as in data-for) → the input it belongs to. */
const FIELD_INPUTS = { title: 'title', rows: 'rows', subtitle: 'subtitle', timeZone: 'time-zone', points: 'points', seriesLabel: 'series-label', locale: 'locale' };

function clearFieldErrors() {
  for (const el of document.querySelectorAll('.field-error')) {
    el.textContent = '';
    const input = FIELD_INPUTS[el.dataset.for];
    if (input) $(input).removeAttribute('aria-invalid');
  }
}

function fieldError(field, message) {
  const input = FIELD_INPUTS[field];
  const el = document.querySelector(`.field-error[data-for="${field}"]`);
  if (!input || !el) return false;
  el.textContent = el.textContent ? `${el.textContent}; ${message}` : message;
  $(input).setAttribute('aria-invalid', 'true');
  return true;
}

/** The constraints the server enforces on the fields this form has; returns [field, message][]. */
function checkFields() {
  const issues = [];
  const title = value('title');
  if (!title) issues.push(['title', 'a title is required']);
  else if (title.length > 200) issues.push(['title', 'at most 200 characters']);
  const locale = value('locale');
  if (locale.length > 35) issues.push(['locale', 'at most 35 characters']);
  if (templateChosen() === 'table') {
    const rows = value('rows');
    if (!/^\d+$/.test(rows) || Number(rows) > 10_000) issues.push(['rows', 'a whole number from 0 to 10,000']);
    if (value('subtitle').length > 500) issues.push(['subtitle', 'at most 500 characters']);
  } else {
    const points = value('points');
    if (!/^\d+$/.test(points) || Number(points) < 1 || Number(points) > 60) issues.push(['points', 'a whole number from 1 to 60']);
    const label = value('series-label');
    if (!label) issues.push(['seriesLabel', 'a chart label is required']);
    else if (label.length > 200) issues.push(['seriesLabel', 'at most 200 characters']);
  }
  return issues;
}

/** Server issue path (title, params.rows.3.date, …) → the form field it concerns, when there is one. */
function fieldOfPath(path) {
  if (path === 'title') return 'title';
  const [root, key] = path.split('.');
  if (root !== 'params') return null;
  return { rows: 'rows', subtitle: 'subtitle', timeZone: 'timeZone', locale: 'locale', series: 'seriesLabel', kpis: null, columns: null }[key] ?? null;
}

function issueList(title, issues) {
  const wrap = document.createElement('div');
  const p = document.createElement('p');
  p.textContent = title;
  const ul = document.createElement('ul');
  for (const { path, message } of issues) {
    const li = document.createElement('li');
    const code = document.createElement('code');
    code.textContent = path;
    li.append(code, `: ${message}`);
    ul.append(li);
  }
  wrap.append(p, ul);
  return wrap;
}

async function submitRequest(event) {
  event.preventDefault();
  clearFieldErrors();
  show('request-message', '');
  const local = checkFields();
  if (local.length > 0) {
    for (const [field, message] of local) fieldError(field, message);
    show('request-message', 'Please correct the highlighted fields.');
    $(FIELD_INPUTS[local[0][0]]).focus();
    return;
  }
  const template = templateChosen();
  const input = { template, title: value('title'), params: template === 'table' ? tableParams() : summaryParams() };
  if (new TextEncoder().encode(JSON.stringify(input.params)).length > MAX_PARAMS_BYTES) {
    fieldError('rows', 'these parameters are over 1 MiB: use fewer rows');
    show('request-message', 'Please correct the highlighted fields.');
    return;
  }
  const button = /** @type {HTMLButtonElement} */ ($('request'));
  button.disabled = true;
  button.textContent = 'Requesting…';
  try {
    const { requestReport: r } = await gql(REQUEST_REPORT, { input });
    switch (r.__typename) {
      case 'MutationRequestReportSuccess':
        show('request-message', `Requested “${r.data.title}”.`, 'ok');
        follow(r.data.reportId);
        loadReports(true);
        break;
      case 'InvalidParamsError': {
        for (const issue of r.issues) {
          const field = fieldOfPath(issue.path);
          if (field) fieldError(field, issue.message);
        }
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
        show('request-message', `${r.code ?? r.__typename}: ${r.message ?? 'the request failed'}`);
    }
  } catch (err) {
    handleFailure(err, 'request-message');
  } finally {
    button.disabled = false;
    button.textContent = 'Request report';
  }
}

// ---------------------------------------------------------------------------------------------
// Following one report

function stopFollowing() {
  state.stopStatus?.();
  state.stopStatus = null;
  stopProgress();
}

function stopProgress() {
  state.stopProgress?.();
  state.stopProgress = null;
  $('progress').hidden = true;
}

function follow(reportId) {
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
  $('download').disabled = true;
  show('download-message', '', 'info');
  $('report-heading').focus();

  state.stopStatus = subscribe(
    REPORT_STATUS,
    { id: reportId },
    ({ reportStatus }) => {
      if (state.reportId !== reportId) return;
      render(reportStatus);
    },
    (err) => {
      if (state.reportId !== reportId) return;
      subscriptionFailed(err);
    },
  );
}

async function subscriptionFailed(err) {
  if (Array.isArray(err)) {
    const message = err.map((e) => e.message).join('; ');
    if (/not found/i.test(message)) {
      $('status').textContent = 'Not found: no such report, or it is not yours.';
      $('status').dataset.status = 'FAILED';
    } else if (err.some((e) => e.extensions?.code === 'UNAUTHENTICATED')) {
      await recheckToken();
    } else {
      $('status').textContent = `Live updates failed: ${message}`;
    }
    return;
  }
  if (err && typeof err === 'object' && 'code' in err && FATAL_CLOSE.has(err.code)) {
    // 4403: the token was refused at connect (expired while the page was open, say).
    await recheckToken();
    return;
  }
  $('status').textContent = 'Live updates stopped. Reload the page to reconnect.';
}

/** After the socket refused the token: ask over HTTP for the exact reason, then sign out. */
async function recheckToken() {
  try {
    await gql(ME);
    $('status').textContent = 'Live updates were refused by the server.';
  } catch (err) {
    handleFailure(err, 'auth-message');
  }
}

const STATUS_TEXT = {
  REQUESTED: 'waiting to be rendered',
  RENDERED: 'rendered, being stored',
  STORED: 'ready to download',
  REPLICATED: 'ready to download from every region',
  FAILED: 'see the reason below',
};

const SOURCE_TEXT = {
  OBJECT_STORE: 'the object store',
  LOCAL_VOLUME: 'this region’s volume',
  REMOTE_VOLUME: 'another region’s volume',
};

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

function timeEl(iso, format = timeFormat) {
  const t = document.createElement('time');
  t.dateTime = iso;
  t.title = iso;
  t.textContent = format.format(new Date(iso));
  return t;
}

function formatBytes(n) {
  if (n == null) return '';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function elapsed(fromIso, toIso) {
  const ms = new Date(toIso).getTime() - new Date(fromIso).getTime();
  if (!(ms > 0)) return '';
  return ms < 1000 ? `+${ms} ms` : `+${(ms / 1000).toFixed(1)} s`;
}

/** One timeline entry per event of the report's own history. */
function timelineEntry(event, report, isLastFailure) {
  const location = (kind) => report.locations.find((l) => l.kind === kind);
  let status;
  let detail;
  switch (event.type) {
    case 'ReportRequested':
      status = 'REQUESTED';
      detail = `in ${event.metadata.region}${event.metadata.actor ? ` by ${event.metadata.actor}` : ''}`;
      break;
    case 'ReportRendered':
      status = 'RENDERED';
      detail = [report.pages != null ? `${report.pages} page${report.pages === 1 ? '' : 's'}` : '', formatBytes(report.bytes), `in ${event.metadata.region}`]
        .filter(Boolean)
        .join(', ');
      break;
    case 'ReportStoredLocal':
      status = 'STORED';
      detail = `on the volume in ${location('VOLUME')?.region ?? event.metadata.region}`;
      break;
    case 'ReportReplicated':
      status = 'REPLICATED';
      detail = `to the object store${location('OBJECT')?.bucket ? ` (${location('OBJECT').bucket})` : ''}, from ${event.metadata.region}`;
      break;
    case 'ReportMigrated':
      status = 'MIGRATED';
      detail = `from a legacy volume to the object store, in ${event.metadata.region}`;
      break;
    case 'ReportFailed':
      status = 'FAILED';
      detail = isLastFailure
        ? [
            report.failedStage ? `while trying to ${report.failedStage}` : '',
            report.lastError ? `: ${report.lastError}` : '',
            ` (attempt ${report.attempts}, in ${event.metadata.region})`,
          ].join('')
        : `in ${event.metadata.region}`;
      break;
    case 'ReportRetryRequested':
      status = 'RETRY';
      detail = `requested${event.metadata.actor ? ` by ${event.metadata.actor}` : ''}, in ${event.metadata.region}`;
      break;
    default:
      status = event.type;
      detail = `in ${event.metadata.region}`;
  }
  const li = document.createElement('li');
  li.className = `event status-${status.toLowerCase()}`;
  li.dataset.status = status;
  li.dataset.version = String(event.streamVersion);
  const badge = document.createElement('span');
  badge.className = 'badge';
  badge.textContent = status;
  const when = document.createElement('span');
  when.className = 'when';
  when.append(timeEl(event.recordedAt));
  const since = elapsed(report.requestedAt, event.recordedAt);
  if (since && status !== 'REQUESTED') when.append(` (${since})`);
  const what = document.createElement('span');
  what.className = 'what';
  what.textContent = detail;
  li.append(badge, ' ', when, ' ', what);
  // Auditors (and admins) see where each event sits in the stream's hash chain.
  if (state.viewer && state.viewer.role !== 'USER') {
    const chain = document.createElement('details');
    chain.className = 'chain';
    const summary = document.createElement('summary');
    summary.textContent = `v${event.streamVersion} hash ${event.hash.slice(0, 12)}…`;
    const dl = document.createElement('dl');
    fact(dl, 'hash', Object.assign(document.createElement('code'), { className: 'hash', textContent: event.hash }));
    fact(dl, 'previous', Object.assign(document.createElement('code'), { className: 'hash', textContent: event.prevHash }));
    chain.append(summary, dl);
    li.append(chain);
  }
  return li;
}

function fact(dl, term, content) {
  const dt = document.createElement('dt');
  dt.textContent = term;
  const dd = document.createElement('dd');
  dd.append(content);
  dl.append(dt, dd);
}

function render(report) {
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
  const failed = report.status === 'FAILED';
  $('failure').hidden = !failed;
  if (failed) {
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
  if (report.sha256) {
    const code = document.createElement('code');
    code.className = 'hash';
    code.textContent = report.sha256;
    fact(facts, 'SHA-256', code);
  }
  if (report.locations.length > 0) {
    fact(facts, 'Stored in', report.locations.map((l) => (l.kind === 'OBJECT' ? `object store${l.bucket ? ` ${l.bucket}` : ''}` : `volume in ${l.region}`)).join(' and '));
  }

  const download = /** @type {HTMLButtonElement} */ ($('download'));
  download.disabled = !report.downloadable.available;
  if (report.downloadable.available) {
    const where = SOURCE_TEXT[report.downloadable.source] ?? report.downloadable.source;
    show('download-message', `Will be served from ${where}${report.downloadable.region ? ` (${report.downloadable.region})` : ''}.`, 'info');
  } else if (report.status === 'STORED' || report.status === 'REPLICATED') {
    show('download-message', `Not downloadable from here right now: ${report.downloadable.reason}`, 'error');
  } else show('download-message', '', 'info');

  updateListRow(report);
}

function startProgress(reportId) {
  const bar = /** @type {HTMLProgressElement} */ ($('progress-bar'));
  state.stopProgress = subscribe(
    REPORT_PROGRESS,
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

async function download() {
  const report = state.report;
  if (!report) return;
  const button = /** @type {HTMLButtonElement} */ ($('download'));
  button.disabled = true;
  show('download-message', 'Preparing a download link…', 'info');
  try {
    const { createDownloadUrl: r } = await gql(CREATE_DOWNLOAD_URL, { reportId: report.reportId });
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
    button.disabled = !state.report?.downloadable.available;
  }
}

async function retry() {
  const report = state.report;
  if (!report) return;
  const button = /** @type {HTMLButtonElement} */ ($('retry'));
  button.disabled = true;
  try {
    const { retryReport: r } = await gql(RETRY_REPORT, { id: report.reportId });
    if (r.__typename === 'MutationRetryReportSuccess') show('download-message', 'Retry requested: the report is back in the queue.', 'ok');
    else if (r.__typename === 'NotRetryableError') show('download-message', `Cannot retry a report that is ${r.status}.`);
    else show('download-message', `${r.code}: ${r.message}`);
  } catch (err) {
    handleFailure(err, 'download-message');
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------------------------------------
// The viewer's reports (relay pagination, newest first)

function statusBadge(status) {
  const span = document.createElement('span');
  span.className = `badge status-${status.toLowerCase()}`;
  span.textContent = status;
  return span;
}

function listRow(node) {
  const tr = document.createElement('tr');
  tr.dataset.reportId = node.reportId;
  const title = document.createElement('td');
  const open = document.createElement('button');
  open.type = 'button';
  open.className = 'link';
  open.textContent = node.title;
  open.addEventListener('click', () => follow(node.reportId));
  title.append(open);
  const template = document.createElement('td');
  template.textContent = node.template;
  const status = document.createElement('td');
  status.className = 'status-cell';
  status.append(statusBadge(node.status));
  const when = document.createElement('td');
  when.append(timeEl(node.requestedAt, dateTimeFormat));
  tr.append(title, template, status, when);
  return tr;
}

function updateListRow(report) {
  const cell = document.querySelector(`tr[data-report-id="${report.reportId}"] .status-cell`);
  cell?.replaceChildren(statusBadge(report.status));
}

async function loadReports(reset) {
  if (!state.token) return;
  if (reset) state.cursor = null;
  try {
    const { reports } = await gql(REPORTS, { first: PAGE_SIZE, after: state.cursor });
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
// Wiring

function start() {
  $('auth-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const token = value('token').replace(/^bearer\s+/i, '');
    if (!token) {
      show('auth-message', 'Paste a bearer token first.');
      $('token').focus();
      return;
    }
    signIn(token);
  });
  $('sign-out').addEventListener('click', () => {
    signOut();
    show('auth-message', 'Token forgotten.', 'info');
  });
  $('template').addEventListener('change', syncTemplate);
  $('request-form').addEventListener('submit', submitRequest);
  $('download').addEventListener('click', download);
  $('retry').addEventListener('click', retry);
  $('refresh-list').addEventListener('click', () => loadReports(true));
  $('more').addEventListener('click', () => loadReports(false));
  window.addEventListener('hashchange', () => {
    const id = location.hash.slice(1);
    if (state.token && UUID.test(id) && id !== state.reportId) follow(id);
  });
  syncTemplate();
  document.body.dataset.ready = 'true';

  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) {
    /** @type {HTMLInputElement} */ ($('token')).value = saved;
    signIn(saved);
  }
}

start();
