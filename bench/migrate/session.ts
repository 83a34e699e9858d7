// A probe guest that a benchmark run moves from one namespace host to the other,
// whatever VMM runs it, and the measurement of one such move.
import type { NsPair } from '../lib/netns.js';
import { sleep } from '../lib/measure.js';
import type { StampedOutput } from './beat-gaps.js';
import type { Outcome } from './cases.js';

/** What the VMM itself reports about one migration. */
export interface MoveResult {
  totalMs: number;
  downtimeMs: number;
  rounds: number;
  extra: Record<string, number>;
}

export interface GuestSession {
  label: string;
  /** The guest's output since the last boot (undefined before the first). */
  guest: StampedOutput | undefined;
  /** Boots a fresh guest on the first host (does not wait for it). */
  boot(): Promise<void>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Live-migrates the guest to the other host; throws when the migration failed. */
  move(): Promise<MoveResult>;
  /** Ends the guest wherever it runs. Never throws. */
  kill(): Promise<void>;
}

/** Heartbeats after arrival that must come, in order and `ok`, for a run to count. */
const BEATS_AFTER = 10;

/** Boots the guest if it is not running, and waits until its fill is done and it beats. */
export async function ensureRunning(s: GuestSession, log: (m: string) => void): Promise<void> {
  if (s.guest && !s.guest.out.dead) return;
  const t0 = Date.now();
  await s.boot();
  const g = s.guest!;
  // QEMU's SeaBIOS takes several seconds before the kernel runs; the fill of up to 3 GiB more.
  await g.out.ready(180_000);
  await g.out.nextBeat(() => true, 10_000, 'a heartbeat after PROBE ready');
  log(`${s.label}: booted in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

export interface MoveOptions {
  /**
   * Return trip: first move the guest out (unmeasured, it must arrive and beat on), let it run
   * there this long, then measure the move back.
   */
  outboundDwellMs?: number;
}

/**
 * One measured run: resume the guest, let it beat, migrate it to the other host, and count it
 * only if it then beats on, in order and `ok`. Wire bytes are the veth counters of both ends.
 * A failed run leaves the session killed (the next run boots a fresh guest).
 */
export async function measureMove(s: GuestSession, ns: NsPair, log: (m: string) => void, opts: MoveOptions = {}): Promise<Outcome> {
  try {
    await ensureRunning(s, log);
    const g = s.guest!;
    await s.resume();
    for (let i = 0; i < 3; i++) await g.out.nextBeat(() => true, 10_000, 'a heartbeat before the migration');
    if (opts.outboundDwellMs !== undefined) {
      await s.move();
      for (let i = 0; i < BEATS_AFTER; i++) await g.out.nextBeat(() => true, 15_000, `heartbeat ${i + 1} after the outbound migration`);
      await sleep(opts.outboundDwellMs);
    }
    const tx0 = ns.txBytes(ns.a) + ns.txBytes(ns.b);
    g.gaps.reset();
    const seq0 = g.out.watcher.lastSeq;
    const r = await s.move();
    for (let i = 0; i < BEATS_AFTER; i++) await g.out.nextBeat(() => true, 15_000, `heartbeat ${i + 1} after the migration`);
    const wireBytes = ns.txBytes(ns.a) + ns.txBytes(ns.b) - tx0;
    const pauseMs = g.gaps.maxGapMs;
    if (g.gaps.repeats) throw new Error(`the guest's heartbeat went back ${g.gaps.repeats} times (two copies running?)`);
    const seq1 = g.out.watcher.lastSeq;
    await s.pause();
    return {
      ok: true, totalMs: r.totalMs, downtimeMs: r.downtimeMs, pauseMs, wireBytes, rounds: r.rounds,
      guestGapMs: g.gaps.maxGuestGapMs, frozenMs: g.gaps.frozenMs(),
      extra: {
        ...r.extra, heartbeatLinesLost: g.gaps.lostLines, heartbeatsDuringRun: seq1 - seq0,
        maxGuestClockGapMs: g.gaps.maxGuestGapMs, guestClockFrozenMs: g.gaps.frozenMs(),
      },
    };
  } catch (e) {
    const reason = (e as Error).message;
    log(`${s.label}: run FAILED: ${reason}`);
    await s.kill();
    return { ok: false, reason };
  }
}
