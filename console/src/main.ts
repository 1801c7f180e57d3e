// The console's shell: sign-in, the navigation of a tenant or an operator, and a hash router
// (#/t/<tenant>/keys, #/tenants, ...) so that links, reloads and the back button work.
import './style.css';
import { ApiError, type Me, credential, forget, get, whoIs } from './api';
import { sweep } from './chart';
import { h, replace } from './dom';
import { errorBox, loading } from './ui';
import { alerts } from './views/alerts';
import { keys } from './views/keys';
import { ledger } from './views/ledger';
import { providers, tenants, top } from './views/operator';
import { overview } from './views/overview';
import { signIn } from './views/signin';

const app = document.getElementById('app')!;
let me: Me | null = null;
const tenantNames = new Map<string, string>();

function go(path: string): void {
  if (location.hash === `#${path}`) route();
  else location.hash = path;
}

function signOut(message?: string): void {
  forget();
  me = null;
  tenantNames.clear();
  history.replaceState(null, '', location.pathname);
  showSignIn(message);
}

function showSignIn(message?: string): void {
  document.title = 'Sign in · Tollgate console';
  replace(
    app,
    h('main', { id: 'main', class: 'center' },
      message ? errorBox(new Error(message)) : null,
      signIn((who) => {
        me = who;
        go(home(who));
      }),
    ),
  );
  app.querySelector<HTMLInputElement>('input')?.focus();
}

function home(who: Me): string {
  return who.kind === 'tenant' ? `/t/${who.tenant_id}` : '/tenants';
}

function link(path: string, label: string, current: string): HTMLElement {
  const active = current === path || (path !== '/tenants' && current.startsWith(path + '/'));
  return h('a', { href: `#${path}`, 'aria-current': active ? 'page' : null }, label);
}

/** The tenant's name for the header (the operator looks it up once). */
async function tenantName(id: string): Promise<string> {
  if (me?.kind === 'tenant' && me.tenant_id === id) return me.tenant_name ?? id;
  if (!tenantNames.has(id)) tenantNames.set(id, (await get<{ name: string }>(`/api/v1/tenants/${encodeURIComponent(id)}`)).name);
  return tenantNames.get(id)!;
}

function shell(who: Me, path: string, title: string, body: Node, tenantId?: string): void {
  const operatorNav = who.kind === 'operator' ? [link('/tenants', 'Tenants', path), link('/providers', 'Providers', path), link('/top', 'Top spend', path)] : [];
  const tenantNav = tenantId
    ? [
        link(`/t/${tenantId}`, 'Overview', path === `/t/${tenantId}` ? path : ''),
        link(`/t/${tenantId}/keys`, 'Keys', path),
        link(`/t/${tenantId}/ledger`, 'Ledger', path),
        link(`/t/${tenantId}/alerts`, 'Alerts', path),
      ]
    : [];
  const identity = who.kind === 'tenant' ? `${who.tenant_name} · key ${who.key_name}` : `Operator (${who.role})`;
  document.title = `${title} · Tollgate console`;
  replace(
    app,
    h('header', { class: 'top' },
      h('a', { class: 'brand', href: `#${home(who)}` }, 'Tollgate'),
      h('nav', { 'aria-label': 'Main' }, operatorNav, tenantNav.length && operatorNav.length ? h('span', { class: 'sep', 'aria-hidden': 'true' }, '|') : null, tenantNav),
      h('div', { class: 'who' },
        h('span', { class: 'muted' }, identity),
        h('a', { href: '/docs/', class: 'docs-link' }, 'API docs'),
        h('button', { type: 'button', class: 'secondary', onclick: () => signOut() }, 'Sign out'),
      ),
    ),
    h('main', { id: 'main', tabindex: -1 }, body),
  );
  // The charts of the page left behind are destroyed.
  requestAnimationFrame(sweep);
}

async function route(): Promise<void> {
  if (!credential()) return showSignIn();
  if (!me) {
    replace(app, loading('Signing in'));
    try {
      me = await whoIs(credential()!);
    } catch (error) {
      return signOut(error instanceof ApiError ? error.message : String(error));
    }
  }
  const who = me;
  const path = location.hash.replace(/^#/, '') || home(who);
  const parts = path.split('/').filter(Boolean);
  if (parts[0] === 't' && parts[1]) {
    const id = parts[1];
    const page = parts[2] ?? '';
    const views: Record<string, [string, () => HTMLElement]> = {
      '': ['Overview', () => overview(who, id)],
      keys: ['Keys', () => keys(who, id)],
      ledger: ['Ledger', () => ledger(id)],
      alerts: ['Alerts', () => alerts(id)],
    };
    const view = views[page];
    if (!view) return shell(who, path, 'Not found', errorBox(new ApiError(404, `There is no page "${page}".`)));
    try {
      const name = await tenantName(id);
      shell(who, path, `${view[0]} · ${name}`, view[1](), id);
    } catch (error) {
      // Another tenant's page: the API answers 404, shown as not found.
      shell(who, path, 'Not found', errorBox(error));
    }
    return;
  }
  if (who.kind === 'operator') {
    if (path === '/tenants') return shell(who, path, 'Tenants', tenants((id) => go(`/t/${id}`), who.role === 'admin'));
    if (path === '/providers') return shell(who, path, 'Providers', providers());
    if (path === '/top') return shell(who, path, 'Top spend', top(tenantNames));
  }
  shell(who, path, 'Not found', errorBox(new ApiError(404, `There is no page "${path}" for you.`)));
}

window.addEventListener('hashchange', () => void route());
window.addEventListener('tollgate:unauthenticated', (event) => {
  signOut(`Signed out: ${(event as CustomEvent<string>).detail}`);
});
void route();
