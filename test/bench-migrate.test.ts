// The migrate benchmark's pure helpers: heartbeat gaps, QEMU setups, run order,
// and how outcomes (including failed runs) become the sides of a comparison.
import assert from 'node:assert/strict';
import { BeatGaps } from '../bench/migrate/beat-gaps.js';
import { FIGURES, MiB, TARGET_DOWNTIME_MS, TLS_CLIENT, TLS_SERVER, planFor, qemuSetup, rotate, sidesFrom, type Outcome } from '../bench/migrate/cases.js';

describe('bench migrate: heartbeat gaps', () => {
  it('measures the largest host-time gap, lost lines and repeats since reset', () => {
    const g = new BeatGaps();
    g.beat(1, 1000, 10);
    g.beat(2, 1020, 30);
    g.reset();
    g.beat(3, 1040, 50);
    g.beat(5, 1400, 70);   // one line lost; a 360 ms gap on the host, 20 ms in the guest
    g.beat(6, 1420, 90);
    assert.equal(g.maxGapMs, 360);
    assert.equal(g.maxGuestGapMs, 20);
    assert.equal(g.lostLines, 1);
    assert.equal(g.repeats, 0);
    // From seq 2 (1020 host, 30 guest) to seq 6 (1420, 90): 400 ms passed, the guest saw 60.
    assert.equal(g.frozenMs(), 340);
    g.beat(4, 1440, 110);
    assert.equal(g.repeats, 1);
  });

  it('does not count the gap before the first beat', () => {
    const g = new BeatGaps();
    g.beat(7, 5000, 100);
    assert.equal(g.maxGapMs, 0);
    assert.equal(g.frozenMs(), 0);
  });
});

describe('bench migrate: QEMU setups', () => {
  it('uses TLS credentials only for the TLS variants, client on the source and server on the destination', () => {
    for (const v of ['tls', 'tls-ac'] as const) {
      const s = qemuSetup(v);
      assert.equal(s.srcParams['tls-creds'], TLS_CLIENT);
      assert.equal(s.dstParams['tls-creds'], TLS_SERVER);
    }
    assert.equal(qemuSetup('plain').srcParams['tls-creds'], '');
    assert.equal(qemuSetup('multifd-zstd').dstParams['tls-creds'], '');
  });

  it('sets the downtime limit to roam target, lifts the bandwidth cap, and matches multifd on both ends', () => {
    for (const v of ['plain', 'tls', 'tls-ac', 'multifd-zstd'] as const) {
      const s = qemuSetup(v);
      assert.equal(s.srcParams['downtime-limit'], TARGET_DOWNTIME_MS);
      assert.ok(Number(s.srcParams['max-bandwidth']) > 10 * 2 ** 30);
      assert.equal(s.srcCaps.multifd, s.dstCaps.multifd);
      assert.equal(s.srcParams['multifd-compression'], s.dstParams['multifd-compression']);
    }
    assert.equal(qemuSetup('tls-ac').srcCaps['auto-converge'], true);
    assert.equal(qemuSetup('tls').srcCaps['auto-converge'], false);
    assert.equal(qemuSetup('multifd-zstd').srcParams['multifd-compression'], 'zstd');
  });
});

describe('bench migrate: plans and run order', () => {
  it('--quick compares roam with QEMU TLS and plaintext on the two 1 GiB cases, at least 5 runs', () => {
    const q = planFor(true);
    assert.deepEqual(q.variants, ['tls', 'plain']);
    assert.equal(q.cases.length, 2);
    assert.ok(q.runs >= 5);
    assert.ok(planFor(false).runs >= 5);
    assert.equal(planFor(false).links.length, 2);
  });

  it('rotates the side order per run so each side goes first in turn', () => {
    assert.deepEqual(rotate(['r', 't', 'p'], 0), ['r', 't', 'p']);
    assert.deepEqual(rotate(['r', 't', 'p'], 1), ['t', 'p', 'r']);
    assert.deepEqual(rotate(['r', 't', 'p'], 5), ['p', 'r', 't']);
    assert.deepEqual(rotate([], 3), []);
  });
});

describe('bench migrate: outcomes to sides', () => {
  it('turns successes into samples per figure and lists a failed or CORRUPT run on every figure', () => {
    const outcomes: Outcome[] = [
      { ok: true, totalMs: 1000, downtimeMs: 20, pauseMs: 40, wireBytes: 300 * MiB, rounds: 3, guestGapMs: 30, frozenMs: -2, extra: { maxThrottle: 0 } },
      { ok: false, reason: 'guest reports CORRUPT page 9' },
      { ok: true, totalMs: 1200, downtimeMs: 30, pauseMs: 60, wireBytes: 320 * MiB, rounds: 4, guestGapMs: 50, frozenMs: 25, extra: { maxThrottle: 0.2 } },
    ];
    const sides = sidesFrom('roam', outcomes);
    assert.equal(sides.size, FIGURES.length);
    assert.deepEqual(sides.get('totalMs')!.samples, [1000, 1200]);
    assert.deepEqual(sides.get('wireMiB')!.samples, [300, 320]);
    assert.deepEqual(sides.get('rounds')!.samples, [3, 4]);
    assert.deepEqual(sides.get('guestGapMs')!.samples, [30, 50]);
    // calibration noise can make the frozen time slightly negative: shown as 0
    assert.deepEqual(sides.get('frozenMs')!.samples, [0, 25]);
    for (const s of sides.values()) assert.deepEqual(s.failures, ['guest reports CORRUPT page 9']);
    assert.deepEqual(sides.get('totalMs')!.extra.maxThrottle, [0, 0.2]);
  });
});
