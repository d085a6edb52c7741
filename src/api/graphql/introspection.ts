import { NoSchemaIntrospectionCustomRule } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/**
 * Introspection off on every transport. @graphql-yoga/plugin-disable-introspection decides per
 * HTTP request (onRequestParse), which graphql-ws traffic never goes through: over a WebSocket the
 * schema stayed introspectable. A validation rule holds wherever operations are validated.
 */
export function useNoIntrospection(): Plugin {
  return { onValidate: ({ addValidationRule }) => addValidationRule(NoSchemaIntrospectionCustomRule) };
}
