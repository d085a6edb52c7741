// The request form, generated from a template's params JSON Schema (draft 2020-12, produced by the
// server from the zod schema it validates with: `query { templates { paramsSchema } }`), and a
// validator for the same subset of JSON Schema, so the page refuses what the server would refuse
// before sending anything. Supported: objects (nested fieldsets), strings (enum → select,
// minLength/maxLength/pattern), numbers/integers (minimum/maximum), booleans, anyOf (boolean first),
// arrays of objects with fixed properties (repeatable fieldsets with add/remove, minItems/maxItems)
// and arrays of open-ended objects (`rows`: sample rows generated from the columns, or CSV / JSON).
// Anything else falls back to a JSON text area.
import { MAX_PARAMS_TEXT } from '../shared/report-input';
import { el } from './dom';
import { parseCsv, validate, type Issue, type JsonSchema } from './json-schema';

export type { Issue, JsonSchema };

// ---------------------------------------------------------------------------------------------
// Labels

const LABELS: Record<string, string> = {
  kpis: 'KPIs',
  timeZone: 'Time zone',
  reportId: 'Report ID',
  series: 'Chart series',
  points: 'Bars',
  totals: 'Totals row',
};
const SINGULAR: Record<string, string> = { kpis: 'KPI', columns: 'Column', points: 'Bar' };
const HINTS: Record<string, string> = {
  locale: 'A BCP 47 tag such as en-GB or de-DE: numbers and dates are formatted for it.',
  timeZone: 'An IANA time zone such as UTC or Europe/Paris, for date columns.',
  currency: 'ISO 4217 code in capitals, e.g. EUR.',
  delta: 'Change as a fraction: 0.12 is +12 %.',
  key: 'The name of this column’s value in each row.',
  totals: 'Tick the number and currency columns to sum (not unit prices); none: no totals row.',
};

