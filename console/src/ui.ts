// Shared pieces of every page: headings, loading and empty states, error boxes, forms,
// tables with CSV export, and the busy state of a button while its request runs.
import { ApiError } from './api';
import { h, replace } from './dom';

/** A page section with a heading and optional actions on the right. */
export function section(title: string, actions: Node[], ...body: Node[]): HTMLElement {
  return h('section', { class: 'card' }, h('div', { class: 'card-head' }, h('h2', {}, title), h('div', { class: 'actions' }, actions)), body);
}

/** The "loading" placeholder. */
export function loading(what = 'Loading'): HTMLElement {
  return h('p', { class: 'loading', role: 'status', 'aria-live': 'polite' }, `${what}…`);
}

/** An error in words (the API's message; "Not found" for 404). */
export function errorBox(error: unknown): HTMLElement {
  const message = error instanceof Error ? error.message : String(error);
  const title = error instanceof ApiError && error.status === 404 ? 'Not found' : 'Something went wrong';
  return h('div', { class: 'error', role: 'alert' }, h('strong', {}, title), h('p', {}, message));
}

const generations = new WeakMap<Element, number>();

/** Loads into `slot`: shows loading (unless `quiet`: a refresh), then what `render` builds,
 * or the error. */
export async function load(slot: Element, render: () => Promise<Node | Node[]>, options: { what?: string; quiet?: boolean } = {}): Promise<void> {
  // Only the latest load of a slot may fill it: an older, slower answer is dropped.
  const generation = (generations.get(slot) ?? 0) + 1;
  generations.set(slot, generation);
  if (!options.quiet || slot.childElementCount === 0) replace(slot, loading(options.what));
  let built: Node[];
  try {
    const answer = await render();
    built = Array.isArray(answer) ? answer : [answer];
  } catch (error) {
    built = [errorBox(error)];
  }
  if (generations.get(slot) === generation) replace(slot, ...built);
}

/** One column of a table: header, the text a CSV gets, and optionally a richer cell. */
export interface Column<T> {
  label: string;
  csv: (row: T) => string;
  cell?: (row: T) => Node | string;
  numeric?: boolean;
}

function csvCell(value: string): string {
  // A leading =, +, - or @ would run as a formula in a spreadsheet; a plain number would not.
  const safe = /^[=+\-@\t\r]/.test(value) && !/^-?\d+(\.\d+)?$/.test(value) ? `'${value}` : value;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** The rows as CSV text (header line first). */
function toCsv<T>(columns: Column<T>[], rows: T[]): string {
  const lines = [columns.map((c) => csvCell(c.label)).join(',')];
  for (const row of rows) lines.push(columns.map((c) => csvCell(c.csv(row))).join(','));
  return lines.join('\r\n') + '\r\n';
}

/** Saves `text` as a file download. */
function download(name: string, text: string, type = 'text/csv'): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = h('a', { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** A table of `rows` with a CSV export button, or `empty` when there are none. */
export function table<T>(
  title: string,
  columns: Column<T>[],
  rows: T[],
  options: { empty: string; csvName: string; actions?: Node[]; footer?: Node },
): HTMLElement {
  const exportButton = h(
    'button',
    { type: 'button', class: 'secondary', onclick: () => download(options.csvName, toCsv(columns, rows)), disabled: rows.length === 0 },
    'Export CSV',
  );
  const body =
    rows.length === 0
      ? h('p', { class: 'empty' }, options.empty)
      : h(
          'div',
          { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': title },
          h(
            'table',
            {},
            h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.numeric ? 'num' : null }, c.label)))),
            h(
              'tbody',
              {},
              rows.map((row) => h('tr', {}, columns.map((c) => h('td', { class: c.numeric ? 'num' : null, 'data-label': c.label }, c.cell ? c.cell(row) : c.csv(row))))),
            ),
          ),
        );
  return section(title, [...(options.actions ?? []), exportButton], body, ...(options.footer ? [options.footer] : []));
}

/** A labelled form field. */
export function field(label: string, input: HTMLElement, hint?: string): HTMLElement {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), input, hint ? h('small', {}, hint) : null);
}

/** Runs `action` with the button disabled (a double click sends once) and its outcome shown in `status`. */
export async function busy(button: HTMLButtonElement, status: Element, action: () => Promise<string | Node>): Promise<void> {
  if (button.disabled) return;
  button.disabled = true;
  replace(status, loading('Working'));
  try {
    const done = await action();
    replace(status, typeof done === 'string' ? h('p', { class: 'ok', role: 'status' }, done) : done);
  } catch (error) {
    replace(status, errorBox(error));
  } finally {
    button.disabled = false;
  }
}

/** The value of a text input, or `undefined` when blank. */
export function optional(input: HTMLInputElement | HTMLSelectElement): string | undefined {
  const value = input.value.trim();
  return value === '' ? undefined : value;
}


/** The button that loads the next page of a table: `more` fetches it, then `rerender`
 * redraws the table. A failed page leaves the rows shown and says why next to the button. */
export function nextPageButton(label: string, more: () => Promise<void>, rerender: () => void): HTMLElement {
  const status = h('div', { 'aria-live': 'polite' });
  const button = h('button', { type: 'button', class: 'secondary' }, label);
  button.addEventListener('click', () =>
    void busy(button, status, async () => {
      await more();
      rerender();
      return '';
    }),
  );
  return h('div', { class: 'actions' }, button, status);
}
