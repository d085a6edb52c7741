import { z } from 'zod';
import { templateNames, templates } from '../../reports/templates/registry.js';
import { MAX_PARAMS_BYTES } from '../../shared/report-input.js';
import { builder } from './builder.js';

interface TemplateInfo {
  name: string;
  description: string;
  /** JSON Schema (draft 2020-12) of the params, generated from the same zod schema the server validates with. */
  paramsSchema: unknown;
}

// Computed once: the schemas are static.
const TEMPLATE_INFO: TemplateInfo[] = templateNames.map((name) => ({
  name,
  description: templates[name].description,
  paramsSchema: z.toJSONSchema(templates[name].params, { io: 'input', unrepresentable: 'any' }),
}));

const TemplateRef = builder.objectRef<TemplateInfo>('Template').implement({
  description: 'A report template: clients build their forms (and validate) from paramsSchema.',
  fields: (t) => ({
    name: t.exposeString('name'),
    description: t.exposeString('description'),
    paramsSchema: t.field({ type: 'JSON', resolve: (tpl) => tpl.paramsSchema }),
  }),
});

builder.queryField('templates', (t) =>
  t.field({ type: [TemplateRef], description: `The templates requestReport accepts (params at most ${MAX_PARAMS_BYTES} bytes as JSON).`, resolve: () => TEMPLATE_INFO }),
);
