import SchemaBuilder from '@pothos/core';
import DataloaderPlugin from '@pothos/plugin-dataloader';
import ErrorsPlugin from '@pothos/plugin-errors';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import ValidationPlugin from '@pothos/plugin-validation';
import { DateTimeResolver, JSONResolver } from 'graphql-scalars';
import { ForbiddenError, mayChange } from '../../actor.js';
import type { GraphQLContext } from './context.js';

/**
 * The one schema builder. Errors are listed before scope-auth so that a refused scope surfaces as
 * a typed ForbiddenError result on fields that declare it.
 */
export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  AuthScopes: { reader: boolean; mutator: boolean; auditor: boolean; admin: boolean };
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    JSON: { Input: unknown; Output: unknown };
  };
  DefaultFieldNullability: false;
  DefaultInputFieldRequiredness: true;
}>({
  defaultFieldNullability: false,
  defaultInputFieldRequiredness: true,
  plugins: [ErrorsPlugin, ScopeAuthPlugin, ValidationPlugin, RelayPlugin, DataloaderPlugin],
  scopeAuth: {
    // A subscription is authorised once, when it is opened: a refused one never starts streaming.
    authorizeOnSubscribe: true,
    authScopes: (ctx) => ({
      reader: true,
      // Auditors read everything and change nothing.
      mutator: mayChange(ctx.actor),
      auditor: ctx.actor.role === 'auditor' || ctx.actor.role === 'admin',
      admin: ctx.actor.role === 'admin',
    }),
    unauthorizedError: () => new ForbiddenError('your role does not allow this'),
  },
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
  },
  errors: { defaultTypes: [] },
});

builder.addScalarType('DateTime', DateTimeResolver);
builder.addScalarType('JSON', JSONResolver);

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});
