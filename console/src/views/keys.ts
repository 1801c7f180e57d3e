// A tenant's API keys: list with this period's spend, create (the secret is shown once),
// edit limits, budget, models and cache, revoke.
import { type Me, call, get, seg } from '../api';
import { h, replace } from '../dom';
import { money, num, when } from '../format';
import { busy, type Column, errorBox, field, load, optional, section, table } from '../ui';

interface ApiKey {
  id: string;
  name: string;
  key_prefix: string;
  tags: string[];
  allowed_models: string[] | null;
  budget_usd: string | null;
  budget_period: string;
  period_spent_usd: string;
  rpm: number | null;
  tpm: number | null;
  max_concurrent: number | null;
  cache: string | null;
  manage_keys: boolean;
  created_by_key_id: string | null;
  created_at: string;
  revoked_at: string | null;
}

const PERIODS = ['total', 'month', 'week', 'day'];
const CACHE = ['', 'off', 'exact', 'semantic'];

function limitText(value: number | null): string {
  return value === null ? 'unlimited' : num(value);
}

/** A whole number, `null` for blank ("unlimited" / "none"), or the text for the API to refuse. */
function limitValue(input: HTMLInputElement): number | null | string {
  const raw = input.value.trim();
  if (raw === '') return null;
  return /^\d+$/.test(raw) ? Number(raw) : raw;
}

/** The form fields shared by create and edit, filled from `key` when editing; the right to
 * manage keys only for the operator, who alone grants it. */
function keyFields(operator: boolean, key?: ApiKey) {
  const blank = key ? 'unlimited' : 'gateway default';
  const period = h('select', { name: 'budget_period' }, PERIODS.map((p) => h('option', { value: p }, p)));
  period.value = key?.budget_period ?? 'total';
  const cache = h('select', { name: 'cache' }, CACHE.map((c) => h('option', { value: c }, c === '' ? "tenant's default" : c)));
  cache.value = key?.cache ?? '';
  return {
    rpm: h('input', { name: 'rpm', inputmode: 'numeric', value: key?.rpm ?? '', placeholder: blank }),
    tpm: h('input', { name: 'tpm', inputmode: 'numeric', value: key?.tpm ?? '', placeholder: blank }),
    maxConcurrent: h('input', { name: 'max_concurrent', inputmode: 'numeric', value: key?.max_concurrent ?? '', placeholder: blank }),
    budget: h('input', { name: 'budget_usd', inputmode: 'decimal', value: key?.budget_usd ?? '', placeholder: 'none' }),
    period,
    models: h('input', { name: 'allowed_models', value: key?.allowed_models?.join(', ') ?? '', placeholder: 'all models' }),
    cache,
    manage: operator ? h('input', { type: 'checkbox', name: 'manage_keys', checked: key?.manage_keys ?? false }) : null,
  };
}

type Fields = ReturnType<typeof keyFields>;

function fieldNodes(f: Fields): HTMLElement[] {
  return [
    field('Requests per minute', f.rpm),
    field('Tokens per minute', f.tpm),
    field('Requests at once', f.maxConcurrent),
    field('Budget (USD)', f.budget),
    field('Budget period', f.period),
    field('Allowed models', f.models, 'Comma separated; blank allows all.'),
    field('Cache', f.cache),
    ...(f.manage ? [field('May manage keys', f.manage, 'List, create, change and revoke this tenant\'s keys.')] : []),
  ];
}

/** Every setting of the form (blank limits: null, unlimited; blank budget, models or cache:
 * null, none, all, the tenant's). */
function settings(f: Fields): Record<string, unknown> {
  const models = f.models.value.split(',').map((m) => m.trim()).filter(Boolean);
  return {
    rpm: limitValue(f.rpm),
    tpm: limitValue(f.tpm),
    max_concurrent: limitValue(f.maxConcurrent),
    budget_usd: optional(f.budget) ?? null,
    budget_period: f.period.value,
    allowed_models: models.length ? models : null,
    cache: optional(f.cache) ?? null,
    ...(f.manage ? { manage_keys: f.manage.checked } : {}),
  };
}

