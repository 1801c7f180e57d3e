// A tenant's overview: balance and projection, spend and requests over time (by model, key
// or provider), cache hits and savings, latency and error rate, and the spend by model.
import { type Me, get, seg } from '../api';
import { buckets, chart, pivot } from '../chart';
import { h } from '../dom';
import { approxMoney, centsText, money, num, percent, when } from '../format';
import { type Column, load, section, table } from '../ui';
import { creditForms } from './credits';

interface Balance {
  balance_usd: string;
  credited_usd: string;
  adjusted_usd: string;
  spent_usd: string;
  as_of: string;
}

interface Tenant {
  id: string;
  name: string;
  budget_usd: string | null;
  budget_period: string;
  period_spent_usd: string;
  period_resets_at: string | null;
}

interface CostRow {
  day?: string;
  hour?: string;
  model?: string;
  key_id?: string;
  provider?: string;
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  cost_usd: string;
  cache_hits: number;
  saved_usd: string;
}

interface UsageRow {
  minute?: string;
  hour?: string;
  day?: string;
  requests: number;
  errors: number;
  error_rate: number;
  latency_p50_ms: number | null;
  latency_p99_ms: number | null;
}

const RANGES: Record<string, { period: string; bucket: 'hour' | 'day'; label: string }> = {
  '24h': { period: '24h', bucket: 'hour', label: 'Last 24 hours, by hour' },
  '7d': { period: '7d', bucket: 'hour', label: 'Last 7 days, by hour' },
  '30d': { period: '30d', bucket: 'day', label: 'Last 30 days, by day' },
  '90d': { period: '90d', bucket: 'day', label: 'Last 90 days, by day' },
};

function stat(label: string, value: Node | string, note?: Node | string): HTMLElement {
  return h('div', { class: 'stat' }, h('span', { class: 'stat-label' }, label), h('span', { class: 'stat-value' }, value), note ? h('span', { class: 'stat-note' }, note) : null);
}

function sum(values: string[]): number {
  return values.reduce((total, v) => total + Number(v), 0);
}

