// Money to the cent with the exact decimal on hover; times in the browser's zone with UTC on
// hover; counts with grouping.
import { h } from './dom';

const usd = new Intl.NumberFormat(undefined, {
  style: 'currency',
  currency: 'USD',
  minimumFractionDigits: 2,
  maximumFractionDigits: 2,
});
const count = new Intl.NumberFormat();
const local = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** A USD decimal string rounded to the cent (half away from zero, on the decimal digits). */
export function centsText(value: string): string {
  const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(value.trim());
  if (!match) return value;
  const [, sign, whole, fraction = ''] = match;
  let cents = BigInt(whole) * 100n + BigInt((fraction + '00').slice(0, 2));
  if ((fraction[2] ?? '0') >= '5') cents += 1n;
  const amount = Number(cents) / 100;
  return usd.format(sign === '-' && cents !== 0n ? -amount : amount);
}

/** A money cell: cents shown, the exact value in the title. */
export function money(value: string | null | undefined): HTMLElement {
  if (value === null || value === undefined) return h('span', { class: 'muted' }, '—');
  return h('span', { class: 'money', title: `$${value} exactly`, 'data-exact': value }, centsText(value));
}

/** A time cell: local time shown, UTC in the title. */
export function when(iso: string | null | undefined): HTMLElement {
  if (!iso) return h('span', { class: 'muted' }, '—');
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return h('span', {}, iso);
  return h('time', { datetime: iso, title: `${date.toISOString().replace('.000Z', 'Z')} UTC` }, local.format(date));
}

/** A whole number with grouping; `—` for null. */
export function num(value: number | null | undefined): string {
  return value === null || value === undefined ? '—' : count.format(value);
}

/** A ratio 0..1 as a percent. */
export function percent(ratio: number): string {
  return `${(ratio * 100).toFixed(ratio > 0 && ratio < 0.001 ? 2 : 1)} %`;
}

/** An approximate amount (a rate, an axis tick): cents, or two significant digits below a cent. */
export function approxMoney(v: number): string {
  if (v === 0) return '$0';
  if (Math.abs(v) >= 0.01) return usd.format(v);
  // Two significant digits written out ("$0.0000014"), never in exponent form.
  const abs = Number(Math.abs(v).toPrecision(2));
  if (abs >= 0.01) return usd.format(Math.sign(v) * abs);
  return `${v < 0 ? '-' : ''}$${abs.toFixed(Math.min(20, 1 - Math.floor(Math.log10(abs))))}`;
}
