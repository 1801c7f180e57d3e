// The API reference at /docs: every operation of this gateway's /openapi.json, grouped by area,
// with its parameters, body and answers, and a form that tries it against this gateway with a
// bearer credential (the console's, when signed in in this tab). Rendered here rather than by
// Swagger UI, Redoc or Scalar, whose bundles alone weigh 200–460 kB gzipped.
import './style.css';
import './docs.css';
import { ApiError, credential as consoleCredential, whoIs } from './api';
import { h, replace } from './dom';
import { type Context, type Operation, anchor, operationView } from './reference/operation';
import { validCredential } from './reference/request';
import { type Components, prose } from './reference/schema';

/** The parts of the OpenAPI document the page reads. */
interface ApiDocument {
  info?: { title?: string; version?: string; description?: string };
  tags?: { name: string; description?: string }[];
  paths?: Record<string, Record<string, Operation>>;
  components?: { schemas?: Components };
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

const credentialInput = h('input', {
  type: 'password',
  id: 'credential',
  autocomplete: 'off',
  spellcheck: 'false',
  placeholder: 'tg_ key or operator token',
});
// A property, not an attribute: the credential stays out of the page's markup.
credentialInput.value = consoleCredential() ?? '';

const context: Context = {
  components: {},
  // "Bearer tg_…" pasted whole works too.
  credential: () => credentialInput.value.trim().replace(/^Bearer\s+/i, ''),
  defaults: {},
};

/** Who the credential is, in words, next to it. */
const identity = h('span', { class: 'muted', role: 'status' });

/** Says who the credential is; a tenant key's tenant becomes the starting `tenant_id` of the
 * forms opened from now on. */
let asked = 0;
async function learnDefaults(): Promise<void> {
  const token = context.credential();
  // Only the answer about the latest credential counts.
  const question = ++asked;
  delete context.defaults.tenant_id;
  const say = (text: string) => question === asked && (identity.textContent = text);
  if (!token) return void say('Not signed in: only public operations will answer.');
  if (!validCredential(token)) return void say('The credential holds characters a header cannot carry.');
  try {
    const me = await whoIs(token);
    if (question !== asked) return;
    if (me.tenant_id) {
      context.defaults.tenant_id = me.tenant_id;
      say(`Tenant ${me.tenant_name} · key ${me.key_name}`);
    } else {
      say(`Operator (${me.role})`);
    }
  } catch (error) {
    say(error instanceof ApiError && error.status !== 0 ? `Not accepted: ${error.message}` : 'The gateway cannot be reached.');
  }
}

/** Shows only the operations whose method, path or summary contain every word of `query`. */
function filter(root: HTMLElement, query: string): void {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  for (const group of root.querySelectorAll<HTMLElement>('.tag-group')) {
    let shown = 0;
    for (const op of group.querySelectorAll<HTMLElement>('.op')) {
      const text = op.dataset.search ?? '';
      const match = words.every((w) => text.includes(w));
      op.hidden = !match;
      if (match) shown++;
    }
    group.hidden = shown === 0;
    const link = root.querySelector<HTMLElement>(`.toc a[href="#${group.id}"]`)?.parentElement;
    if (link) link.hidden = shown === 0;
  }
}

function render(doc: ApiDocument): HTMLElement[] {
  context.components = doc.components?.schemas ?? {};
  const groups = new Map<string, HTMLElement[]>((doc.tags ?? []).map((t) => [t.name, []]));
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const tag = op.tags?.[0] ?? 'Other';
      if (!groups.has(tag)) groups.set(tag, []);
      groups.get(tag)!.push(operationView(method.toUpperCase(), path, op, context));
    }
  }
  const described = new Map((doc.tags ?? []).map((t) => [t.name, t.description]));
  const sections = [...groups].filter(([, ops]) => ops.length > 0);
  const groupId = (tag: string) => `tag-${anchor('', tag).replace(/^-/, '')}`;
  const search = h('input', { type: 'search', id: 'filter', placeholder: 'e.g. keys post', autocomplete: 'off' });
  const toc = h(
    'nav',
    { class: 'toc', 'aria-label': 'Areas' },
    h('label', { for: 'filter' }, 'Filter operations'),
    search,
    h(
      'ul',
      {},
      sections.map(([tag, ops]) => h('li', {}, h('a', { href: `#${groupId(tag)}` }, tag), h('span', { class: 'count' }, ` ${ops.length}`))),
    ),
  );
  const main = h(
    'main',
    { id: 'main', class: 'reference' },
    h('h1', {}, `${doc.info?.title ?? 'API'} API reference`, doc.info?.version && h('span', { class: 'version' }, ` v${doc.info.version}`)),
    doc.info?.description && h('p', {}, prose(doc.info.description)),
    h(
      'p',
      { class: 'muted' },
      'Open an operation to see what it takes and answers, and to send it to this gateway with the credential above. ',
      'Money is a decimal string in USD; errors answer ',
      h('code', {}, '{"error": {"message", "type", "code"}}'),
      ' (Anthropic’s shape on /v1/messages).',
    ),
    sections.map(([tag, ops]) =>
      h('section', { class: 'tag-group', id: groupId(tag), 'aria-labelledby': `${groupId(tag)}-h` }, h('h2', { id: `${groupId(tag)}-h` }, tag), described.get(tag) && h('p', { class: 'muted' }, prose(described.get(tag)!)), ops),
    ),
  );
  const layout = h('div', { class: 'layout' }, toc, main);
  search.addEventListener('input', () => filter(layout, search.value));
  return [layout];
}

