import type { Actor } from '../../actor.js';
import { builder } from './builder.js';
import { ROLE } from './enums.js';

const ViewerRef = builder.objectRef<Actor>('Viewer').implement({
  description: 'Who the bearer token says you are.',
  fields: (t) => ({
    id: t.exposeString('id'),
    role: t.field({ type: ROLE, resolve: (a) => a.role }),
  }),
});

builder.queryField('me', (t) => t.field({ type: ViewerRef, resolve: (_, __, ctx) => ctx.actor }));
