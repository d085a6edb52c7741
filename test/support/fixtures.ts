import { randomUUID } from 'node:crypto';
import type { NewEvent } from '../../src/events/append.js';

export function newReportStream(): { reportId: string; streamId: string } {
  const reportId = randomUUID();
  return { reportId, streamId: `report-${reportId}` };
}

export function requested(reportId: string, owner = 'user-1'): NewEvent {
  return {
    type: 'ReportRequested',
    data: { reportId, template: 'table', title: 'Quarterly revenue', params: { rows: 3 }, owner },
  };
}

export function failed(attempt: number): NewEvent {
  return { type: 'ReportFailed', data: { stage: 'render', error: 'boom', attempt, retryAt: null } };
}
