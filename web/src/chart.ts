// The live migration chart (#migration-chart, SVG): one column per pre-copy
// round (the stop-and-copy round last), in three panels — bytes the round
// sent, the guest's dirty rate during it, and the downtime predicted after it.
import type { MigrationView, RoundPoint } from './types.js';
import { bytes, ms, rate } from './format.js';

const NS = 'http://www.w3.org/2000/svg';
const W = 360, LEFT = 58, RIGHT = 6, PANEL = 62, GAP = 18, TOP = 14;

function el<K extends keyof SVGElementTagNameMap>(name: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

interface Series { key: string; label: string; value: (p: RoundPoint) => number | null; fmt: (n: number) => string; kind: 'bar' | 'line' }

const SERIES: Series[] = [
  { key: 'bytes', label: 'bytes per round', value: (p) => p.bytes, fmt: bytes, kind: 'bar' },
  { key: 'dirty', label: 'dirty rate', value: (p) => p.dirtyBytesPerSec, fmt: rate, kind: 'line' },
  { key: 'downtime', label: 'predicted downtime', value: (p) => p.predictedDowntimeMs, fmt: ms, kind: 'line' },
];

export function renderChart(svg: SVGSVGElement, m: MigrationView | null): void {
  svg.replaceChildren();
  svg.dataset.migration = m?.id ?? '';
  svg.dataset.rounds = String(m?.rounds.length ?? 0);
  if (!m) {
    svg.append(el('text', { x: 8, y: 20 }, 'no migration yet'));
    return;
  }
  const pts = m.rounds;
  const n = Math.max(pts.length, 1);
  const colW = (W - LEFT - RIGHT) / n;
  SERIES.forEach((s, i) => {
    const top = TOP + i * (PANEL + GAP);
    const g = el('g', { 'data-series': s.key });
    const values = pts.map(s.value);
    const max = Math.max(0, ...values.filter((v): v is number => v !== null));
    g.append(el('text', { x: LEFT, y: top - 3 }, `${s.label}${max > 0 ? ` (max ${s.fmt(max)})` : ''}`));
    g.append(el('line', { class: 'axis', x1: LEFT, y1: top + PANEL, x2: W - RIGHT, y2: top + PANEL }));
    g.append(el('text', { x: 2, y: top + 10 }, max > 0 ? s.fmt(max) : '–'));
    g.append(el('text', { x: 2, y: top + PANEL }, '0'));
    const y = (v: number) => top + PANEL - (max > 0 ? (v / max) * PANEL : 0);
    const linePts: string[] = [];
    pts.forEach((p, k) => {
      const v = values[k];
      const x = LEFT + k * colW;
      if (s.kind === 'bar') {
        const h = v === null ? 0 : top + PANEL - y(v);
        const bar = el('rect', { class: `bar${p.final ? ' final' : ''}`, x: x + colW * 0.15, y: top + PANEL - h, width: Math.max(1, colW * 0.7), height: h, 'data-round': p.round, 'data-value': v ?? '' });
        bar.append(el('title', {}, `${p.final ? 'stop-and-copy' : `round ${p.round}`}: ${v === null ? 'unknown' : s.fmt(v)}`));
        g.append(bar);
      } else if (v !== null) {
        const cx = x + colW / 2;
        linePts.push(`${cx.toFixed(1)},${y(v).toFixed(1)}`);
        const dot = el('circle', { class: `dot ${s.key}`, cx, cy: y(v), r: 2.5, 'data-round': p.round, 'data-value': v });
        dot.append(el('title', {}, `round ${p.round}: ${s.fmt(v)}`));
        g.append(dot);
      }
    });
    if (linePts.length > 1) g.append(el('polyline', { class: `line ${s.key}`, points: linePts.join(' ') }));
    svg.append(g);
  });
  svg.append(el('text', { x: LEFT, y: TOP + 3 * (PANEL + GAP) - 4 }, `rounds: ${pts.length}${pts.some((p) => p.final) ? ' (last: stop-and-copy)' : ''}`));
}

export function describeMigration(m: MigrationView | null): string {
  if (!m) return 'no migration yet';
  const who = `${m.vm}: ${m.from} → ${m.to}${m.via && m.via !== m.from ? ` (asked by ${m.via})` : ''}`;
  if (m.outcome?.ok) {
    const o = m.outcome;
    return `${who}: moved in ${(o.totalMs / 1000).toFixed(1)} s, paused ${o.downtimeMs} ms, ${bytes(o.wireBytes)} on the wire in ${o.rounds} rounds`;
  }
  if (m.outcome) return `${who}: failed — ${m.outcome.error}`;
  if (m.phase === 'starting') return `${who}: starting…`;
  if (m.phase === 'home') return `${who}: handing the home directory over first…`;
  const parts = [`${m.phase} round ${m.round}`, `${Math.round(m.percent)}%`, rate(m.bytesPerSec)];
  if (m.predictedDowntimeMs !== null && m.phase === 'precopy') parts.push(`predicted downtime ${ms(m.predictedDowntimeMs)}`);
  if (m.throttle > 0) parts.push(`vCPUs throttled ${Math.round(m.throttle * 100)}%`);
  return `${who}: ${parts.join(', ')}`;
}
