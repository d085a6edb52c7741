import type { Kysely } from 'kysely';
import { firstHeldBackEvent } from '../events/safe-read.js';
import type { Database } from '../database/schema.js';
import type { ScrapeSources } from '../metrics.js';
import { LEGACY_TEMPLATE } from '../reports/report-state.js';

/** The counts /metrics reads at scrape time, from the projections and the seals. */
export function scrapeSources(db: Kysely<Database>): ScrapeSources {
  return {
    async reports() {
      const rows = await db.selectFrom('report_status').select(['status', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('status').execute();
      return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
    },
    async queueDepth() {
      const rows = await db
        .selectFrom('report_status')
        .select((eb) => [
          eb.fn.countAll<number>().filterWhere('status', '=', 'REQUESTED').as('render'),
          eb.fn.countAll<number>().filterWhere((w) => w.and([w('status', '=', 'STORED'), w('template', '<>', LEGACY_TEMPLATE)])).as('replicate'),
          eb.fn.countAll<number>().filterWhere((w) => w.and([w('status', '=', 'STORED'), w('template', '=', LEGACY_TEMPLATE)])).as('migrate'),
        ])
        .executeTakeFirstOrThrow();
      return { render: Number(rows.render), replicate: Number(rows.replicate), migrate: Number(rows.migrate) };
    },
    async lastSealAt() {
      const row = await db.selectFrom('log_seals').select((eb) => eb.fn.max('sealed_at').as('at')).executeTakeFirst();
      return row?.at ? new Date(row.at) : null;
    },
    async oldestHeldBackEventAt() {
      const row = await firstHeldBackEvent(db).select('recorded_at').executeTakeFirst();
      return row ? new Date(row.recorded_at) : null;
    },
  };
}