export function overview(me: Me, tenantId: string): HTMLElement {
  const base = `/api/v1/tenants/${seg(tenantId)}`;
  const head = h('div', { class: 'stats' });
  const usage = h('div');
  const page = h('div', { class: 'page' }, head, usage);
  // The ledger books a grant within moments of its answer: look now and once more shortly.
  const afterGrant = () => {
    void refreshHead(true);
    window.setTimeout(() => void refreshHead(true), 1500);
  };
  if (me.kind === 'operator') page.append(creditForms(me, tenantId, afterGrant));

  const refreshHead = (quiet = false) =>
    load(head, async () => {
      const [tenant, balance, week] = await Promise.all([
        get<Tenant>(base),
        get<Balance>(`${base}/balance`),
        get<{ data: CostRow[] }>(`/api/v1/analytics/costs?tenant_id=${seg(tenantId)}&period=7d&group_by=hour`),
      ]);
      const perDay = sum(week.data.map((r) => r.cost_usd)) / 7;
      const left = Number(balance.balance_usd);
      const projection =
        perDay > 0
          ? left > 0
            ? `At ${approxMoney(perDay)} a day (last 7 days), it lasts about ${num(Math.floor(left / perDay))} more days.`
            : 'The balance is used up: requests are refused until credit is added.'
          : 'No spend in the last 7 days.';
      const budget = tenant.budget_usd
        ? h('span', {}, money(tenant.period_spent_usd), ` of `, money(tenant.budget_usd), ` this ${tenant.budget_period}`)
        : h('span', {}, money(tenant.period_spent_usd), ' (no tenant budget)');
      return [
        h('h1', {}, tenant.name),
        h(
          'div',
          { class: 'stat-row' },
          stat('Balance', h('span', { 'data-testid': 'balance' }, money(balance.balance_usd)), h('span', {}, 'as of ', when(balance.as_of))),
          stat('Credited', money(balance.credited_usd), balance.adjusted_usd !== '0' ? h('span', {}, 'adjusted ', money(balance.adjusted_usd)) : undefined),
          stat('Spent', money(balance.spent_usd), budget),
          stat('Projection', perDay > 0 ? `${approxMoney(perDay)}/day` : '—', projection),
        ),
      ];
    }, { quiet });

  const rangeSelect = h('select', { 'aria-label': 'Time range' }, Object.entries(RANGES).map(([value, r]) => h('option', { value }, r.label)));
  rangeSelect.value = '7d';
  const bySelect = h(
    'select',
    { 'aria-label': 'Break down by' },
    h('option', { value: '' }, 'All together'),
    h('option', { value: 'model' }, 'By model'),
    h('option', { value: 'key' }, 'By key'),
    h('option', { value: 'provider' }, 'By provider'),
  );
  const refreshUsage = (quiet = false) => {
    const range = RANGES[rangeSelect.value];
    const by = bySelect.value;
    const group = by ? `${range.bucket},${by}` : range.bucket;
    const query = `tenant_id=${seg(tenantId)}&period=${range.period}`;
    return load(usage, async () => {
      const [costs, perModel, health, keyNames] = await Promise.all([
        get<{ data: CostRow[]; from: string; to: string }>(`/api/v1/analytics/costs?${query}&group_by=${group}`),
        get<{ data: CostRow[] }>(`/api/v1/analytics/costs?${query}&group_by=model`),
        get<{ data: UsageRow[] }>(`/api/v1/analytics/usage?${query}&interval=${range.bucket}`),
        by === 'key' ? get<{ data: { id: string; name: string }[] }>(`${base}/keys`) : Promise.resolve({ data: [] }),
      ]);
      const names = new Map(keyNames.data.map((k) => [k.id, k.name]));
      const times = buckets(costs.from, costs.to, range.bucket === 'hour' ? 3600 : 86400);
      const time = (r: CostRow | UsageRow) => (range.bucket === 'hour' ? r.hour : r.day) ?? '';
      const label = (r: CostRow) => (by === 'model' ? r.model : by === 'key' ? names.get(r.key_id ?? '') ?? r.key_id : by === 'provider' ? r.provider : 'all') ?? '(none)';
      const requests = costs.data.reduce((n, r) => n + r.requests, 0);
      const hits = costs.data.reduce((n, r) => n + r.cache_hits, 0);
      const saved = sum(costs.data.map((r) => r.saved_usd));
      const errors = health.data.reduce((n, r) => n + r.errors, 0);
      const worstP99 = Math.max(0, ...health.data.map((r) => r.latency_p99_ms ?? 0));
      const summary = h(
        'div',
        { class: 'stat-row' },
        stat('Requests', h('span', { 'data-testid': 'requests' }, num(requests))),
        stat('Cache hits', num(hits), requests ? `${percent(hits / requests)} of requests, saved ${centsText(saved.toFixed(6))}` : undefined),
        stat('Error rate', requests ? percent(errors / requests) : '—', `${num(errors)} errors`),
        stat('Latency p99', worstP99 ? `${worstP99.toFixed(1)} ms` : '—', 'worst bucket'),
      );
      const charts =
        costs.data.length === 0
          ? [h('p', { class: 'empty' }, 'No requests in this range yet. Send one with one of your keys and it shows here within seconds.')]
          : [
              chart('Spend', pivot(costs.data, times, time, label, (r) => Number(r.cost_usd)), approxMoney),
              chart('Requests', pivot(costs.data, times, time, label, (r) => r.requests), (v) => num(v)),
              chart(
                'Latency (p50 and p99, ms)',
                {
                  times,
                  lines: [
                    pivot(health.data, times, time, () => 'p50', (r) => r.latency_p50_ms, null).lines[0],
                    pivot(health.data, times, time, () => 'p99', (r) => r.latency_p99_ms, null).lines[0],
                  ].filter(Boolean),
                },
                (v) => `${v} ms`,
              ),
            ];
      const columns: Column<CostRow>[] = [
        { label: 'Model', csv: (r) => r.model ?? '' },
        { label: 'Requests', csv: (r) => String(r.requests), cell: (r) => num(r.requests), numeric: true },
        { label: 'Prompt tokens', csv: (r) => String(r.prompt_tokens), cell: (r) => num(r.prompt_tokens), numeric: true },
        { label: 'Completion tokens', csv: (r) => String(r.completion_tokens), cell: (r) => num(r.completion_tokens), numeric: true },
        { label: 'Cost (USD)', csv: (r) => r.cost_usd, cell: (r) => money(r.cost_usd), numeric: true },
        { label: 'Cache hits', csv: (r) => String(r.cache_hits), cell: (r) => num(r.cache_hits), numeric: true },
        { label: 'Saved (USD)', csv: (r) => r.saved_usd, cell: (r) => money(r.saved_usd), numeric: true },
      ];
      return [
        section('Usage', [rangeSelect, bySelect], summary, ...charts),
        table('Spend by model', columns, perModel.data, { empty: 'No spend in this range.', csvName: `spend-by-model-${rangeSelect.value}.csv` }),
      ];
    }, { quiet });
  };
  rangeSelect.addEventListener('change', () => void refreshUsage());
  bySelect.addEventListener('change', () => void refreshUsage());
  void refreshHead();
  void refreshUsage();
  // The balance and usage follow new requests while the page is open.
  const timer = window.setInterval(() => {
    if (!page.isConnected) return window.clearInterval(timer);
    if (document.visibilityState === 'visible' && !page.contains(document.activeElement)) {
      void refreshHead(true);
      void refreshUsage(true);
    }
  }, 10000);
  return page;
}
