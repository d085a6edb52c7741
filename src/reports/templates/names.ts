/**
 * The templates' names, without their code: config.ts checks RETENTION_DEFAULT's `template=…`
 * against them at start-up (a misspelt name would silently keep that template's reports forever).
 * registry.ts holds exactly these (checked when it compiles).
 */
export const TEMPLATE_NAMES = ['table', 'summary', 'history'] as const;
