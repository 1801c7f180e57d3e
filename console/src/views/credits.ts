// The operator's money forms on a tenant's page: grant credit, adjust the balance, and the
// auto top-up rule. Each form render owns one idempotency key, so a double click or a retry of
// the same submission credits once; a new key is drawn after a submission succeeds.
import { ApiError, type Me, call, get, newIdempotencyKey, seg } from '../api';
import { h } from '../dom';
import { centsText, money, when } from '../format';
import { busy, field, load, section } from '../ui';

interface MoneyEvent {
  event_id: string;
  amount_usd: string;
}

interface AutoTopup {
  threshold_usd: string;
  amount_usd: string;
  updated_at: string;
}

function moneyForm(
  title: string,
  submitLabel: string,
  extra: HTMLInputElement,
  extraLabel: string,
  send: (amount: string, extra: string, idempotencyKey: string) => Promise<MoneyEvent>,
  done: () => void,
): HTMLElement {
  // One idempotency key per submission content: a retry of the same amount and note (after an
  // error or a timeout, a double click, even after editing back and forth) reuses it, so it is
  // booked at most once; a success starts afresh, so the same amount again is a new grant.
  const keys = new Map<string, string>();
  const amount = h('input', { name: 'amount_usd', inputmode: 'decimal', required: true, placeholder: '25.00', autocomplete: 'off' });
  const button = h('button', { type: 'submit' }, submitLabel);
  const status = h('div', { 'aria-live': 'polite' });
  const form = h(
    'form',
    {
      class: 'inline-form',
      onsubmit: (event: Event) => {
        event.preventDefault();
        void busy(button, status, async () => {
          const content = JSON.stringify([amount.value.trim(), extra.value.trim()]);
          const idempotencyKey = keys.get(content) ?? newIdempotencyKey('console');
          keys.set(content, idempotencyKey);
          const answer = await send(amount.value.trim(), extra.value.trim(), idempotencyKey);
          keys.clear();
          amount.value = '';
          extra.value = '';
          done();
          return h('p', { class: 'ok', role: 'status' }, `${title}: `, money(answer.amount_usd), ` booked (event ${answer.event_id}).`);
        });
      },
    },
    field('Amount (USD)', amount),
    field(extraLabel, extra),
    button,
  );
  return h('div', {}, form, status);
}

export function creditForms(me: Me, tenantId: string, changed: () => void): HTMLElement {
  const base = `/api/v1/tenants/${seg(tenantId)}`;
  const canBill = me.role === 'admin' || me.role === 'billing';
  if (!canBill) return section('Credit', [], h('p', { class: 'muted' }, 'Your operator role may look but not grant credit.'));
  const grant = moneyForm(
    'Credit',
    'Grant credit',
    h('input', { name: 'note', maxlength: 200, placeholder: 'Invoice 1042' }),
    'Note (optional)',
    (amount, note, key) => call<MoneyEvent>('POST', `${base}/credits`, { amount_usd: amount, idempotency_key: key, note: note || undefined }),
    changed,
  );
  const adjust = moneyForm(
    'Adjustment',
    'Adjust balance',
    h('input', { name: 'reason', maxlength: 200, required: true, placeholder: 'Refund for outage' }),
    'Reason',
    (amount, reason, key) => call<MoneyEvent>('POST', `${base}/adjustments`, { amount_usd: amount, reason, idempotency_key: key }),
    changed,
  );
  const topup = h('div');
  const showTopup = () =>
    load(topup, async () => {
      let rule: AutoTopup | null = null;
      try {
        rule = await get<AutoTopup>(`${base}/auto-topup`);
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 404)) throw error;
      }
      const threshold = h('input', { name: 'threshold_usd', inputmode: 'decimal', required: true, value: rule?.threshold_usd ?? '' });
      const amount = h('input', { name: 'topup_amount_usd', inputmode: 'decimal', required: true, value: rule?.amount_usd ?? '' });
      const save = h('button', { type: 'submit' }, rule ? 'Save rule' : 'Set rule');
      const status = h('div', { 'aria-live': 'polite' });
      const remove = h('button', {
        type: 'button',
        class: 'danger',
        hidden: !rule,
        onclick: () =>
          void busy(remove, status, async () => {
            await call('DELETE', `${base}/auto-topup`);
            void showTopup();
            return 'Auto top-up removed.';
          }),
      }, 'Remove');
      return [
        h('p', {}, rule
          ? h('span', {}, 'When the balance falls below ', money(rule.threshold_usd), ', ', money(rule.amount_usd), ' is credited (set ', when(rule.updated_at), ').')
          : 'No auto top-up rule.'),
        h('form', {
          class: 'inline-form',
          onsubmit: (event: Event) => {
            event.preventDefault();
            void busy(save, status, async () => {
              await call('PUT', `${base}/auto-topup`, { threshold_usd: threshold.value.trim(), amount_usd: amount.value.trim() });
              void showTopup();
              return `Auto top-up: below ${centsText(threshold.value.trim())}, add ${centsText(amount.value.trim())}.`;
            });
          },
        }, field('When the balance is below (USD)', threshold), field('Credit (USD)', amount), save, remove),
        status,
      ];
    });
  void showTopup();
  const wrap = h('div', { class: 'grid-2' },
    section('Grant credit', [], grant),
    section('Adjust balance', [], h('p', { class: 'muted' }, 'Signed: a negative amount takes money back.'), adjust),
    section('Auto top-up', [], topup),
  );
  return wrap;
}

