// A report's status as the list shows it: the badge, and updating the row of a report whose status
// changed (the timeline updates it too, as soon as it hears, without waiting for the list's feed).
import { el } from './dom';
import type { Report } from './state';

export function statusBadge(status: string): HTMLElement {
  return el('span', { className: `badge status-${status.toLowerCase()}` }, status);
}

export function updateListRow(report: Pick<Report, 'reportId' | 'status'>): void {
  const cell = document.querySelector(`tr[data-report-id="${CSS.escape(report.reportId)}"] .status-cell`);
  cell?.replaceChildren(statusBadge(report.status));
}
