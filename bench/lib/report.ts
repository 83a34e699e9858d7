// A benchmark's result: rows that each put a roam figure beside its baseline,
// rendered as a console table, a Markdown table, raw JSON and an SVG chart.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ratioOf, summarize, type Summary } from './stats.js';
import type { Side } from './measure.js';
import { barChart } from './svg.js';
import { fmt } from './format.js';

export interface Row {
  /** Which figure, e.g. "pause latency". */
  figure: string;
  /** The case within it, e.g. "idle guest, 256 MiB". */
  case: string;
  unit: string;
  roam: Side;
  /** The baseline side, or why there is none. */
  baseline: Side | { none: string };
  note?: string;
}

export interface BenchReport {
  name: string;
  title: string;
  startedAt: string;
  finishedAt: string;
  quick: boolean;
  host: Record<string, string | number>;
  rows: Row[];
  /** Set while a long benchmark is still going (or was interrupted): which of its parts the rows cover. */
  partial?: string;
}

/** Base name of a report's files: a --quick run never overwrites the full run's figures. */
export function resultsBase(report: Pick<BenchReport, 'name' | 'quick'>): string {
  return report.quick ? `${report.name}-quick` : report.name;
}

export interface RowView {
  figure: string;
  case: string;
  unit: string;
  roamLabel: string;
  roam: Summary | null;
  roamFailures: string[];
  baselineLabel: string;
  baseline: Summary | null;
  baselineFailures: string[];
  ratio: number | null;
  note: string;
}

export function viewRow(r: Row): RowView {
  const roam = summarize(r.roam.samples);
  const hasBase = !('none' in r.baseline);
  const base = hasBase ? summarize((r.baseline as Side).samples) : null;
  return {
    figure: r.figure,
    case: r.case,
    unit: r.unit,
    roamLabel: r.roam.label,
    roam,
    roamFailures: r.roam.failures,
    baselineLabel: hasBase ? (r.baseline as Side).label : `none: ${(r.baseline as { none: string }).none}`,
    baseline: base,
    baselineFailures: hasBase ? (r.baseline as Side).failures : [],
    ratio: ratioOf(roam, base),
    note: r.note ?? '',
  };
}

/** "12.3 [11.0–14.2] n=5", plus "2 failed" when runs failed; "FAILED (n)" when nothing succeeded. */
export function cell(s: Summary | null, failures: string[]): string {
  const failed = failures.length ? `, ${failures.length} FAILED` : '';
  if (!s) return failures.length ? `FAILED (${failures.length} runs)` : '—';
  return `${fmt(s.median)} [${fmt(s.min)}–${fmt(s.max)}] n=${s.n}${failed}`;
}

export function ratioCell(v: RowView): string {
  return v.ratio === null ? '—' : `${fmt(v.ratio)}×`;
}

function failureNotes(v: RowView): string[] {
  const out: string[] = [];
  v.roamFailures.forEach((f) => out.push(`roam run failed: ${f}`));
  v.baselineFailures.forEach((f) => out.push(`baseline run failed: ${f}`));
  return out;
}

const HEADERS = ['figure', 'case', 'unit', 'roam: median [min–max]', 'baseline: median [min–max]', 'roam ÷ baseline', 'who'];

function cells(v: RowView): string[] {
  return [v.figure, v.case, v.unit, cell(v.roam, v.roamFailures), cell(v.baseline, v.baselineFailures), ratioCell(v),
    `roam = ${v.roamLabel}; baseline = ${v.baselineLabel}`];
}

/** Plain-text table for the terminal (fixed-width columns, the long "who" column last). */
export function consoleTable(report: BenchReport): string {
  const views = report.rows.map(viewRow);
  const body = views.map(cells);
  const widths = HEADERS.slice(0, -1).map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.slice(0, -1).map((c, i) => c.padEnd(widths[i]!)).join(' | ');
  const out = [line(HEADERS), widths.map((w) => '-'.repeat(w)).join('-+-')];
  for (const [i, r] of body.entries()) {
    out.push(line(r));
    out.push(`    ${r[r.length - 1]}`);
    for (const f of failureNotes(views[i]!)) out.push(`    ! ${f}`);
  }
  return out.join('\n');
}

const mdEscape = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function markdown(report: BenchReport): string {
  const views = report.rows.map(viewRow);
  const out = [`# ${report.title}`, '',
    `Run ${report.startedAt} → ${report.finishedAt}${report.quick ? ' (--quick)' : ''}. ` +
    `Host: ${Object.entries(report.host).map(([k, v]) => `${k} ${v}`).join(', ')}.`, '',
    ...(report.partial ? [`**Partial results**: ${report.partial}.`, ''] : []),
    'Medians with [min–max] over n runs; each comparison ran both sides in the same run, alternating. ' +
    'Failed runs are counted in their row and listed below it, never averaged in.', '',
    `| ${HEADERS.join(' | ')} |`, `|${HEADERS.map(() => '---').join('|')}|`];
  for (const v of views) out.push(`| ${cells(v).map(mdEscape).join(' | ')} |`);
  const notes = views.flatMap((v) => [
    ...(v.note ? [`- **${v.figure}, ${v.case}**: ${v.note}`] : []),
    ...failureNotes(v).map((f) => `- **${v.figure}, ${v.case}**: ${f}`),
  ]);
  if (notes.length) out.push('', '## Notes', '', ...notes.map(mdEscape));
  out.push('', `Chart: ${resultsBase(report)}.svg. Raw samples: ${resultsBase(report)}.json.`, '');
  return out.join('\n');
}

/** Writes <dir>/<base>.json, .md and .svg (base: resultsBase); returns their paths. */
export function writeResults(report: BenchReport, dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  const views = report.rows.map(viewRow);
  const json = { ...report, summaries: views };
  const base = resultsBase(report);
  const paths = [join(dir, `${base}.json`), join(dir, `${base}.md`), join(dir, `${base}.svg`)];
  writeFileSync(paths[0]!, `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(paths[1]!, markdown(report));
  writeFileSync(paths[2]!, barChart(report.title, views.map((v) => ({
    label: `${v.figure}: ${v.case}`,
    unit: v.unit,
    bars: [
      { name: v.roamLabel, summary: v.roam, failed: v.roamFailures.length, kind: 'roam' as const },
      ...(v.baseline || v.baselineFailures.length
        ? [{ name: v.baselineLabel, summary: v.baseline, failed: v.baselineFailures.length, kind: 'baseline' as const }] : []),
    ],
    ratio: v.ratio,
  }))));
  return paths;
}
