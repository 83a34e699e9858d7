// The progress display: what a person sees during a long send or sync.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { ProgressDisplay, bar, describeProgress } from '../node/cli/progress.js';

function sink(isTTY: boolean) {
  const chunks: string[] = [];
  const out = Object.assign(new Writable({ write(c, _e, cb) { chunks.push(c.toString()); cb(); } }), { isTTY, columns: 120 });
  return { out, text: () => chunks.join(''), chunks };
}

describe('progress display', () => {
  it('describes percent, throughput, ETA, round and phase', () => {
    assert.equal(describeProgress({ phase: 'precopy', round: 2, percent: 45.4, bytesPerSec: 12_345_678, etaMs: 3_400 }),
      ' 45%  12.3 MB/s  ETA 3s  round 2  precopy');
    assert.equal(describeProgress({ phase: 'sync', percent: 100, bytesPerSec: 0, etaMs: 125_000 }), '100%  0.0 MB/s  ETA 2m05s  sync');
    assert.match(describeProgress({ phase: 'hello', percent: -3, bytesPerSec: 1, etaMs: Infinity }), /^ {2}0% .*ETA --/);
    assert.match(describeProgress({ phase: 'hello', percent: 0, bytesPerSec: 0, etaMs: 9e15 }), /ETA --/, 'no absurd estimate before anything was measured');
  });

  it('draws a bar that fills with the percentage', () => {
    assert.equal(bar(0, 10), '[..........]');
    assert.equal(bar(50, 10), '[#####.....]');
    assert.equal(bar(150, 10), '[##########]');
  });

  it('redraws one line in place on a terminal', () => {
    const s = sink(true);
    const d = new ProgressDisplay(s.out);
    d.update({ phase: 'precopy', round: 0, percent: 10, bytesPerSec: 1e6 });
    d.update({ phase: 'precopy', round: 0, percent: 20, bytesPerSec: 1e6 });
    d.finish('done');
    assert.equal(s.text().split('\n').length, 3, 'one bar line, one message line');
    assert.equal((s.text().match(/\r\x1b\[2K/g) ?? []).length, 2);
    assert.match(s.text(), /\[#{5}\.{19}\] {2}20%/);
  });

  it('prints plain lines elsewhere, at most one a second unless the round changes', () => {
    let t = 0;
    const s = sink(false);
    const d = new ProgressDisplay(s.out, () => t);
    d.update({ phase: 'precopy', round: 0, percent: 10, bytesPerSec: 1e6 });
    t = 200; d.update({ phase: 'precopy', round: 0, percent: 11, bytesPerSec: 1e6 });
    t = 300; d.update({ phase: 'precopy', round: 1, percent: 60, bytesPerSec: 1e6 });
    t = 1500; d.update({ phase: 'precopy', round: 1, percent: 70, bytesPerSec: 1e6 });
    d.finish();
    const lines = s.text().trim().split('\n');
    assert.deepEqual(lines.map((l) => l.trim().split(/\s+/)[0]), ['10%', '60%', '70%']);
    assert.ok(!s.text().includes('\r'), 'no carriage returns in a log');
  });
});