/** Opens and scrolls to the operation the URL fragment names. */
function openFromHash(): void {
  let id = '';
  try {
    id = decodeURIComponent(location.hash.slice(1));
  } catch {
    return; // Not an operation's link.
  }
  const target = id ? document.getElementById(id) : null;
  if (target instanceof HTMLDetailsElement) {
    const search = document.querySelector<HTMLInputElement>('#filter');
    if (target.hidden && search) {
      // A link to an operation the filter hides clears the filter.
      search.value = '';
      search.dispatchEvent(new Event('input'));
    }
    target.open = true;
    target.scrollIntoView();
    target.querySelector('summary')?.focus();
  }
}

async function start(): Promise<void> {
  const app = document.getElementById('app')!;
  replace(
    app,
    h(
      'header',
      { class: 'top' },
      h('a', { class: 'brand', href: '/docs/' }, 'Tollgate API reference'),
      h('nav', { 'aria-label': 'Site' }, h('a', { href: '/console/' }, 'Console'), h('a', { href: '/openapi.json' }, 'openapi.json')),
      h('div', { class: 'who' }, h('label', { for: 'credential' }, 'Bearer credential'), credentialInput, identity),
    ),
    h('p', { class: 'loading', role: 'status' }, 'Loading the API description…'),
  );
  credentialInput.addEventListener('change', () => void learnDefaults());
  const [response] = await Promise.all([fetch('/openapi.json', { cache: 'no-store' }).catch(() => null), learnDefaults()]);
  const loadingNote = app.querySelector('.loading')!;
  if (!response?.ok) {
    loadingNote.replaceWith(h('div', { class: 'error', role: 'alert' }, h('strong', {}, 'The API description could not be loaded'), h('p', {}, response ? `${response.status} ${response.statusText}` : 'The gateway cannot be reached.')));
    return;
  }
  let doc: ApiDocument;
  try {
    doc = (await response.json()) as ApiDocument;
  } catch {
    loadingNote.replaceWith(h('div', { class: 'error', role: 'alert' }, h('strong', {}, 'The API description could not be loaded'), h('p', {}, '/openapi.json is not JSON.')));
    return;
  }
  loadingNote.replaceWith(...render(doc));
  openFromHash();
  window.addEventListener('hashchange', openFromHash);
}

void start();
