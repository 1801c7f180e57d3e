// A tenant's alert rules (create, delete) and recent alerts with their webhook deliveries.
import { call, get, seg } from '../api';
import { h } from '../dom';
import { when } from '../format';
import { busy, type Column, field, load, optional, section, table } from '../ui';

interface Rule {
  id: string;
  kind: string;
  threshold: string | null;
  percents: number[] | null;
  window_seconds: number | null;
  webhook_url: string | null;
  created_at: string;
}

interface Alert {
  id: string;
  kind: string;
  subject: string;
  message: string;
  value: string;
  threshold: string;
  raised_at: string;
  delivery: string;
}

interface Delivery {
  attempt: number;
  url: string;
  status: number | null;
  error: string | null;
  duration_ms: number;
  attempted_at: string;
}

const KINDS: Record<string, string> = {
  balance_below: 'Balance below',
  spend_above: 'Spend above, within a window',
  key_budget: 'Key budget used (percent)',
  error_rate_above: 'Error rate above (percent), within a window',
};

function describe(rule: Rule): string {
  switch (rule.kind) {
    case 'balance_below':
      return `balance below $${rule.threshold}`;
    case 'spend_above':
      return `spend above $${rule.threshold} in ${rule.window_seconds} s`;
    case 'key_budget':
      return `key budget at ${rule.percents?.join(', ')} %`;
    case 'error_rate_above':
      return `error rate above ${rule.threshold} % in ${rule.window_seconds} s`;
    default:
      return rule.kind;
  }
}

export function alerts(tenantId: string): HTMLElement {
  const base = `/api/v1/tenants/${seg(tenantId)}/alert-rules`;
  const rulesSlot = h('div');
  const alertsSlot = h('div');
  const detail = h('div');

  const refreshRules = () =>
    load(rulesSlot, async () => {
      const rules = (await get<{ data: Rule[] }>(base)).data;
      const columns: Column<Rule>[] = [
        { label: 'Rule', csv: describe },
        { label: 'Webhook', csv: (r) => r.webhook_url ?? '', cell: (r) => r.webhook_url ?? h('span', { class: 'muted' }, 'none (stored only)') },
        { label: 'Created', csv: (r) => r.created_at, cell: (r) => when(r.created_at) },
        {
          label: '',
          csv: () => '',
          cell: (r) => {
            const status = h('span', { 'aria-live': 'polite' });
            const button = h('button', { type: 'button', class: 'danger', 'aria-label': `Delete rule ${describe(r)}` }, 'Delete');
            button.addEventListener('click', () =>
              void busy(button, status, async () => {
                await call('DELETE', `${base}/${seg(r.id)}`);
                void refreshRules();
                return 'Deleted.';
              }),
            );
            return h('span', {}, button, status);
          },
        },
      ];
      return table('Alert rules', columns, rules, { empty: 'No alert rules: add one above.', csvName: 'alert-rules.csv' });
    });

  const refreshAlerts = () =>
    load(alertsSlot, async () => {
      const raised = (await get<{ data: Alert[] }>(`/api/v1/alerts?tenant_id=${seg(tenantId)}&limit=100`)).data;
      const columns: Column<Alert>[] = [
        { label: 'Raised', csv: (a) => a.raised_at, cell: (a) => when(a.raised_at) },
        { label: 'Alert', csv: (a) => a.message },
        { label: 'Value', csv: (a) => a.value, numeric: true },
        { label: 'Threshold', csv: (a) => a.threshold, numeric: true },
        { label: 'Delivery', csv: (a) => a.delivery, cell: (a) => h('span', { class: `badge ${a.delivery === 'delivered' ? 'good' : a.delivery === 'failed' ? 'bad' : ''}` }, a.delivery) },
        {
          label: '',
          csv: () => '',
          cell: (a) => h('button', { type: 'button', class: 'secondary', onclick: () => void showDeliveries(a) }, 'Deliveries'),
        },
      ];
      return table('Recent alerts', columns, raised, { empty: 'No alerts raised.', csvName: 'alerts.csv' });
    });

  const showDeliveries = (alert: Alert) =>
    load(detail, async () => {
      const full = await get<Alert & { deliveries: Delivery[] }>(`/api/v1/alerts/${seg(alert.id)}`);
      const columns: Column<Delivery>[] = [
        { label: 'Attempt', csv: (d) => String(d.attempt), numeric: true },
        { label: 'When', csv: (d) => d.attempted_at, cell: (d) => when(d.attempted_at) },
        { label: 'URL', csv: (d) => d.url },
        { label: 'Status', csv: (d) => String(d.status ?? ''), numeric: true },
        { label: 'Error', csv: (d) => d.error ?? '' },
        { label: 'Took (ms)', csv: (d) => String(d.duration_ms), numeric: true },
      ];
      return table(`Deliveries of "${full.message}"`, columns, full.deliveries ?? [], { empty: 'No webhook deliveries (the rule has no webhook).', csvName: 'deliveries.csv' });
    });

  const kind = h('select', { name: 'kind' }, Object.entries(KINDS).map(([value, label]) => h('option', { value }, label)));
  const threshold = h('input', { name: 'threshold', inputmode: 'decimal', required: true, placeholder: '5.00' });
  const window = h('input', { name: 'window_seconds', inputmode: 'numeric', placeholder: '3600' });
  const webhook = h('input', { name: 'webhook_url', type: 'url', placeholder: 'https://example.com/hooks/tollgate' });
  const save = h('button', { type: 'submit' }, 'Add rule');
  const status = h('div', { 'aria-live': 'polite' });
  const form = h('form', {
    class: 'key-form',
    onsubmit: (event: Event) => {
      event.preventDefault();
      void busy(save, status, async () => {
        const value = threshold.value.trim();
        const body: Record<string, unknown> = { kind: kind.value, webhook_url: optional(webhook) };
        if (kind.value === 'key_budget') body.percents = value.split(',').map((p) => Number(p.trim()));
        else if (kind.value === 'error_rate_above') body.percent = Number(value);
        else body.threshold_usd = value;
        if (kind.value === 'spend_above' || kind.value === 'error_rate_above') body.window_seconds = Number(optional(window) ?? 3600);
        const made = await call<{ webhook_secret?: string }>('POST', base, body);
        void refreshRules();
        return made.webhook_secret && body.webhook_url
          ? h('p', { class: 'ok', role: 'status' }, 'Rule added. Webhook signing secret (shown once): ', h('code', {}, made.webhook_secret))
          : 'Rule added.';
      });
    },
  }, field('Kind', kind), field('Threshold (USD, or percent)', threshold), field('Window (seconds)', window), field('Webhook URL (optional)', webhook), h('div', { class: 'form-end' }, save));

  void refreshRules();
  void refreshAlerts();
  return h('div', { class: 'page' }, h('h1', {}, 'Alerts'), section('Add an alert rule', [], form, status), rulesSlot, alertsSlot, detail);
}
