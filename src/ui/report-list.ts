// "Your reports" (all reports for auditors and admins): relay pagination, newest first, kept live
// by one subscription (viewerReports) for every row.
import { $, dateTimeFormat, el, show, timeEl } from './dom';
import { UiReportsDocument, UiViewerReportsDocument, type UiReportsQuery } from './gql/graphql';
import { handleFailure, recheckToken } from './auth';
import { socket } from './connection';
import { follow } from './report-timeline';
import { statusBadge, updateListRow } from './report-row-status';
import { call, state } from './state';
import { isFatalClose, subscribe } from './transport';

const PAGE_SIZE = 10;

function listRow(node: UiReportsQuery['reports']['edges'][number]['node']): HTMLElement {
  const open = el('button', { type: 'button', className: 'link' }, node.title);
  open.addEventListener('click', () => follow(node.reportId));
  const tr = el('tr', {}, el('td', {}, open), el('td', {}, node.template), el('td', { className: 'status-cell' }, statusBadge(node.status)), el('td', {}, timeEl(node.requestedAt, dateTimeFormat)));
  tr.dataset.reportId = node.reportId;
  return tr;
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
export function followList(): void {
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

export async function loadReports(reset: boolean): Promise<void> {
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
