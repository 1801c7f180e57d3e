// The operator's pages: every tenant with its balance and this period's spend; provider and
// deployment health with breaker states; the top tenants and models by spend.
import { call, get, seg } from '../api';
import { h, replace } from '../dom';
import { money, num, percent, when } from '../format';
import { busy, type Column, field, load, nextPageButton, section, table } from '../ui';

interface ListedTenant {
  id: string;
  name: string;
  balance_usd: string;
  spent_usd: string;
  period_spent_usd: string;
  budget_usd: string | null;
  budget_period: string;
  created_at: string;
}

function status(t: ListedTenant): string {
  if (Number(t.balance_usd) <= 0) return 'out of credit';
  if (t.budget_usd !== null && Number(t.period_spent_usd) >= Number(t.budget_usd)) return 'budget used up';
  return 'active';
}

export function tenants(open: (id: string) => void, canCreate: boolean): HTMLElement {
  const slot = h('div');
  const rows: ListedTenant[] = [];
  let next: string | null = null;
  const columns: Column<ListedTenant>[] = [
    { label: 'Tenant', csv: (t) => t.name, cell: (t) => h('a', { href: `#/t/${t.id}`, onclick: (e: Event) => (e.preventDefault(), open(t.id)) }, t.name) },
    { label: 'Balance', csv: (t) => t.balance_usd, cell: (t) => money(t.balance_usd), numeric: true },
    { label: 'Spent this period', csv: (t) => t.period_spent_usd, cell: (t) => h('span', {}, money(t.period_spent_usd), h('small', { class: 'muted' }, ` ${t.budget_period}`)), numeric: true },
    { label: 'Spent in all', csv: (t) => t.spent_usd, cell: (t) => money(t.spent_usd), numeric: true },
    { label: 'Status', csv: status, cell: (t) => h('span', { class: `badge ${status(t) === 'active' ? 'good' : 'bad'}` }, status(t)) },
    { label: 'Created', csv: (t) => t.created_at, cell: (t) => when(t.created_at) },
    { label: 'Id', csv: (t) => t.id, cell: (t) => h('code', { class: 'id' }, t.id) },
  ];
  // A page only lands in the list it was asked for (a new tenant starts a new list).
  let listing = 0;
  const more = async () => {
    const asked = listing;
    const page = await get<{ data: ListedTenant[]; next_before: string | null }>(`/api/v1/tenants?limit=100${next ? `&before=${next}` : ''}`);
    if (asked !== listing) return;
    rows.push(...page.data);
    next = page.next_before;
  };
  const render = () => {
    return table('Tenants', columns, rows, {
      empty: 'No tenants yet: create one above.',
      csvName: 'tenants.csv',
      footer: next ? nextPageButton('More tenants', more, () => replace(slot, render())) : undefined,
    });
  };
  const name = h('input', { name: 'tenant_name', required: true, maxlength: 200, placeholder: 'Acme Inc.' });
  const create = h('button', { type: 'submit' }, 'Create tenant');
  const created = h('div', { 'aria-live': 'polite' });
  const form = h('form', {
    class: 'inline-form',
    onsubmit: (event: Event) => {
      event.preventDefault();
      void busy(create, created, async () => {
        const tenant = await call<{ id: string; name: string }>('POST', '/api/v1/tenants', { name: name.value.trim() });
        name.value = '';
        listing += 1;
        rows.length = 0;
        next = null;
        void load(slot, async () => (await more(), render()));
        return h('p', { class: 'ok', role: 'status' }, 'Created ', h('a', { href: `#/t/${tenant.id}` }, tenant.name), '.');
      });
    },
  }, field('Name', name), create);
  void load(slot, async () => (await more(), render()));
  return h('div', { class: 'page' }, h('h1', {}, 'Tenants'), canCreate ? section('New tenant', [], form, created) : null, slot);
}

interface Deployment {
  deployment: string;
  provider: string;
  route: string;
  tier: string;
  state: string;
  error_rate: number;
  latency_ms: number | null;
  in_flight: number;
  requests: number;
  errors: number;
  times_opened: number;
}

