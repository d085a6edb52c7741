// The subset of JSON Schema (draft 2020-12) the server's zod schemas produce for template params,
// validated in the page exactly as the server will (test/ui/json-schema.test.ts compares the two).
// No DOM and no imports: the tests import it too.

export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  enum?: unknown[];
  default?: unknown;
  description?: string;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minItems?: number;
  maxItems?: number;
  format?: string;
}

export interface Issue {
  path: string;
  message: string;
}

// ---------------------------------------------------------------------------------------------
// Validation: the subset of JSON Schema the server's zod schemas produce

const count = (n: number, one: string, many = `${one}s`) => `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function typeMatches(expected: string, value: unknown): boolean {
  const actual = typeOf(value);
  return expected === actual || (expected === 'number' && actual === 'integer');
}

/** Issues of `value` against `schema`, with dotted paths under `path` (as the server reports them). */
export function validate(schema: JsonSchema, value: unknown, path: string): Issue[] {
  if (schema.anyOf) {
    const branches = schema.anyOf.map((s) => validate(s, value, path));
    if (branches.some((b) => b.length === 0)) return [];
    // Report the branch whose type matches, when there is one.
    const typed = schema.anyOf.findIndex((s) => s.type === undefined || [s.type].flat().some((t) => typeMatches(t, value)));
    return typed >= 0 ? branches[typed]! : [{ path, message: 'not an accepted kind of value' }];
  }
  const issues: Issue[] = [];
  const types = schema.type === undefined ? [] : [schema.type].flat();
  if (types.length > 0 && !types.some((t) => typeMatches(t, value))) {
    const expected = types.map((t) => ({ integer: 'a whole number', number: 'a number', string: 'text', boolean: 'yes or no', array: 'a list', object: 'an object', null: 'empty' })[t] ?? t);
    return [{ path, message: `expected ${expected.join(' or ')}` }];
  }
  if (schema.enum && !schema.enum.includes(value)) issues.push({ path, message: `one of ${schema.enum.join(', ')}` });
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength) issues.push({ path, message: schema.minLength === 1 ? 'required' : `at least ${count(schema.minLength, 'character')}` });
    if (schema.maxLength !== undefined && value.length > schema.maxLength) issues.push({ path, message: `at most ${count(schema.maxLength, 'character')}` });
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value)) issues.push({ path, message: `does not have the expected form (${schema.pattern})` });
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) issues.push({ path, message: 'a finite number' });
    if (schema.minimum !== undefined && value < schema.minimum) issues.push({ path, message: `at least ${schema.minimum}` });
    if (schema.maximum !== undefined && value > schema.maximum) issues.push({ path, message: `at most ${schema.maximum}` });
    if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum) issues.push({ path, message: `more than ${schema.exclusiveMinimum}` });
    if (schema.exclusiveMaximum !== undefined && value >= schema.exclusiveMaximum) issues.push({ path, message: `less than ${schema.exclusiveMaximum}` });
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) issues.push({ path, message: `at least ${count(schema.minItems, 'item')}` });
    if (schema.maxItems !== undefined && value.length > schema.maxItems) issues.push({ path, message: `at most ${count(schema.maxItems, 'item')}` });
    if (schema.items) value.forEach((item, i) => issues.push(...validate(schema.items!, item, `${path}.${i}`)));
  }
  if (typeOf(value) === 'object') {
    const obj = value as Record<string, unknown>;
    for (const key of schema.required ?? []) if (obj[key] === undefined) issues.push({ path: `${path}.${key}`, message: 'required' });
    for (const [key, v] of Object.entries(obj)) {
      if (v === undefined) continue;
      const sub = schema.properties?.[key] ?? (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
      if (sub) issues.push(...validate(sub, v, `${path}.${key}`));
      else if (schema.additionalProperties === false) issues.push({ path: `${path}.${key}`, message: 'not a known field' });
    }
  }
  return issues;
}

/** RFC 4180-ish: quoted fields with "" escapes, commas and newlines inside quotes. */
export function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') record.push(field), (field = '');
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      record.push(field);
      records.push(record);
      record = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || record.length > 0) record.push(field), records.push(record);
  return records.filter((r) => !(r.length === 1 && r[0] === ''));
}

