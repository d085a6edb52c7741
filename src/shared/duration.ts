// ISO-8601 durations for retention (retainFor, RETENTION_DEFAULT, RETENTION_MAX): weeks, days,
// hours, minutes and seconds — P30D, PT12H, P1W2D, PT90S. Years and months are refused: their
// length depends on the calendar, and an expiry must mean one instant. Imports nothing (the page
// bundles it).

const DURATION = /^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/;

/** What a retention duration may be, as people read it (error messages). */
export const DURATION_HINT = 'an ISO-8601 duration of weeks, days, hours, minutes and seconds, e.g. P30D, PT12H, PT90S';

/** The duration in whole seconds, or null when it is not one (or is zero). */
export function parseDurationSeconds(text: string): number | null {
  const m = DURATION.exec(text);
  if (!m || text === 'P' || text.endsWith('T')) return null;
  const [w, d, h, min, s] = m.slice(1).map((v) => (v === undefined ? 0 : Number(v))) as [number, number, number, number, number];
  const seconds = (((w * 7 + d) * 24 + h) * 60 + min) * 60 + s;
  return Number.isSafeInteger(seconds) && seconds > 0 ? seconds : null;
}

/** Seconds as the shortest duration that says them: 2592000 → P30D, 90 → PT1M30S. */
export function formatDuration(seconds: number): string {
  const d = Math.floor(seconds / 86_400);
  const h = Math.floor((seconds % 86_400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const time = `${h ? `${h}H` : ''}${m ? `${m}M` : ''}${s ? `${s}S` : ''}`;
  return `P${d ? `${d}D` : ''}${time ? `T${time}` : ''}` || 'PT0S';
}
