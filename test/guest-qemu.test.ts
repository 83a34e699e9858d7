// Boots the probe guest under QEMU/KVM (the baseline VMM) and checks its
// heartbeat from the guest's side: in order, ticking, verified, and able to
// report corruption.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { HeartbeatWatcher, probeGuestPath, type Heartbeat } from '../guest/index.js';

const QEMU = 'qemu-system-x86_64';
const FIRST_BEAT_TIMEOUT_MS = 60_000;   // SeaBIOS takes several (varying) seconds here
const LATER_BEATS_TIMEOUT_MS = 20_000;

function missingPrerequisite(): string | null {
  const v = spawnSync(QEMU, ['--version'], { stdio: 'ignore' });
  if (v.error || v.status !== 0) return `${QEMU} is not installed`;
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return '/dev/kvm is missing or not accessible';
  }
  if (!existsSync(probeGuestPath())) return `${probeGuestPath()} is not built (run npm run build)`;
  return null;
}

interface Run {
  qemu: ChildProcess;
  watcher: HeartbeatWatcher;
  lines: string[];
  stderr: string[];
}

function boot(append: string): Run {
  const qemu = spawn(QEMU, [
    '-accel', 'kvm', '-cpu', 'qemu64', '-m', '256',
    '-kernel', probeGuestPath(), '-append', append,
    '-serial', 'stdio', '-display', 'none', '-monitor', 'none', '-no-reboot',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  const watcher = new HeartbeatWatcher();
  const lines: string[] = [];
  const stderr: string[] = [];
  watcher.on('line', (l: string) => lines.push(l));
  qemu.stdout!.on('data', (d: Buffer) => watcher.push(d));
  qemu.stderr!.on('data', (d: Buffer) => { if (stderr.length < 200) stderr.push(d.toString()); });
  return { qemu, watcher, lines, stderr };
}

function stop(run: Run): Promise<void> {
  const { qemu } = run;
  if (qemu.exitCode !== null || qemu.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    qemu.once('exit', () => resolve());
    qemu.kill('SIGKILL');
  });
}

/** Resolves once `until` holds after a heartbeat; rejects on timeout or QEMU exit, saying what the guest printed. */
function waitFor(run: Run, until: (w: HeartbeatWatcher) => boolean, timeoutMs: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      clearTimeout(timer);
      run.watcher.off('heartbeat', check);
      run.qemu.off('exit', exited);
      if (err) reject(err); else resolve();
    };
    const context = () => `\nguest said:\n${run.lines.slice(-8).join('\n')}\nqemu stderr:\n${run.stderr.join('').slice(-2000)}`;
    const check = () => { if (until(run.watcher)) done(); };
    const exited = (code: number | null) => done(new Error(`QEMU exited (${code}) while waiting for ${what}${context()}`));
    const timer = setTimeout(() => done(new Error(`timed out after ${timeoutMs} ms waiting for ${what}${context()}`)), timeoutMs);
    run.watcher.on('heartbeat', check);
    run.qemu.once('exit', exited);
    check();
  });
}

describe('guest: probe under QEMU/KVM', function () {
  this.timeout(180_000);

  before(function () {
    const missing = missingPrerequisite();
    if (!missing) return;
    if (process.env.CI === 'true') throw new Error(`CI needs QEMU with KVM for this test: ${missing}`);
    this.skip();
  });

  it('boots, fills, and beats in order with every page verified ok', async () => {
    const run = boot('fill=32M ws=8M rate=8M beat=100ms');
    const beats: Heartbeat[] = [];
    run.watcher.on('heartbeat', (hb: Heartbeat) => beats.push(hb));
    try {
      await waitFor(run, (w) => w.heartbeats >= 1, FIRST_BEAT_TIMEOUT_MS, 'the first heartbeat');
      await waitFor(run, (w) => w.ready && w.heartbeats >= 12, LATER_BEATS_TIMEOUT_MS, 'ready and 12 heartbeats');
    } finally {
      await stop(run);
    }
    const b = run.watcher.boot;
    assert.ok(b, 'no boot line');
    assert.equal(b.fill, 32 << 20);
    assert.equal(b.ws, 8 << 20);
    assert.equal(b.rate, 8 << 20);
    assert.equal(b.beatMs, 100);
    assert.ok(b.tscMHz > 0 && b.timerHz >= 100, `clocks: ${JSON.stringify(b)}`);
    assert.deepEqual(b.unknown, []);

    assert.equal(beats[0]!.seq, 1, 'seq starts at 1');
    assert.equal(run.watcher.gaps, 0);
    assert.equal(run.watcher.repeats, 0);
    for (let i = 1; i < beats.length; i++) {
      assert.equal(beats[i]!.seq, beats[i - 1]!.seq + 1);
      assert.ok(beats[i]!.ticks > beats[i - 1]!.ticks, `ticks did not increase at seq ${beats[i]!.seq}`);
      assert.ok(beats[i]!.ms >= beats[i - 1]!.ms, `ms went back at seq ${beats[i]!.seq}`);
      assert.ok(beats[i]!.verified >= beats[i - 1]!.verified);
    }
    assert.ok(beats.every((hb) => hb.ok), 'a heartbeat reported corruption');
    assert.ok(beats.at(-1)!.verified > beats[0]!.verified, 'verification made no progress');
  });

  it('reports CORRUPT <page> on every heartbeat after a byte is flipped behind the checksum', async () => {
    const run = boot('fill=32M ws=8M rate=8M beat=100ms corrupt_after=3');
    const beats: Heartbeat[] = [];
    run.watcher.on('heartbeat', (hb: Heartbeat) => beats.push(hb));
    let injectedAt = -1;
    let injectedPage = -1;
    run.watcher.on('line', (l: string) => {
      const m = /^PROBE corrupt_injected page=(\d+)$/.exec(l);
      if (m) { injectedPage = Number(m[1]); injectedAt = beats.length; }
    });
    try {
      await waitFor(run, (w) => w.heartbeats >= 1, FIRST_BEAT_TIMEOUT_MS, 'the first heartbeat');
      await waitFor(run, (w) => w.corruptPage !== undefined, LATER_BEATS_TIMEOUT_MS, 'a CORRUPT heartbeat');
      const seen = beats.length;
      await waitFor(run, () => beats.length >= seen + 5, LATER_BEATS_TIMEOUT_MS, '5 more heartbeats');
    } finally {
      await stop(run);
    }
    assert.ok(injectedPage > 0, 'the guest did not say which page it corrupted');
    assert.equal(run.watcher.corruptPage, injectedPage);
    assert.ok(beats.slice(0, injectedAt).every((hb) => hb.ok), 'corruption reported before it was injected');
    const firstBad = beats.findIndex((hb) => !hb.ok);
    assert.ok(firstBad >= injectedAt);
    for (const hb of beats.slice(firstBad)) {
      assert.equal(hb.ok, false, `seq ${hb.seq} went back to ok`);
      assert.equal(hb.corruptPage, injectedPage);
    }
    assert.equal(run.watcher.gaps, 0);
  });
});
