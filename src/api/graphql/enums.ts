import { REPORT_STATUSES } from '../../reports/report-state.js';
import { builder } from './builder.js';

export const REPORT_STATUS = builder.enumType('ReportStatus', { values: REPORT_STATUSES });

export const LOCATION_KIND = builder.enumType('LocationKind', { values: { VOLUME: { value: 'volume' }, OBJECT: { value: 'object' } } as const });

export const DOWNLOAD_SOURCE = builder.enumType('DownloadSource', {
  values: ['OBJECT_STORE', 'LOCAL_VOLUME', 'REMOTE_VOLUME'] as const,
});

export const ROLE = builder.enumType('Role', { values: { USER: { value: 'user' }, AUDITOR: { value: 'auditor' }, ADMIN: { value: 'admin' } } as const });
