import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/**
 * graphql-js parses recursively: a document nested a few thousand levels deep (`{ me { me { …`,
 * or a deep input literal) overflows the stack before any token or depth limit is counted. This
 * scan is iterative and runs before the parser, on every transport (graphql-ws parses through
 * the same envelop): deeper than `max` brackets of any kind is refused as a syntax error.
 * Returns the depth found past `max`, or null when within it.
 */
export function documentNesting(source: string, max: number): number | null {
  let depth = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '#') {
      while (i < source.length && source[i] !== '\n' && source[i] !== '\r') i++;
    } else if (c === '"') {
      if (source.startsWith('"""', i)) {
        const end = source.indexOf('"""', i + 3);
        // Escaped triple quotes (\""") do not end a block string.
        let close = end;
        while (close > 0 && source[close - 1] === '\\') close = source.indexOf('"""', close + 3);
        if (close < 0) return null; // unterminated: the parser will say so
        i = close + 2;
      } else {
        for (i++; i < source.length && source[i] !== '"' && source[i] !== '\n'; i++) if (source[i] === '\\') i++;
      }
    } else if (c === '{' || c === '[' || c === '(') {
      if (++depth > max) return depth;
    } else if (c === '}' || c === ']' || c === ')') {
      depth--;
    }
  }
  return null;
}

export const MAX_DOCUMENT_NESTING = 64;

/** Register after graphql-armor: its token limit replaces the parse function, and this wraps whatever parse is current. */
export function useDocumentNestingLimit(max = MAX_DOCUMENT_NESTING): Plugin {
  return {
    onParse: ({ parseFn, setParseFn }) => {
      setParseFn((source, options) => {
        const text = typeof source === 'string' ? source : source.body;
        if (documentNesting(text, max) !== null) {
          throw new GraphQLError(`Syntax Error: the document nests brackets more than ${max} deep`, { extensions: { code: 'GRAPHQL_PARSE_FAILED' } });
        }
        return parseFn(source, options);
      });
    },
  };
}
