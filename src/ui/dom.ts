// Small DOM helpers shared by the page's modules.

/** The element with this id, typed by the caller; throws when the page lacks it. */
export function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing`);
  return el as T;
}

export type MessageKind = 'error' | 'ok' | 'info';

/** Replaces a message element's content (text or a node) and marks its kind for styling. */
export function show(id: string, content: string | Node, kind: MessageKind = 'error'): void {
  const el = $(id);
  el.replaceChildren();
  if (content) el.append(content);
  el.dataset.kind = kind;
}

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}, ...children: Array<string | Node>): HTMLElementTagNameMap[K] {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

export const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
export const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

export function timeEl(iso: string, format: Intl.DateTimeFormat = timeFormat): HTMLTimeElement {
  const t = document.createElement('time');
  t.dateTime = iso;
  t.title = iso;
  t.textContent = format.format(new Date(iso));
  return t;
}

export function formatBytes(n: number | null | undefined): string {
  if (n == null) return '';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export function fact(dl: HTMLElement, term: string, content: string | Node): void {
  dl.append(el('dt', {}, term), el('dd', {}, content));
}

export function hashCode(hash: string): HTMLElement {
  return el('code', { className: 'hash', textContent: hash });
}

export const input = (id: string) => $<HTMLInputElement>(id);
export const button = (id: string) => $<HTMLButtonElement>(id);
/** An input's value, trimmed. */
export const value = (id: string) => input(id).value.trim();
