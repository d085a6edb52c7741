import { v5 as uuidv5 } from 'uuid';
import { z } from 'zod';

/** One row of the legacy application's reports table, whatever its source. */
export interface LegacyRow {
  legacyId: string;
  owner: string;
  title: string;
  filePath: string;
  createdAt: Date;
}

/** A fixed namespace: the same legacy id always becomes the same report id, in every instance. */
const LEGACY_NAMESPACE = '5d3c1b9e-8f52-4c0f-9a43-6a1f0e7b2c11';

export function legacyReportId(legacyId: string): string {
  return uuidv5(`legacy-report:${legacyId}`, LEGACY_NAMESPACE);
}

/** Validates a raw row (from SQL, NDJSON or CSV); strings only, so ids of any type compare equal. */
export const LegacyRowSchema = z
  .object({
    id: z.union([z.string(), z.number(), z.bigint()]).transform(String).pipe(z.string().min(1).max(200)),
    owner: z.union([z.string(), z.number(), z.bigint()]).transform(String).pipe(z.string().min(1).max(200)),
    title: z.string().trim().min(1).max(500),
    file_path: z.string().min(1).max(1024),
    created_at: z.union([z.date(), z.string()]).transform((v, ctx) => {
      const date = v instanceof Date ? v : new Date(v);
      if (Number.isNaN(date.getTime())) {
        ctx.addIssue({ code: 'custom', message: 'not a date' });
        return z.NEVER;
      }
      return date;
    }),
  })
  .transform(
    (r): LegacyRow => ({ legacyId: r.id, owner: r.owner, title: r.title, filePath: r.file_path, createdAt: r.created_at }),
  );

/**
 * Where a legacy file lives on this region's volume: its file_path without the old mount prefix.
 * Null when the path is outside the prefix or not a safe relative key (it is then a finding).
 */
export function volumeKeyFor(filePath: string, prefix: string): string | null {
  if (!filePath.startsWith(prefix)) return null;
  const key = filePath.slice(prefix.length).replace(/^\/+/, '');
  if (!/^[A-Za-z0-9][A-Za-z0-9._/-]*$/.test(key) || key.length > 512) return null;
  if (key.split('/').some((part) => part === '..' || part === '.' || part === '')) return null;
  return key;
}
