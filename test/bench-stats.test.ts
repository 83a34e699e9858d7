// The bench's summaries: medians, quartiles, ranges and ratios are what every
// published figure rests on, so their arithmetic is pinned here.
import assert from 'node:assert/strict';
import { quantileSorted, ratioOf, summarize } from '../bench/lib/stats.js';
import { newSide, trial } from '../bench/lib/measure.js';

describe('bench stats', () => {
  it('summarises an odd count: median is the middle sample whatever the input order', () => {
    const s = summarize([9, 1, 5, 3, 7]);
    assert.deepEqual(s, { n: 5, median: 5, min: 1, max: 9, q1: 3, q3: 7 });
  });

  it('interpolates the median and quartiles of an even count', () => {
    const s = summarize([4, 1, 3, 2])!;
    assert.equal(s.median, 2.5);
    assert.equal(s.q1, 1.75);
    assert.equal(s.q3, 3.25);
  });

  it('ignores non-finite samples and gives null when nothing is left', () => {
    assert.equal(summarize([]), null);
    assert.equal(summarize([NaN, Infinity]), null);
    assert.equal(summarize([NaN, 2])!.median, 2);
  });

  it('a single outlier moves the range, not the median', () => {
    const s = summarize([10, 11, 12, 10, 1000])!;
    assert.equal(s.median, 11);
    assert.equal(s.max, 1000);
  });

  it('refuses quantiles outside 0..1 and of nothing', () => {
    assert.throws(() => quantileSorted([1, 2], 1.5), /outside 0..1/);
    assert.throws(() => quantileSorted([], 0.5), /no samples/);
  });

  it('ratio is roam median over baseline median, null without both or with a zero baseline', () => {
    assert.equal(ratioOf(summarize([2, 4, 6]), summarize([1, 2, 3])), 2);
    assert.equal(ratioOf(summarize([2]), null), null);
    assert.equal(ratioOf(null, summarize([2])), null);
    assert.equal(ratioOf(summarize([2]), summarize([0])), null);
  });

  it('a failed run is recorded with its reason and adds no sample', async () => {
    const side = newSide('x');
    assert.equal(await trial(side, () => 3), 3);
    assert.equal(await trial(side, async () => { throw new Error('guest reports CORRUPT page 7'); }), null);
    assert.equal(await trial(side, () => NaN), null);
    assert.deepEqual(side.samples, [3]);
    assert.equal(side.failures.length, 2);
    assert.match(side.failures[0]!, /CORRUPT page 7/);
  });
});
