import type { Kysely } from 'kysely';
import type { Database } from '../database/schema.js';
import { findChainBreak, type ChainBreak, type HashedFields } from './hash-chain.js';

export interface ChainReport {
  streams: number;
  events: number;
  breaks: ChainBreak[];
}

/**
 * Recomputes every stream's hash chain from the stored rows (not upcast: the hash covers what was
 * written). Reads stream by stream, `pageSize` streams at a time, so memory stays bounded.
 */
export async function verifyAllStreams(db: Kysely<Database>, pageSize = 200): Promise<ChainReport> {
  const report: ChainReport = { streams: 0, events: 0, breaks: [] };
  let afterStream = '';
  for (;;) {
    const streams = await db
      .selectFrom('events')
      .select('stream_id')
      .distinct()
      .where('stream_id', '>', afterStream)
      .orderBy('stream_id')
      .limit(pageSize)
      .execute();
    if (streams.length === 0) return report;
    const ids = streams.map((s) => s.stream_id);
    const rows = await db
      .selectFrom('events')
      .select(['event_id', 'stream_id', 'stream_version', 'type', 'schema_version', 'data', 'metadata', 'recorded_at', 'prev_hash', 'hash'])
      .where('stream_id', 'in', ids)
      .orderBy('stream_id')
      .orderBy('stream_version')
      .execute();
    const byStream = new Map<string, Array<HashedFields & { prevHash: string; hash: string }>>();
    for (const r of rows) {
      let list = byStream.get(r.stream_id);
      if (!list) byStream.set(r.stream_id, (list = []));
      list.push({
        eventId: r.event_id,
        streamId: r.stream_id,
        streamVersion: r.stream_version,
        type: r.type,
        schemaVersion: r.schema_version,
        data: r.data,
        metadata: r.metadata,
        recordedAt: new Date(r.recorded_at),
        prevHash: r.prev_hash,
        hash: r.hash,
      });
    }
    for (const list of byStream.values()) {
      const broken = findChainBreak(list);
      if (broken) report.breaks.push(broken);
      report.streams++;
      report.events += list.length;
    }
    afterStream = ids.at(-1)!;
  }
}
