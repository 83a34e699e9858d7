// A dependency-free SVG bar chart: one group per comparison, each group on
// its own scale (figures differ in unit and size), the median as the bar,
// min–max as a whisker, the value and the ratio written out. The scale
// follows the medians, so one outlier cannot squash the bars: a whisker
// that runs off the scale ends in an arrowhead.
import type { Summary } from './stats.js';
import { fmt } from './format.js';

export interface ChartBar { name: string; summary: Summary | null; failed: number; kind: 'roam' | 'baseline' }
export interface ChartGroup { label: string; unit: string; bars: ChartBar[]; ratio: number | null }

const WIDTH = 1000;
const NAME_W = 320;
const BAR_X = NAME_W + 10;
const BAR_MAX = 420;
const BAR_H = 16;
const COLORS = { roam: '#2f6fb0', baseline: '#b0702f' } as const;

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function clip(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

export function barChart(title: string, groups: ChartGroup[]): string {
  const parts: string[] = [];
  let y = 40;
  for (const g of groups) {
    const scaleMax = 1.25 * Math.max(0, ...g.bars.map((b) => b.summary?.median ?? 0));
    const ratio = g.ratio === null ? '' : `\u00a0\u00a0·\u00a0\u00a0roam ÷ baseline = ${fmt(g.ratio)}×`;
    parts.push(`<text x="10" y="${y + 12}" font-weight="bold">${escapeXml(clip(`${g.label} (${g.unit})`, 110))}` +
      `<tspan font-weight="normal" fill="#555">${escapeXml(ratio)}</tspan></text>`);
    y += 20;
    for (const b of g.bars) {
      parts.push(`<text x="${NAME_W}" y="${y + 12}" text-anchor="end">${escapeXml(clip(b.name, 48))}</text>`);
      if (!b.summary) {
        parts.push(`<text x="${BAR_X}" y="${y + 12}" fill="#c00000">FAILED (${b.failed} runs)</text>`);
      } else {
        const px = (v: number) => (scaleMax > 0 ? Math.min(BAR_MAX, (v / scaleMax) * BAR_MAX) : 0);
        const s = b.summary;
        const w = Math.max(1, px(s.median));
        parts.push(`<rect x="${BAR_X}" y="${y}" width="${w.toFixed(1)}" height="${BAR_H}" fill="${COLORS[b.kind]}"/>`);
        const wy = y + BAR_H / 2;
        const x2 = BAR_X + px(s.max);
        parts.push(`<line x1="${(BAR_X + px(s.min)).toFixed(1)}" y1="${wy}" x2="${x2.toFixed(1)}" y2="${wy}" stroke="#222" stroke-width="1.5"/>`);
        if (s.max > scaleMax) parts.push(`<path d="M${x2} ${wy - 4} L${x2 + 6} ${wy} L${x2} ${wy + 4} Z" fill="#222"/>`);
        const failed = b.failed ? `, ${b.failed} FAILED` : '';
        parts.push(`<text x="${BAR_X + BAR_MAX + 10}" y="${y + 12}">${escapeXml(`${fmt(s.median)} [${fmt(s.min)}–${fmt(s.max)}] n=${s.n}${failed}`)}</text>`);
      }
      y += BAR_H + 6;
    }
    y += 14;
  }
  const height = y + 10;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="10" y="22" font-size="16" font-weight="bold">${escapeXml(title)}</text>`,
    `<text x="${WIDTH - 10}" y="22" text-anchor="end" fill="#555">bar = median, line = min–max; <tspan fill="${COLORS.roam}">■ roam</tspan> <tspan fill="${COLORS.baseline}">■ baseline</tspan></text>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
