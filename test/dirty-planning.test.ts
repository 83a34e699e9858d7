import assert from 'node:assert/strict';
import { BandwidthMeter, DirtyRateEstimator, Ewma, MonotoneEta, THROTTLE_STEPS, deadlinePresses, hasConverged, nextThrottle, predictDowntimeMs } from '../dirty-tracking/index.js';

describe('dirty-tracking: rates and round planning', () => {
  it('predicted downtime = dirty bytes / bandwidth', () => {
    assert.equal(predictDowntimeMs(256, 4096 * 256 * 10), 100);   // 1 MiB at 10 MiB/s
    assert.equal(predictDowntimeMs(0, 0), 0);
    assert.equal(predictDowntimeMs(1, 0), Infinity, 'unmeasured bandwidth never predicts convergence');
    assert.ok(hasConverged(50, 50) && !hasConverged(50.1, 50));
  });

  it('EWMA seeds with the first sample and moves toward new ones', () => {
    const e = new Ewma(0.5);
    assert.equal(e.add(100), 100);
    assert.equal(e.add(0), 50);
    assert.equal(e.add(NaN), 50, 'non-finite samples are ignored');
    const d = new DirtyRateEstimator(1);
    assert.equal(d.record(500, 0.5), 1000);
    assert.equal(d.record(10, 0), 1000, 'zero-length intervals are ignored');
    const b = new BandwidthMeter(0.5);
    b.record(1000, 1); b.record(3000, 1);
    assert.equal(b.bytesPerSecond(), 2000);
    assert.equal(b.overall(), 2000);
  });

  it('throttle climbs the ladder while the guest outruns the link and stops at 99%', () => {
    let t = 0;
    const seen: number[] = [];
    for (let i = 0; i < 20; i++) { t = nextThrottle(t, 100e6, 10e6, false); seen.push(t); }
    assert.deepEqual(seen.slice(0, THROTTLE_STEPS.length - 1), THROTTLE_STEPS.slice(1));
    assert.equal(t, 0.99);
    assert.equal(nextThrottle(0.4, 1e6, 100e6, true), 0.4, 'a shrinking, slow dirty set keeps the throttle');
    assert.equal(nextThrottle(0.4, 1e6, 100e6, true, true), 0.6, 'a pressing deadline steps up even so');
  });

  it('the deadline presses once fewer than three more rounds like the last one fit before it', () => {
    assert.equal(deadlinePresses(100_000, 20_000), false, 'a normal round 0 leaves room');
    assert.equal(deadlinePresses(20_000, 70_000), true, 'a round 0 that ate most of the budget');
    assert.equal(deadlinePresses(5_900, 2_000), true);
    assert.equal(deadlinePresses(6_100, 2_000), false);
    assert.equal(deadlinePresses(-1, 0), true, 'past the deadline');
  });

  it('ETA never runs backwards', () => {
    const eta = new MonotoneEta();
    assert.equal(eta.update(1000, 0), 1000);
    assert.equal(eta.update(5000, 100), 900, 'a worse estimate is clamped to the previous one minus elapsed time');
    assert.equal(eta.update(200, 200), 200);
    assert.equal(eta.update(Infinity, 300), 100);
    assert.equal(eta.update(50, 10_000), 0);
  });
});
