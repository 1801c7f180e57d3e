// Time series charts (uPlot): one line per series over shared time buckets.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { h } from './dom';

const PALETTE = ['#2563eb', '#d97706', '#059669', '#dc2626', '#7c3aed', '#0891b2', '#be185d', '#4b5563'];

/** Buckets (unix seconds) and one array of values per named series. */
export interface Series {
  times: number[];
  lines: { label: string; values: (number | null)[] }[];
}

/** Every bucket start (unix seconds, UTC-aligned) of `step` seconds from `from` to `to`. */
export function buckets(from: string, to: string, step: number): number[] {
  const first = Math.floor(Date.parse(from) / 1000 / step) * step;
  const last = Date.parse(to) / 1000;
  const out: number[] = [];
  for (let t = first; t < last; t += step) out.push(t);
  return out;
}

/** Pivots rows of `{time, group, value}` into one series per group over `times` (a bucket
 * without a row is `empty`: 0 for counts and money, null for a gap). */
export function pivot<T>(
  rows: T[],
  times: number[],
  time: (r: T) => string,
  group: (r: T) => string,
  value: (r: T) => number | null,
  empty: number | null = 0,
): Series {
  const index = new Map(times.map((t, i) => [t, i]));
  const groups = new Map<string, (number | null)[]>();
  for (const row of rows) {
    const at = index.get(Date.parse(time(row)) / 1000);
    if (at === undefined) continue;
    const name = group(row);
    if (!groups.has(name)) groups.set(name, new Array(times.length).fill(empty));
    const values = groups.get(name)!;
    const v = value(row);
    values[at] = v === null ? values[at] : (values[at] ?? 0) + v;
  }
  return { times, lines: [...groups.entries()].map(([label, values]) => ({ label, values })) };
}

/** Charts on the page: a chart whose figure left the page (a redraw, another page) is
 * destroyed, with its resize observer, before the next one is drawn. */
const live: { box: HTMLElement; plot: uPlot; observer: ResizeObserver }[] = [];

export function sweep(): void {
  for (let i = live.length - 1; i >= 0; i--) {
    if (!live[i].box.isConnected) {
      live[i].plot.destroy();
      live[i].observer.disconnect();
      live.splice(i, 1);
    }
  }
}

/** A chart of `series` that follows its container's width; `format` labels the y axis. */
export function chart(title: string, series: Series, format: (v: number) => string): HTMLElement {
  const box = h('figure', { class: 'chart', role: 'img', 'aria-label': title });
  const width = () => Math.max(280, (box.parentElement?.clientWidth ?? 640) - 8);
  const options: uPlot.Options = {
    width: 640,
    height: 240,
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true, range: () => [series.times[0], series.times[series.times.length - 1]] } },
    axes: [{}, { values: (_u, ticks) => ticks.map(format), size: 76 }],
    series: [
      {},
      ...series.lines.map((line, i) => ({
        label: line.label,
        stroke: PALETTE[i % PALETTE.length],
        width: 2,
        points: { show: true, size: series.times.length < 40 ? 6 : 3 },
        value: (_u: uPlot, v: number | null) => (v === null ? '—' : format(v)),
      })),
    ],
  };
  const data = [series.times, ...series.lines.map((l) => l.values)] as uPlot.AlignedData;
  // Draw once the figure is in the page (uPlot measures its parent).
  requestAnimationFrame(() => {
    sweep();
    if (!box.isConnected) return;
    const plot = new uPlot({ ...options, width: width() }, data, box);
    const observer = new ResizeObserver(() => plot.setSize({ width: width(), height: 240 }));
    if (box.parentElement) observer.observe(box.parentElement);
    live.push({ box, plot, observer });
  });
  return box;
}