/** A new key's settings: blank limits left out (the gateway's defaults for new keys). */
function newKeySettings(f: Fields): Record<string, unknown> {
  const all = settings(f);
  for (const limit of ['rpm', 'tpm', 'max_concurrent']) if (all[limit] === null) delete all[limit];
  return all;
}

/** Only what the form changed on `key`, so that an edit never overwrites what it did not touch. */
function changedSettings(f: Fields, key: ApiKey): Record<string, unknown> {
  const now = settings(f);
  const before: Record<string, unknown> = {
    rpm: key.rpm,
    tpm: key.tpm,
    max_concurrent: key.max_concurrent,
    budget_usd: key.budget_usd,
    budget_period: key.budget_period,
    // An empty list shows as blank: blank and untouched is no change.
    allowed_models: key.allowed_models?.length ? key.allowed_models : null,
    cache: key.cache,
    manage_keys: key.manage_keys,
  };
  const same = (a: unknown, b: unknown) =>
    JSON.stringify(a) === JSON.stringify(b) || (typeof a === 'string' && typeof b === 'string' && Number(a) === Number(b));
  return Object.fromEntries(Object.entries(now).filter(([name, value]) => !same(value, before[name])));
}

export function keys(me: Me, tenantId: string): HTMLElement {
  // An admin operator, or a key the operator let manage keys (the API refuses anyone else).
  const manages = me.kind === 'operator' ? me.role === 'admin' : me.manage_keys === true;
  const list = h('div');
  const page = h('div', { class: 'page' }, h('h1', {}, 'API keys'), h('div'), list);
  const createSlot = page.children[1] as HTMLElement;

  const refresh = () =>
    load(list, async () => {
      const answer = await get<{ data: ApiKey[] }>(`/api/v1/tenants/${seg(tenantId)}/keys`);
      const names = new Map(answer.data.map((k) => [k.id, k.name]));
      const made = (k: ApiKey) => answer.data.filter((c) => c.created_by_key_id === k.id && !c.revoked_at).length;
      const columns: Column<ApiKey>[] = [
        { label: 'Name', csv: (k) => k.name, cell: (k) => h('span', {}, k.name, k.id === me.key_id ? h('span', { class: 'badge' }, 'this session') : null) },
        { label: 'Key', csv: (k) => `${k.key_prefix}…`, cell: (k) => h('code', {}, `${k.key_prefix}…`) },
        { label: 'Status', csv: (k) => (k.revoked_at ? 'revoked' : 'active'), cell: (k) => h('span', { class: k.revoked_at ? 'badge bad' : 'badge good' }, k.revoked_at ? 'revoked' : 'active') },
        { label: 'Spent this period', csv: (k) => k.period_spent_usd, cell: (k) => money(k.period_spent_usd), numeric: true },
        { label: 'Budget', csv: (k) => (k.budget_usd ? `${k.budget_usd}/${k.budget_period}` : ''), cell: (k) => (k.budget_usd ? h('span', {}, money(k.budget_usd), ` / ${k.budget_period}`) : 'none') },
        { label: 'RPM', csv: (k) => String(k.rpm ?? ''), cell: (k) => limitText(k.rpm), numeric: true },
        { label: 'TPM', csv: (k) => String(k.tpm ?? ''), cell: (k) => limitText(k.tpm), numeric: true },
        { label: 'At once', csv: (k) => String(k.max_concurrent ?? ''), cell: (k) => limitText(k.max_concurrent), numeric: true },
        { label: 'Models', csv: (k) => k.allowed_models?.join(' ') ?? '', cell: (k) => k.allowed_models?.join(', ') ?? 'all' },
        { label: 'Cache', csv: (k) => k.cache ?? '', cell: (k) => k.cache ?? 'default' },
        { label: 'Manages keys', csv: (k) => (k.manage_keys ? 'yes' : 'no') },
        { label: 'Created', csv: (k) => k.created_at, cell: (k) => when(k.created_at) },
        { label: 'Created by', csv: (k) => (k.created_by_key_id ? (names.get(k.created_by_key_id) ?? k.created_by_key_id) : 'operator') },
        { label: '', csv: () => '', cell: (k) => (k.revoked_at || !manages ? '' : actions(k, made(k))) },
      ];
      return table('Keys', columns, answer.data, { empty: 'No keys yet: create one above.', csvName: 'keys.csv' });
    });

  const actions = (key: ApiKey, madeByIt: number): HTMLElement => {
    const status = h('div', { 'aria-live': 'polite' });
    const edit = h('button', { type: 'button', class: 'secondary', 'aria-label': `Edit ${key.name}` }, 'Edit');
    const revoke = h('button', { type: 'button', class: 'danger', 'aria-label': `Revoke ${key.name}` }, 'Revoke');
    edit.addEventListener('click', () => replace(createSlot, editForm(key)));
    revoke.addEventListener('click', () => {
      const warning = key.id === me.key_id ? ' This is the key you signed in with: you will be signed out.' : '';
      if (!window.confirm(`Revoke "${key.name}"? Requests with it stop within seconds.${warning}`)) return;
      const withMade =
        madeByIt > 0 && window.confirm(`Also revoke the ${madeByIt} live key(s) "${key.name}" created? (Do this when the key leaked.)`);
      void busy(revoke, status, async () => {
        await call('DELETE', `/api/v1/keys/${seg(key.id)}${withMade ? '?revoke_created=true' : ''}`);
        void refresh();
        return 'Revoked.';
      });
    });
    return h('div', { class: 'row-actions' }, edit, revoke, status);
  };

  const editForm = (key: ApiKey): HTMLElement => {
    const f = keyFields(me.kind === 'operator', key);
    const save = h('button', { type: 'submit' }, 'Save');
    const status = h('div', { 'aria-live': 'polite' });
    return section(`Edit ${key.name}`, [h('button', { type: 'button', class: 'secondary', onclick: () => replace(createSlot, createForm()) }, 'Cancel')],
      h('form', {
        class: 'key-form',
        onsubmit: (event: Event) => {
          event.preventDefault();
          void busy(save, status, async () => {
            const changes = changedSettings(f, key);
            if (Object.keys(changes).length === 0) return 'Nothing changed.';
            await call('PATCH', `/api/v1/keys/${seg(key.id)}`, changes);
            void refresh();
            replace(createSlot, h('p', { class: 'ok', role: 'status' }, `Saved "${key.name}".`), createForm());
            return 'Saved.';
          });
        },
      }, fieldNodes(f), h('div', { class: 'form-end' }, save)),
      status,
    );
  };

  const createForm = (): HTMLElement => {
    const name = h('input', { name: 'name', required: true, maxlength: 200, placeholder: 'production' });
    const f = keyFields(me.kind === 'operator');
    const create = h('button', { type: 'submit' }, 'Create key');
    const status = h('div', { 'aria-live': 'polite' });
    return section('Create a key', [],
      h('form', {
        class: 'key-form',
        onsubmit: (event: Event) => {
          event.preventDefault();
          void busy(create, status, async () => {
            const body = { name: name.value.trim(), ...newKeySettings(f) };
            const made = await call<ApiKey & { key: string }>('POST', `/api/v1/tenants/${seg(tenantId)}/keys`, body);
            name.value = '';
            void refresh();
            return secretOnce(made.name, made.key);
          });
        },
      }, field('Name', name), fieldNodes(f), h('div', { class: 'form-end' }, create)),
      status,
    );
  };

  replace(
    createSlot,
    manages
      ? createForm()
      : h('p', { class: 'muted card' }, 'This key may look at the keys but not create, change or revoke them: an operator can allow that ("manage_keys").'),
  );
  void refresh();
  return page;
}

/** The new key's secret, shown this once, with a copy button. */
function secretOnce(name: string, secret: string): HTMLElement {
  const value = h('input', { readonly: true, value: secret, 'aria-label': 'New key', 'data-testid': 'new-key', class: 'secret' });
  const status = h('span', { 'aria-live': 'polite' });
  const copy = h('button', {
    type: 'button',
    class: 'secondary',
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(secret);
        replace(status, 'Copied.');
      } catch {
        value.select();
        replace(status, errorBox(new Error('Copy was refused by the browser; the key is selected, copy it by hand.')));
      }
    },
  }, 'Copy');
  return h('div', { class: 'secret-box', role: 'status' },
    h('strong', {}, `Key "${name}" created. Copy it now: it is not shown again.`),
    h('div', { class: 'secret-row' }, value, copy, status),
  );
}
