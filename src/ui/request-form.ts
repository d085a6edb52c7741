// The request form: the template's params controls are generated from its JSON Schema; the form
// checks what the server would refuse (title, size) before sending, and places the server's issues
// next to their controls.
import { $, button, el, show, value } from './dom';
import { UiRequestReportDocument, UiTemplatesDocument } from './gql/graphql';
import { MAX_PARAMS_BYTES, MAX_PARAMS_TEXT, MAX_TITLE_LENGTH } from '../shared/report-input';
import { handleFailure } from './auth';
import { loadReports } from './report-list';
import { follow } from './report-timeline';
import { buildParamsForm, EXAMPLES, type Issue, type JsonSchema } from './schema-form';
import { call, state } from './state';

export async function loadTemplates(): Promise<void> {
  try {
    const { templates } = await call(UiTemplatesDocument, {});
    state.templates = templates;
    const select = $<HTMLSelectElement>('template');
    const previous = select.value;
    select.replaceChildren(...templates.map((t) => el('option', { value: t.name }, t.name.charAt(0).toUpperCase() + t.name.slice(1))));
    if (templates.some((t) => t.name === previous)) select.value = previous;
    syncTemplate();
  } catch (err) {
    handleFailure(err, 'request-message');
  }
}

export function syncTemplate(): void {
  const template = state.templates.find((t) => t.name === $<HTMLSelectElement>('template').value);
  $('template-description').textContent = template?.description ?? '';
  const box = $('params');
  const legend = box.querySelector('legend')!;
  legend.textContent = template ? `${template.name.charAt(0).toUpperCase()}${template.name.slice(1)} parameters` : 'Parameters';
  const inner = el('div');
  box.replaceChildren(legend, inner);
  state.form = template ? buildParamsForm(template.paramsSchema as JsonSchema, inner, EXAMPLES[template.name]) : null;
  clearFieldErrors();
}

function clearFieldErrors(): void {
  for (const node of document.querySelectorAll<HTMLElement>('#request-form .field-error')) node.textContent = '';
  for (const node of document.querySelectorAll<HTMLElement>('#request-form [aria-invalid]')) node.removeAttribute('aria-invalid');
}

/**
 * Puts an issue next to the control for its path, or the nearest enclosing one (params.rows.3.date
 * lands on the rows editor). Returns the control, or null when none matches.
 */
function fieldError(path: string, message: string): HTMLElement | null {
  const form = $('request-form');
  const parts = path.split('.');
  while (parts.length > 0) {
    const p = parts.join('.');
    const error = [...form.querySelectorAll<HTMLElement>('.field-error')].find((e) => e.dataset.path === p && !e.closest('[hidden]'));
    if (error) {
      const shown = p === path ? message : `${path.slice(p.length + 1)}: ${message}`;
      error.textContent = error.textContent ? `${error.textContent}; ${shown}` : shown;
      const control = [...form.querySelectorAll<HTMLElement>('[data-path]')].find((c) => c.dataset.path === p && c !== error && !c.classList.contains('item') && !c.closest('[hidden]'));
      control?.setAttribute('aria-invalid', 'true');
      return control ?? error;
    }
    parts.pop();
  }
  return null;
}

function issueList(title: string, issues: readonly Issue[]): HTMLElement {
  return el('div', {}, el('p', {}, title), el('ul', {}, ...issues.map(({ path, message }) => el('li', {}, el('code', {}, path), `: ${message}`))));
}

function refuse(issues: Issue[]): void {
  const unplaced = issues.filter((issue) => !fieldError(issue.path, issue.message));
  show('request-message', unplaced.length > 0 ? issueList('Please correct these:', issues) : 'Please correct the highlighted fields.');
  document.querySelector<HTMLElement>('#request-form [aria-invalid="true"]')?.focus();
}

export async function submitRequest(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  clearFieldErrors();
  show('request-message', '');
  if (!state.form) return show('request-message', 'The templates are not loaded yet.');
  const template = $<HTMLSelectElement>('template').value;
  const title = value('title');
  const { params, issues } = state.form.read();
  if (!title) issues.unshift({ path: 'title', message: 'a title is required' });
  else if (title.length > MAX_TITLE_LENGTH) issues.unshift({ path: 'title', message: `at most ${MAX_TITLE_LENGTH} characters` });
  if (issues.length === 0 && new TextEncoder().encode(JSON.stringify(params)).length > MAX_PARAMS_BYTES) {
    issues.push({ path: 'params.rows', message: `these parameters are over ${MAX_PARAMS_TEXT}: use fewer rows` });
  }
  if (issues.length > 0) return refuse(issues);
  const submit = button('request');
  submit.disabled = true;
  submit.textContent = 'Requesting…';
  try {
    const { requestReport: r } = await call(UiRequestReportDocument, { input: { template, title, params } });
    switch (r.__typename) {
      case 'MutationRequestReportSuccess':
        show('request-message', `Requested “${r.data.title}”.`, 'ok');
        follow(r.data.reportId);
        void loadReports(true);
        break;
      case 'InvalidParamsError': {
        for (const issue of r.issues) fieldError(issue.path, issue.message);
        show('request-message', issueList(`The server refused these parameters (${r.code}):`, r.issues));
        break;
      }
      case 'RateLimitedError':
        show('request-message', `Too many requests: try again in ${r.retryAfterSeconds} s.`);
        break;
      case 'ForbiddenError':
        show('request-message', `Not allowed: ${r.message}`);
        break;
      default:
        show('request-message', `${r.code}: ${r.message}`);
    }
  } catch (err) {
    handleFailure(err, 'request-message');
  } finally {
    submit.disabled = false;
    submit.textContent = 'Request report';
  }
}
