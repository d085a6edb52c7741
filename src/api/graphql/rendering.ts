import { readStreams } from '../../events/read.js';
import type { EventData } from '../../events/types.js';
import { builder } from './builder.js';
import { ReportRef } from './reports.js';

type Rendered = EventData<'ReportRendered'>;

const RenderingRef = builder.objectRef<Rendered>('Rendering').implement({
  description: 'How the report’s file was rendered, as its ReportRendered event recorded it.',
  fields: (t) => ({
    rendererVersion: t.exposeString('rendererVersion'),
    locale: t.exposeString('locale', { nullable: true, description: 'The locale of its labels, numbers and dates (null for templates without one).' }),
    renderMs: t.exposeFloat('renderMs'),
    missingGlyphs: t.stringList({
      description: 'Characters no shipped font could draw (as U+XXXX), printed as U+FFFD: empty when every character was drawn.',
      resolve: (r) => r.missingGlyphs ?? [],
    }),
    warnings: t.stringList({
      description: 'What a reader of the PDF should know about it: empty when nothing.',
      resolve: (r) => (r.missingGlyphs?.length ? [`${r.missingGlyphs.length} character(s) no font could draw, shown as U+FFFD: ${r.missingGlyphs.slice(0, 20).join(' ')}`] : []),
    }),
  }),
});

builder.objectField(ReportRef, 'rendering', (t) =>
  t.loadable({
    type: RenderingRef,
    nullable: true,
    description: 'The latest render of this report (null before the first one).',
    // Keyed by version, as `history` is: a subscription's loader must not answer from an older state.
    load: async (keys: string[], ctx) => {
      const byStream = await readStreams(ctx.runtime.store.db, [...new Set(keys.map((k) => k.split('@')[0]!))]);
      return keys.map((key) => {
        const [streamId, version] = key.split('@') as [string, string];
        const rendered = (byStream.get(streamId) ?? []).filter((e) => e.type === 'ReportRendered' && e.streamVersion <= Number(version)).at(-1);
        return rendered ? (rendered.data as Rendered) : null;
      });
    },
    resolve: (r) => `${r.streamId}@${r.version}`,
  }),
);
