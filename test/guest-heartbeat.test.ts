// Unit tests for the probe guest's serial-output parsers and the heartbeat watcher.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { isAbsolute, join, dirname } from 'node:path';
import { HeartbeatWatcher, parseBootLine, parseHeartbeat, probeGuestPath, type Heartbeat } from '../guest/index.js';

describe('guest: parseHeartbeat', () => {
  it('reads an ok line', () => {
    assert.deepEqual(parseHeartbeat('HB seq=12 ticks=1200 ms=1203 verified=5300 ok'), {
      seq: 12, ticks: 1200, ms: 1203, verified: 5300, ok: true,
    });
  });

  it('reads a CORRUPT line with its page, tolerating CRLF', () => {
    assert.deepEqual(parseHeartbeat('HB seq=7 ticks=70 ms=718 verified=3201 CORRUPT 8621\r'), {
      seq: 7, ticks: 70, ms: 718, verified: 3201, ok: false, corruptPage: 8621,
    });
  });

  it('rejects lines that are not exactly a heartbeat', () => {
    for (const bad of [
      '',
      'PROBE ready',
      'HB seq=1 ticks=2 ms=3 verified=4',                  // no verdict
      'HB seq=1 ticks=2 ms=3 verified=4 ok extra',
      'HB seq=-1 ticks=2 ms=3 verified=4 ok',
      'HB seq=01 ticks=2 ms=3 verified=4 ok',              // leading zero: not what the guest prints
      'HB seq=1 ticks=2 ms=3 verified=4 CORRUPT',
      'HB seq=99999999999999999999 ticks=2 ms=3 verified=4 ok',
      'xHB seq=1 ticks=2 ms=3 verified=4 ok',
      'HB seq=1 ticks=2 ms=3 verified=4 ok'.padEnd(5000, ' '),
    ]) {
      assert.equal(parseHeartbeat(bad), null, bad.slice(0, 60));
    }
  });
});

describe('guest: parseBootLine', () => {
  it('reads every field', () => {
    const b = parseBootLine('PROBE boot mem=255 fill=33554432 ws=8388608 rate=8388608 beat=100 entropy=0.30 tsc_mhz=2500 timer_hz=100');
    assert.deepEqual(b, {
      memMiB: 255, fill: 33554432, ws: 8388608, rate: 8388608, beatMs: 100, entropy: 0.3,
      tscMHz: 2500, timerHz: 100, unknown: [], bad: [],
    });
  });

  it('reads the clamp notice, unknown keys and rejected values', () => {
    const b = parseBootLine('PROBE boot mem=255 fill=250000000 ws=0 rate=0 beat=1000 entropy=1.00 tsc_mhz=2500 timer_hz=100 clamped_fill_from=1099511627776 unknown=foo,bar bad=entropy');
    assert.ok(b);
    assert.equal(b.clampedFillFrom, 1099511627776);
    assert.deepEqual(b.unknown, ['foo', 'bar']);
    assert.deepEqual(b.bad, ['entropy']);
    assert.equal(b.entropy, 1);
  });

  it('rejects other lines', () => {
    assert.equal(parseBootLine('PROBE ready'), null);
    assert.equal(parseBootLine('HB seq=1 ticks=2 ms=3 verified=4 ok'), null);
    assert.equal(parseBootLine('PROBE boot mem=255 fill=1'), null);
  });
});

describe('guest: HeartbeatWatcher', () => {
  function fakeClock() {
    let t = 1000;
    return { now: () => t, advance: (ms: number) => { t += ms; } };
  }

  it('reassembles lines split across chunks at any byte', () => {
    const text = 'PROBE boot mem=255 fill=4096 ws=4096 rate=0 beat=100 entropy=0.30 tsc_mhz=2500 timer_hz=100\n' +
      'PROBE ready\nHB seq=1 ticks=10 ms=100 verified=1 ok\nHB seq=2 ticks=20 ms=200 verified=2 ok\n';
    const bytes = new TextEncoder().encode(text);
    for (const step of [1, 3, 7, bytes.length]) {
      const w = new HeartbeatWatcher();
      const seen: Heartbeat[] = [];
      w.on('heartbeat', (hb: Heartbeat) => seen.push(hb));
      for (let i = 0; i < bytes.length; i += step) w.push(bytes.subarray(i, i + step));
      assert.deepEqual(seen.map((h) => h.seq), [1, 2], `step ${step}`);
      assert.equal(w.boot?.fill, 4096);
      assert.equal(w.ready, true);
      assert.equal(w.healthy, true);
    }
  });

  it('counts gaps and repeats and tracks the last seq', () => {
    const w = new HeartbeatWatcher();
    for (const seq of [1, 2, 4, 5, 5, 3, 6]) w.push(`HB seq=${seq} ticks=${seq} ms=${seq} verified=0 ok\n`);
    assert.equal(w.gaps, 2);      // 2->4, 3->6
    assert.equal(w.repeats, 2);   // 5->5, 5->3
    assert.equal(w.lastSeq, 6);
    assert.equal(w.heartbeats, 7);
    assert.equal(w.healthy, false);
  });

  it('latches the first corrupt page and reports it once', () => {
    const w = new HeartbeatWatcher();
    const pages: (number | undefined)[] = [];
    w.on('corrupt', (p: number | undefined) => pages.push(p));
    w.push('HB seq=1 ticks=1 ms=1 verified=1 ok\nHB seq=2 ticks=2 ms=2 verified=2 CORRUPT 77\n');
    w.push('HB seq=3 ticks=3 ms=3 verified=3 CORRUPT 77\n');
    assert.equal(w.corruptPage, 77);
    assert.deepEqual(pages, [77]);
    assert.equal(w.healthy, false);
  });

  it('measures the largest host-side gap between heartbeats', () => {
    const clock = fakeClock();
    const w = new HeartbeatWatcher({ now: clock.now });
    w.push('HB seq=1 ticks=1 ms=1 verified=0 ok\n');
    clock.advance(100);
    w.push('HB seq=2 ticks=2 ms=2 verified=0 ok\n');
    clock.advance(2500);   // e.g. a migration's downtime
    w.push('HB seq=3 ticks=3 ms=3 verified=0 ok\n');
    clock.advance(100);
    w.push('HB seq=4 ticks=4 ms=4 verified=0 ok\n');
    assert.equal(w.maxWallGapMs, 2500);
  });

  it('drops an over-long line without losing the next one', () => {
    const w = new HeartbeatWatcher({ maxLineBytes: 64 });
    w.push('x'.repeat(50));
    w.push('y'.repeat(50));   // partial line now over the bound
    w.push('z'.repeat(10) + '\nHB seq=1 ticks=1 ms=1 verified=0 ok\n');
    assert.equal(w.droppedLines, 1);
    assert.equal(w.lastSeq, 1);
  });
});

describe('guest: probeGuestPath', () => {
  it('points at guest/build/probe.elf next to guest/Makefile', () => {
    const p = probeGuestPath();
    assert.ok(isAbsolute(p));
    assert.ok(p.endsWith(join('guest', 'build', 'probe.elf')));
    assert.ok(existsSync(join(dirname(dirname(p)), 'Makefile')));
  });
});
