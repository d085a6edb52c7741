/**
 * Render progress travels as a NOTIFY payload on `quire_progress`: `<report id>:<fraction>`. The
 * notifier coalesces bursts, so one payload may carry several, comma-joined, or `*` (too many to
 * name: none is carried). Written and read only here.
 */
export interface ProgressStep {
  readonly reportId: string;
  /** 0..1 */
  readonly fraction: number;
}

export function formatProgress(reportId: string, fraction: number): string {
  return `${reportId}:${fraction.toFixed(3)}`;
}

/** Every well-formed step in a payload; anything else (`*`, a torn item) is dropped. */
export function parseProgress(payload: string): ProgressStep[] {
  const steps: ProgressStep[] = [];
  for (const item of payload.split(',')) {
    const [reportId, fraction, extra] = item.split(':');
    const value = Number(fraction);
    if (reportId && fraction && extra === undefined && Number.isFinite(value) && value >= 0 && value <= 1) steps.push({ reportId, fraction: value });
  }
  return steps;
}
