import { history } from './history.js';
import type { TEMPLATE_NAMES } from './names.js';
import { summary } from './summary.js';
import { table } from './table.js';
import type { ReportTemplate } from './template.js';

export type { HistoryEntry, ReportTemplate, TemplateContext } from './template.js';

/**
 * Bump when any template's output changes for the same params: it is part of `rendererVersion`,
 * recorded with every rendered report.
 */
export const TEMPLATES_VERSION = 3;

export const templates = { table, summary, history } as const satisfies Record<(typeof TEMPLATE_NAMES)[number], unknown>;

export type TemplateName = keyof typeof templates;

export const templateNames = Object.keys(templates) as TemplateName[];

export function isTemplateName(name: string): name is TemplateName {
  return Object.hasOwn(templates, name);
}

/** The template called `name`, or undefined: the caller decides which error that is. */
export function getTemplate(name: string): ReportTemplate | undefined {
  return isTemplateName(name) ? (templates[name] as unknown as ReportTemplate) : undefined;
}