export function providers(): HTMLElement {
  const slot = h('div');
  const refresh = (quiet = false) =>
    load(slot, async () => {
      const rows = (await get<{ data: Deployment[] }>('/api/v1/providers/health')).data;
      const columns: Column<Deployment>[] = [
        { label: 'Deployment', csv: (d) => d.deployment },
        { label: 'Provider', csv: (d) => d.provider },
        { label: 'Route', csv: (d) => d.route },
        { label: 'Tier', csv: (d) => d.tier },
        { label: 'Breaker', csv: (d) => d.state, cell: (d) => h('span', { class: `badge ${d.state === 'closed' ? 'good' : 'bad'}` }, d.state) },
        { label: 'Error rate', csv: (d) => String(d.error_rate), cell: (d) => percent(d.error_rate), numeric: true },
        { label: 'Latency (ms)', csv: (d) => String(d.latency_ms ?? ''), cell: (d) => (d.latency_ms === null ? '—' : d.latency_ms.toFixed(1)), numeric: true },
        { label: 'In flight', csv: (d) => String(d.in_flight), numeric: true },
        { label: 'Requests', csv: (d) => String(d.requests), cell: (d) => num(d.requests), numeric: true },
        { label: 'Times opened', csv: (d) => String(d.times_opened), numeric: true },
      ];
      return table('Deployments', columns, rows, { empty: 'No deployments are configured.', csvName: 'deployments.csv' });
    }, { quiet });
  void refresh();
  const page = h('div', { class: 'page' }, h('h1', {}, 'Providers'), slot);
  const timer = window.setInterval(() => (page.isConnected ? void refresh(true) : window.clearInterval(timer)), 5000);
  return page;
}

interface TopRow {
  tenant_id?: string;
  model?: string;
  requests: number;
  cost_usd: string;
}

export function top(names: Map<string, string>): HTMLElement {
  const period = h('select', { 'aria-label': 'Period' }, ['24h', '7d', '30d', '90d'].map((p) => h('option', { value: p }, `Last ${p}`)));
  period.value = '30d';
  const slot = h('div');
  const refresh = () =>
    load(slot, async () => {
      const [byTenant, byModel] = await Promise.all([
        get<{ data: TopRow[] }>(`/api/v1/analytics/top?by=tenant&period=${period.value}&limit=20`),
        get<{ data: TopRow[] }>(`/api/v1/analytics/top?by=model&period=${period.value}&limit=20`),
      ]);
      await Promise.all(
        byTenant.data
          .map((r) => r.tenant_id)
          .filter((id): id is string => !!id && !names.has(id))
          .map(async (id) => names.set(id, (await get<{ name: string }>(`/api/v1/tenants/${seg(id)}`)).name)),
      );
      const tenantName = (r: TopRow) => names.get(r.tenant_id ?? '') ?? r.tenant_id ?? '';
      return [
        table('Top tenants by spend', [
          { label: 'Tenant', csv: tenantName, cell: (r) => h('a', { href: `#/t/${r.tenant_id}` }, tenantName(r)) },
          { label: 'Requests', csv: (r) => String(r.requests), cell: (r) => num(r.requests), numeric: true },
          { label: 'Spend', csv: (r) => r.cost_usd, cell: (r) => money(r.cost_usd), numeric: true },
        ], byTenant.data, { empty: 'No spend in this period.', csvName: 'top-tenants.csv' }),
        table('Top models by spend', [
          { label: 'Model', csv: (r) => r.model ?? '' },
          { label: 'Requests', csv: (r) => String(r.requests), cell: (r) => num(r.requests), numeric: true },
          { label: 'Spend', csv: (r) => r.cost_usd, cell: (r) => money(r.cost_usd), numeric: true },
        ], byModel.data, { empty: 'No spend in this period.', csvName: 'top-models.csv' }),
      ];
    });
  period.addEventListener('change', () => void refresh());
  void refresh();
  return h('div', { class: 'page' }, h('div', { class: 'title-row' }, h('h1', {}, 'Top spend'), period), slot);
}
