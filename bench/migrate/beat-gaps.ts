// Guest-visible pause: the largest gap between consecutive heartbeats, timed by
// when each heartbeat's bytes first reached a host process (the same measure for
// roam and QEMU). Guest clocks (TSC, timer ticks) cannot show it: both VMMs carry
// the TSC across a migration, so the guest's own clock stands still while paused.
import type { Heartbeat } from '../../guest/index.js';
import { GuestOutput } from '../lib/guest-output.js';

export class BeatGaps {
  /** Largest host-time gap between consecutive heartbeats since reset(), ms. */
  maxGapMs = 0;
  /** Heartbeat lines lost since reset() (seq jumped by more than 1). */
  lostLines = 0;
  /** Heartbeats whose seq did not advance since reset() (a guest running twice, or restarted). */
  repeats = 0;
  /** Largest step of the guest's own clock between consecutive heartbeats since reset(), ms. */
  maxGuestGapMs = 0;
  private lastSeq: number | undefined;
  private lastAt: number | undefined;
  private lastGuestMs: number | undefined;
  /** Host time and guest clock at the first heartbeat of the window. */
  private windowStart: { at: number; guestMs: number } | undefined;

  /** Records heartbeat `seq` (guest clock `guestMs`) seen at host time `atMs`. */
  beat(seq: number, atMs: number, guestMs: number): void {
    if (this.lastSeq !== undefined && this.lastAt !== undefined && this.lastGuestMs !== undefined) {
      if (seq <= this.lastSeq) this.repeats++;
      else if (seq > this.lastSeq + 1) this.lostLines += seq - this.lastSeq - 1;
      this.maxGapMs = Math.max(this.maxGapMs, atMs - this.lastAt);
      this.maxGuestGapMs = Math.max(this.maxGuestGapMs, guestMs - this.lastGuestMs);
    }
    this.windowStart ??= { at: atMs, guestMs };
    this.lastSeq = seq;
    this.lastAt = atMs;
    this.lastGuestMs = guestMs;
  }

  /**
   * Host time minus guest time elapsed over the window (first to last heartbeat): how long the
   * guest's clock stood still, i.e. the guest was stopped. Immune to late relaying of the lines
   * in between, but includes the guest clock's calibration error (about 0.1 % of the window).
   */
  frozenMs(): number {
    if (!this.windowStart || this.lastAt === undefined || this.lastGuestMs === undefined) return 0;
    return (this.lastAt - this.windowStart.at) - (this.lastGuestMs - this.windowStart.guestMs);
  }

  /** Starts a new measurement window; the next beat is measured from the last one seen. */
  reset(): void {
    this.maxGapMs = 0;
    this.maxGuestGapMs = 0;
    this.lostLines = 0;
    this.repeats = 0;
    this.windowStart = this.lastAt !== undefined && this.lastGuestMs !== undefined ? { at: this.lastAt, guestMs: this.lastGuestMs } : undefined;
  }
}

/** A GuestOutput whose bytes carry the host time they were first read at. */
export class StampedOutput {
  readonly out: GuestOutput;
  readonly gaps = new BeatGaps();
  private stamp = 0;

  constructor(name: string) {
    this.out = new GuestOutput(name);
    this.out.watcher.on('heartbeat', (hb: Heartbeat) => this.gaps.beat(hb.seq, this.stamp, hb.ms));
  }

  push(data: Uint8Array | string, atMs: number): void {
    this.stamp = atMs;
    this.out.push(data);
  }
}

export const wallMs = () => performance.timeOrigin + performance.now();
