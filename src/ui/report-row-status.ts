// A report's status as the list shows it: the badge, and updating the row of a report whose status
// changed (the timeline updates it too, as soon as it hears, without waiting for the list's feed),
// and its title once erased.
import { el } from './dom';
import type { Report } from './state';

export function statusBadge(status: string): HTMLElement {
  return el('span', { className: `badge status-${status.toLowerCase()}` }, status);
}

export function updateListRow(report: Pick<Report, 'reportId' | 'status' | 'title'>): void {
  const row = document.querySelector(`tr[data-report-id="${CSS.escape(report.reportId)}"]`);
  row?.querySelector('.status-cell')?.replaceChildren(statusBadge(report.status));
  // The title changes once: to [erased] when its personal data is erased.
  const open = row?.querySelector('button.link');
  if (open && open.textContent !== report.title) open.textContent = report.title;
}
