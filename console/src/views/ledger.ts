// A tenant's credit history: every ledger entry, newest first, page by page.
import { get, seg } from '../api';
import { h, replace } from '../dom';
import { money, when } from '../format';
import { type Column, load, nextPageButton, table } from '../ui';

interface Entry {
  event_id: string;
  kind: string;
  amount_usd: string;
  occurred_at: string;
  request_id?: string | null;
  api_key_id?: string | null;
  model?: string | null;
  note?: string | null;
}

const KINDS: Record<string, string> = {
  'usage.recorded': 'usage',
  'credits.granted': 'credit',
  'credits.adjusted': 'adjustment',
};

export function ledger(tenantId: string): HTMLElement {
  const rows: Entry[] = [];
  const slot = h('div');
  let next: string | null = null;
  const columns: Column<Entry>[] = [
    { label: 'When', csv: (e) => e.occurred_at, cell: (e) => when(e.occurred_at) },
    { label: 'Kind', csv: (e) => KINDS[e.kind] ?? e.kind },
    { label: 'Amount (USD)', csv: (e) => e.amount_usd, cell: (e) => money(e.amount_usd), numeric: true },
    { label: 'Model', csv: (e) => e.model ?? '' },
    { label: 'Detail', csv: (e) => e.note ?? e.request_id ?? '' },
    { label: 'Event', csv: (e) => e.event_id, cell: (e) => h('code', { class: 'id' }, e.event_id) },
  ];
  const more = async () => {
    const query: string = next ? `&before=${seg(next)}` : '';
    const page = await get<{ data: Entry[]; next_before: string | null }>(`/api/v1/tenants/${seg(tenantId)}/ledger?limit=100${query}`);
    rows.push(...page.data);
    next = page.next_before;
  };
  const render = () => {
    const older = next ? nextPageButton('Older entries', more, () => replace(slot, render())) : undefined;
    return table('Credit history', columns, rows, { empty: 'Nothing booked yet: credits and usage appear here once the ledger books them.', csvName: 'ledger.csv', footer: older });
  };
  void load(slot, async () => (await more(), render()));
  return h('div', { class: 'page' }, h('h1', {}, 'Ledger'), slot);
}