function humanize(key: string): string {
  if (LABELS[key]) return LABELS[key];
  const words = key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

const singular = (key: string) => SINGULAR[key] ?? humanize(key).replace(/s$/, '');

/** `params.columns.0.label` → `param-columns-0-label`: ids of the generated controls. */
export const idOf = (path: string) => path.replace(/^params\b/, 'param').replace(/[^A-Za-z0-9_-]+/g, '-');

// ---------------------------------------------------------------------------------------------
// Controls

interface Node {
  /** The value for this part of the params; undefined leaves the key out. */
  collect(): unknown;
}

/** A labelled control with its hint and its error line (which errors at its path land in). */
function fieldShell(path: string, labelText: string, required: boolean, hint: string | undefined, control: HTMLElement, check = false): HTMLElement {
  const id = idOf(path);
  control.id = id;
  control.dataset.path = path;
  const described = [hint ? `${id}-hint` : '', `${id}-error`].filter(Boolean).join(' ');
  control.setAttribute('aria-describedby', described);
  const label = el('label', { htmlFor: id }, labelText);
  if (!required && !check) label.append(' ', el('span', { className: 'optional' }, '(optional)'));
  const error = el('p', { id: `${id}-error`, className: 'field-error' });
  error.dataset.path = path;
  const parts: Array<HTMLElement> = check ? [control, label] : [label, control];
  if (hint) parts.push(el('p', { id: `${id}-hint`, className: 'hint' }, hint));
  parts.push(error);
  return el('div', { className: check ? 'field check' : 'field' }, ...parts);
}

function hintFor(key: string, schema: JsonSchema): string | undefined {
  const parts = [schema.description ?? HINTS[key]];
  if (schema.type === 'number' || schema.type === 'integer') {
    if (schema.minimum !== undefined && schema.maximum !== undefined) parts.push(`${schema.minimum} to ${schema.maximum}.`);
  }
  return parts.filter(Boolean).join(' ') || undefined;
}

function scalarBranch(schema: JsonSchema): JsonSchema {
  if (!schema.anyOf) return schema;
  return schema.anyOf.find((s) => s.type === 'boolean') ?? schema.anyOf.find((s) => s.type === 'string' || s.type === 'number' || s.type === 'integer') ?? schema;
}

function scalarNode(key: string, path: string, schema: JsonSchema, required: boolean, initial: unknown, into: HTMLElement): Node | null {
  const s = scalarBranch(schema);
  const start = initial ?? schema.default ?? s.default;
  const label = humanize(key);
  if (s.type === 'boolean') {
    const input = el('input', { type: 'checkbox', name: key, checked: start === true });
    into.append(fieldShell(path, label, required, hintFor(key, s), input, true));
    return { collect: () => input.checked };
  }
  if (s.type === 'string' && s.enum) {
    const select = el('select', { name: key });
    if (!required && s.default === undefined) select.append(el('option', { value: '' }, '—'));
    for (const v of s.enum) select.append(el('option', { value: String(v) }, String(v)));
    select.value = start === undefined ? (select.options[0]?.value ?? '') : String(start);
    into.append(fieldShell(path, label, required, hintFor(key, s), select));
    return { collect: () => (select.value === '' && !required ? undefined : select.value) };
  }
  if (s.type === 'string') {
    const input = el('input', { type: 'text', name: key, spellcheck: false, value: start === undefined ? '' : String(start) });
    if (s.maxLength !== undefined) input.maxLength = s.maxLength;
    if (s.minLength) input.required = true;
    if (s.pattern) input.pattern = s.pattern;
    into.append(fieldShell(path, label, required, hintFor(key, s), input));
    return { collect: () => (input.value.trim() === '' && !required ? undefined : input.value.trim()) };
  }
  if (s.type === 'number' || s.type === 'integer') {
    const input = el('input', { type: 'number', name: key, value: start === undefined ? '' : String(start) });
    input.inputMode = s.type === 'integer' ? 'numeric' : 'decimal';
    input.step = s.type === 'integer' ? '1' : 'any';
    if (s.minimum !== undefined) input.min = String(s.minimum);
    if (s.maximum !== undefined) input.max = String(s.maximum);
    if (required) input.required = true;
    into.append(fieldShell(path, label, required, hintFor(key, s), input));
    // An empty box is "left out"; text the browser cannot read as a number stays text, and fails.
    return { collect: () => (input.value === '' ? (input.validity.badInput ? new Unreadable('a number') : undefined) : Number(input.value)) };
  }
  return null;
}

/** Anything the generator has no control for: the value as JSON. */
function jsonNode(key: string, path: string, required: boolean, initial: unknown, into: HTMLElement): Node {
  const area = el('textarea', { name: key, rows: 3, spellcheck: false, value: initial === undefined ? '' : JSON.stringify(initial) });
  into.append(fieldShell(path, `${humanize(key)} (JSON)`, required, undefined, area));
  return {
    collect: () => {
      if (area.value.trim() === '') return undefined;
      try {
        return JSON.parse(area.value);
      } catch {
        return new Unreadable('not valid JSON');
      }
    },
  };
}

function isOpenObject(schema: JsonSchema | undefined): boolean {
  return !!schema && schema.type === 'object' && !schema.properties && typeof schema.additionalProperties === 'object';
}

function isFixedObject(schema: JsonSchema | undefined): boolean {
  return !!schema && schema.type === 'object' && !!schema.properties;
}

/** An array of objects with known fields: one fieldset per item, add and remove. */
function repeatNode(key: string, path: string, schema: JsonSchema, required: boolean, initial: unknown, into: HTMLElement): Node {
  const items = schema.items!;
  const min = schema.minItems ?? 0;
  const max = schema.maxItems ?? Number.POSITIVE_INFINITY;
  const id = idOf(path);
  const list = el('div', { className: 'repeat-items' });
  const add = el('button', { type: 'button', className: 'secondary' }, `Add ${singular(key).toLowerCase()}`);
  const error = el('p', { id: `${id}-error`, className: 'field-error' });
  error.dataset.path = path;
  const legend = el('legend', {}, humanize(key));
  if (!required) legend.append(' ', el('span', { className: 'optional' }, '(optional)'));
  const box = el('fieldset', { id, className: 'repeat' }, legend, list, el('div', { className: 'row' }, add), error);
  box.dataset.path = path;
  box.setAttribute('aria-describedby', `${id}-error`);
  into.append(box);

  let nodes: Node[] = [];
  const render = (values: unknown[]) => {
    list.replaceChildren();
    nodes = values.map((value, i) => {
      const itemPath = `${path}.${i}`;
      const remove = el('button', { type: 'button', className: 'secondary remove', disabled: values.length <= min }, 'Remove');
      remove.setAttribute('aria-label', `Remove ${singular(key).toLowerCase()} ${i + 1}`);
      const fields = el('div', { className: 'grid' });
      const item = el('fieldset', { className: 'item' }, el('legend', {}, `${singular(key)} ${i + 1}`), fields, remove);
      item.dataset.path = itemPath;
      const node = objectNode(itemPath, items, value, fields);
      remove.addEventListener('click', () => {
        const current = nodes.map((n) => n.collect());
        current.splice(i, 1);
        render(current);
        (list.querySelectorAll<HTMLElement>('fieldset.item')[Math.min(i, current.length - 1)]?.querySelector('input, select') as HTMLElement | null)?.focus() ?? add.focus();
      });
      list.append(item);
      return node;
    });
    add.disabled = values.length >= max;
  };
  add.addEventListener('click', () => {
    render([...nodes.map((n) => n.collect()), {}]);
    list.lastElementChild?.querySelector<HTMLElement>('input, select')?.focus();
  });
  render(Array.isArray(initial) ? initial : Array.from({ length: min }, () => ({})));
  return { collect: () => (nodes.length === 0 && !required ? undefined : nodes.map((n) => n.collect())) };
}

// Rows: open-ended objects, entered as CSV or JSON, or generated from the columns.

type Column = { key?: unknown; label?: unknown; format?: unknown };

function sampleRows(n: number, columns: Column[]): Array<Record<string, unknown>> {
  const start = Date.UTC(2024, 0, 1);
  return Array.from({ length: n }, (_, i) => {
    const row: Record<string, unknown> = {};
    for (const c of columns) {
      if (typeof c.key !== 'string' || c.key === '') continue;
      if (c.format === 'number') row[c.key] = ((i * 7) % 13) + 1;
      else if (c.format === 'currency') row[c.key] = Math.round(((i * 37) % 1000) + 99) / 10;
      else if (c.format === 'date') row[c.key] = new Date(start + i * 86_400_000).toISOString().slice(0, 10);
      else row[c.key] = `${typeof c.label === 'string' && c.label ? c.label : c.key} ${i + 1}`;
    }
    return row;
  });
}

function csvRows(text: string): Array<Record<string, unknown>> {
  const [header, ...records] = parseCsv(text);
  if (!header) return [];
  return records.map((r) =>
    Object.fromEntries(header.map((key, i) => {
      const raw = r[i] ?? '';
      const n = Number(raw);
      return [key.trim(), raw.trim() !== '' && Number.isFinite(n) && /^-?[\d.]+(e-?\d+)?$/i.test(raw.trim()) ? n : raw];
    })),
  );
}

/** A value a control could not read (text in a number box, broken JSON): reported before validation. */
export class Unreadable {
  constructor(readonly message: string) {}
}

function rowsNode(key: string, path: string, schema: JsonSchema, required: boolean, initial: unknown, into: HTMLElement, siblings: Map<string, Node>): Node {
  const id = idOf(path);
  const max = schema.maxItems ?? 100_000;
  const mode = el('select', { id: `${id}-mode`, name: `${key}-mode` });
  mode.append(el('option', { value: 'generate' }, 'Sample rows'), el('option', { value: 'csv' }, 'CSV (first line: keys)'), el('option', { value: 'json' }, 'JSON array'));
  const modeField = el('div', { className: 'field' }, el('label', { htmlFor: mode.id }, `${humanize(key)} from`), mode);

  const countInput = el('input', { type: 'number', name: key, value: typeof initial === 'number' ? String(initial) : '40', min: '0', max: String(max), step: '1', required: true });
  countInput.inputMode = 'numeric';
  const generate = fieldShell(path, `Number of ${key}`, true, `0 to ${max.toLocaleString('en-US')} (the parameters may be at most ${MAX_PARAMS_TEXT}).`, countInput);

  const area = el('textarea', { id: `${id}-text`, rows: 6, spellcheck: false });
  area.dataset.path = path;
  const textError = el('p', { id: `${id}-text-error`, className: 'field-error' });
  area.setAttribute('aria-describedby', `${id}-text-hint ${id}-text-error`);
  const textHint = el('p', { id: `${id}-text-hint`, className: 'hint' });
  const text = el('div', { className: 'field' }, el('label', { htmlFor: area.id }, humanize(key)), area, textHint, textError);
  into.append(el('div', { className: 'grid' }, modeField, generate), text);

  const sync = () => {
    const m = mode.value;
    generate.hidden = m !== 'generate';
    countInput.disabled = m !== 'generate';
    text.hidden = m === 'generate';
    area.disabled = m === 'generate';
    // Errors at the rows' path land in whichever control is showing.
    delete (m === 'generate' ? textError : generate.querySelector<HTMLElement>('.field-error')!).dataset.path;
    (m === 'generate' ? generate.querySelector<HTMLElement>('.field-error')! : textError).dataset.path = path;
    textHint.textContent = m === 'csv' ? 'One row per line, values separated by commas; numbers are read as numbers.' : 'e.g. [{"region": "iad", "eur": 1200.5}]';
  };
  mode.addEventListener('change', () => {
    // Switching keeps the rows: what was generated (or typed) becomes the text to edit.
    const current = collect();
    if (mode.value !== 'generate' && area.value.trim() === '' && Array.isArray(current)) {
      if (mode.value === 'json') area.value = JSON.stringify(current, null, 1);
      else {
        const keys = [...new Set(current.flatMap((r) => Object.keys(r as object)))];
        const cell = (v: unknown) => (v == null ? '' : /[",\n]/.test(String(v)) ? `"${String(v).replace(/"/g, '""')}"` : String(v));
        area.value = [keys.join(','), ...current.map((r) => keys.map((k) => cell((r as Record<string, unknown>)[k])).join(','))].join('\n');
      }
    }
    sync();
  });
  sync();

  function collect(): unknown {
    if (mode.value === 'generate') {
      const raw = countInput.value.trim();
      if (!/^\d+$/.test(raw) || Number(raw) > max) return new Unreadable(`a whole number from 0 to ${max.toLocaleString('en-US')}`);
      const columns = siblings.get('columns')?.collect();
      return sampleRows(Number(raw), Array.isArray(columns) ? (columns as Column[]) : []);
    }
    const value = area.value.trim();
    if (value === '') return required ? [] : undefined;
    if (mode.value === 'csv') return csvRows(value);
    try {
      return JSON.parse(value);
    } catch (err) {
      return new Unreadable(`not valid JSON (${err instanceof Error ? err.message : String(err)})`);
    }
  }
  return { collect };
}

/** Messages for values the controls themselves could not read (before schema validation). */
export function unreadable(value: unknown, path: string, issues: Issue[] = []): Issue[] {
  if (value instanceof Unreadable) issues.push({ path, message: value.message });
  else if (Array.isArray(value)) value.forEach((v, i) => unreadable(v, `${path}.${i}`, issues));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) unreadable(v, `${path}.${k}`, issues);
  return issues;
}

/**
 * `totals` of the table: one checkbox per number or currency column, kept in step with the columns
 * as they are edited; sends the ticked keys (the params' list form), or nothing for no totals row.
 * `true` (total everything) as a starting value ticks every such column.
 */
function totalsNode(path: string, initial: unknown, into: HTMLElement, columns: Node): Node {
  const id = idOf(path);
  const ticked = new Set<string>(Array.isArray(initial) ? initial.map(String) : []);
  let all = initial === true;
  const boxes = el('div', { className: 'checks' });
  const error = el('p', { id: `${id}-error`, className: 'field-error' });
  error.dataset.path = path;
  const box = el('fieldset', { className: 'params nested', id }, el('legend', {}, humanize('totals')), boxes, el('p', { id: `${id}-hint`, className: 'hint' }, HINTS.totals!), error);
  box.dataset.path = path;
  into.append(box);
  const numeric = (): Array<{ key: string; label: string }> => {
    const list = columns.collect();
    if (!Array.isArray(list)) return [];
    return list
      .filter((c): c is { key: string; label?: string; format?: string } => !!c && typeof c === 'object' && typeof (c as { key?: unknown }).key === 'string')
      .filter((c) => (c.format === 'number' || c.format === 'currency') && c.key !== '')
      .map((c) => ({ key: c.key, label: c.label || c.key }));
  };
  const render = () => {
    const cols = numeric();
    if (all) cols.forEach((c) => ticked.add(c.key));
    all = false;
    const shown = boxes.querySelectorAll('input').length;
    const keys = cols.map((c) => c.key).join('\n');
    if (boxes.dataset.keys === keys && shown === cols.length) return;
    boxes.dataset.keys = keys;
    boxes.replaceChildren(
      ...(cols.length === 0
        ? [el('p', { className: 'hint' }, 'No number or currency column yet.')]
        : cols.map((c) => {
            const input = el('input', { type: 'checkbox', id: `${id}-${idOf(c.key)}`, name: `totals-${c.key}`, checked: ticked.has(c.key) });
            input.addEventListener('change', () => (input.checked ? ticked.add(c.key) : ticked.delete(c.key)));
            return el('div', { className: 'field check' }, input, el('label', { htmlFor: input.id }, c.label));
          })),
    );
  };
  // The columns live in the same container: any edit there may add, remove or retype one.
  into.addEventListener('input', render);
  into.addEventListener('change', render);
  into.addEventListener('click', () => queueMicrotask(render));
  render();
  return {
    collect: () => {
      const keys = numeric()
        .map((c) => c.key)
        .filter((k) => ticked.has(k));
      return keys.length > 0 ? keys : undefined;
    },
  };
}

function objectNode(path: string, schema: JsonSchema, initial: unknown, into: HTMLElement): Node {
  const values = (initial && typeof initial === 'object' ? initial : {}) as Record<string, unknown>;
  const children = new Map<string, Node>();
  const required = new Set(schema.required ?? []);
  for (const [key, sub] of Object.entries(schema.properties ?? {})) {
    const childPath = `${path}.${key}`;
    const req = required.has(key);
    let node: Node | null = null;
    if (key === 'totals' && children.has('columns')) {
      node = totalsNode(childPath, values[key], into, children.get('columns')!);
    } else if (sub.type === 'array' && isOpenObject(sub.items)) {
      node = rowsNode(key, childPath, sub, req, values[key], into, children);
    } else if (sub.type === 'array' && isFixedObject(sub.items)) {
      node = repeatNode(key, childPath, sub, req, values[key], into);
    } else if (isFixedObject(sub)) {
      const legend = el('legend', {}, humanize(key));
      const inner = el('div', { className: 'grid' });
      const box = el('fieldset', { className: 'params nested' }, legend, inner);
      box.dataset.path = childPath;
      into.append(box);
      node = objectNode(childPath, sub, values[key], inner);
    } else {
      node = scalarNode(key, childPath, sub, req, values[key], into) ?? jsonNode(key, childPath, req, values[key], into);
    }
    children.set(key, node);
  }
  return {
    collect: () => {
      const out: Record<string, unknown> = {};
      for (const [key, node] of children) {
        const v = node.collect();
        if (v !== undefined) out[key] = v;
      }
      return out;
    },
  };
}

export interface ParamsForm {
  /** The params as they will be sent, and every issue the page can find in them. */
  read(): { params: Record<string, unknown>; issues: Issue[] };
}

/**
 * Builds the params controls of one template into `into` (replacing what was there). `example` seeds
 * the fields (each template's sample values), then schema defaults.
 */
export function buildParamsForm(schema: JsonSchema, into: HTMLElement, example: unknown): ParamsForm {
  into.replaceChildren();
  const grid = el('div', { className: 'grid' });
  into.append(grid);
  const root = objectNode('params', schema, example, grid);
  return {
    read() {
      const params = root.collect() as Record<string, unknown>;
      const issues = unreadable(params, 'params');
      if (issues.length > 0) return { params, issues };
      return { params, issues: validate(schema, params, 'params') };
    },
  };
}

/** Starting values per template, so a first request needs no typing. */
export const EXAMPLES: Record<string, unknown> = {
  table: {
    columns: [
      { label: 'Item', key: 'item' },
      { label: 'Quantity', key: 'quantity', format: 'number', align: 'right' },
      { label: 'Unit price', key: 'price', format: 'currency', currency: 'EUR', align: 'right' },
      { label: 'Date', key: 'date', format: 'date' },
    ],
    rows: 40,
    // A unit price summed is meaningless: the quantity is what gets a total.
    totals: ['quantity'],
    locale: 'en-US',
    timeZone: 'UTC',
  },
  summary: {
    kpis: [
      { label: 'Total', value: 15230, unit: 'EUR', delta: 0.12 },
      { label: 'Average', value: 1269, unit: 'EUR', delta: -0.03 },
      { label: 'Periods', value: 12 },
    ],
    series: {
      label: 'Monthly revenue',
      points: Array.from({ length: 12 }, (_, i) => ({ label: `P${i + 1}`, value: Math.round(1000 + 400 * Math.sin(i / 2) + 40 * i) })),
    },
    locale: 'en-US',
  },
};
