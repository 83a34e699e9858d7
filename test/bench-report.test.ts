// The bench's outputs: every row shows roam beside its baseline and the ratio,
// failed runs are visible in their row, and the SVG is well-formed and escaped.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cell, consoleTable, markdown, viewRow, writeResults, type BenchReport, type Row } from '../bench/lib/report.js';
import { barChart, escapeXml } from '../bench/lib/svg.js';
import { newSide } from '../bench/lib/measure.js';
import { summarize } from '../bench/lib/stats.js';

function side(label: string, samples: number[], failures: string[] = []) {
  const s = newSide(label);
  s.samples.push(...samples);
  s.failures.push(...failures);
  return s;
}

function report(rows: Row[]): BenchReport {
  return { name: 't', title: 'T', startedAt: 'a', finishedAt: 'b', quick: true, host: { cores: 2 }, rows };
}

describe('bench report', () => {
  const compared: Row = { figure: 'pause', case: 'idle', unit: 'µs', roam: side('roam', [10, 20, 30]), baseline: side('qemu', [40, 50, 60]) };
  const failing: Row = { figure: 'save', case: '1 GiB', unit: 'ms', roam: side('roam', [], ['guest reports CORRUPT page 9']),
    baseline: side('qemu', [5, 6, 7, 8, 9]) };
  const alone: Row = { figure: 'dirty', case: '256 MiB', unit: 'ms/GiB', roam: side('roam', [1]), baseline: { none: 'no equivalent' } };

  it('a --quick run writes <name>-quick.* beside (never over) the full run, and a partial report says so', () => {
    const dir = mkdtempSync(join(tmpdir(), 'roam-bench-'));
    try {
      writeResults(report([compared]), dir);
      writeResults({ ...report([alone]), quick: false, partial: '1 of 8 cases measured' }, dir);
      assert.deepEqual(readdirSync(dir).sort(), ['t-quick.json', 't-quick.md', 't-quick.svg', 't.json', 't.md', 't.svg']);
      assert.match(readFileSync(join(dir, 't.md'), 'utf8'), /\*\*Partial results\*\*: 1 of 8 cases measured/);
      assert.doesNotMatch(readFileSync(join(dir, 't-quick.md'), 'utf8'), /Partial/);
      assert.match(readFileSync(join(dir, 't-quick.md'), 'utf8'), /\| pause \| idle \|/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('computes the ratio of the medians and shows both sides with their ranges', () => {
    const v = viewRow(compared);
    assert.equal(v.ratio, 0.4);
    const md = markdown(report([compared]));
    assert.match(md, /\| pause \| idle \| µs \| 20\.0 \[10\.0–30\.0\] n=3 \| 50\.0 \[40\.0–60\.0\] n=3 \| 0\.400× \|/);
  });

  it('a side whose runs all failed says FAILED in its row and lists why; no ratio is invented', () => {
    const v = viewRow(failing);
    assert.equal(v.roam, null);
    assert.equal(v.ratio, null);
    const text = consoleTable(report([failing]));
    assert.match(text, /FAILED \(1 runs\)/);
    assert.match(text, /roam run failed: guest reports CORRUPT page 9/);
    assert.match(markdown(report([failing])), /roam run failed: guest reports CORRUPT page 9/);
  });

  it('partial failures are counted beside the median', () => {
    assert.equal(cell(summarize([1, 2, 3]), ['boom']), '2.00 [1.00–3.00] n=3, 1 FAILED');
  });

  it('a row without a baseline says why instead of a ratio', () => {
    const v = viewRow(alone);
    assert.equal(v.baseline, null);
    assert.match(v.baselineLabel, /none: no equivalent/);
    assert.match(markdown(report([alone])), /\| — \| roam = roam; baseline = none: no equivalent \|/);
  });

  it('escapes pipes in Markdown cells', () => {
    const r: Row = { ...alone, case: 'a|b' };
    assert.match(markdown(report([r])), /a\\\|b/);
  });

  it('draws one bar per side with the median as width proportional within its group, escaped text', () => {
    const svg = barChart('A & <B>', [{
      label: 'x', unit: 'ms', ratio: 0.5,
      bars: [{ name: 'roam', summary: summarize([5]), failed: 0, kind: 'roam' },
        { name: 'q<emu>', summary: summarize([10]), failed: 0, kind: 'baseline' }],
    }, { label: 'y', unit: 'ms', ratio: null, bars: [{ name: 'roam', summary: null, failed: 2, kind: 'roam' }] }]);
    assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(svg, /A &amp; &lt;B&gt;/);
    assert.match(svg, /q&lt;emu&gt;/);
    const widths = [...svg.matchAll(/<rect x="\d+" y="\d+" width="([\d.]+)"/g)].map((m) => Number(m[1]));
    assert.equal(widths.length, 2);
    assert.equal(widths[0]! * 2, widths[1]);
    assert.match(svg, /FAILED \(2 runs\)/);
    assert.equal((svg.match(/<svg/g) ?? []).length, (svg.match(/<\/svg>/g) ?? []).length);
    assert.equal(escapeXml('"&'), '&quot;&amp;');
  });

  it('scales bars by the medians: an outlier gets an arrowhead, not the whole scale', () => {
    const bars = (max: number) => barChart('t', [{ label: 'x', unit: 'µs', ratio: null,
      bars: [{ name: 'roam', summary: summarize([10, 10, max]), failed: 0, kind: 'roam' as const }] }]);
    const width = (svg: string) => Number(/<rect x="\d+" y="\d+" width="([\d.]+)"/.exec(svg)![1]);
    assert.equal(width(bars(11)), width(bars(10_000)));
    assert.doesNotMatch(bars(11), /<path /);
    assert.match(bars(10_000), /<path /);
  });
});
