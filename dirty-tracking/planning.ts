// Round planning: when to stop pre-copying, and how hard to throttle the guest.
import { PAGE_SIZE } from './bitmap.js';

/** Predicted stop-and-copy downtime in ms for `dirtyPages` pages at `bytesPerSecond` (Infinity when unmeasured). */
export function predictDowntimeMs(dirtyPages: number, bytesPerSecond: number, fixedOverheadMs = 0): number {
  if (dirtyPages <= 0) return fixedOverheadMs;
  if (!(bytesPerSecond > 0)) return Infinity;
  return fixedOverheadMs + (dirtyPages * PAGE_SIZE * 1000) / bytesPerSecond;
}

/** Converged when the predicted downtime is at or under the target. */
export function hasConverged(predictedMs: number, targetMs: number): boolean {
  return predictedMs <= targetMs;
}

/** The throttle ladder: each step takes a larger share of the vCPUs' time. */
export const THROTTLE_STEPS = [0, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 0.99] as const;

/**
 * Next throttle share. Step up when the guest dirties memory at least as fast as
 * the link drains it (the next round would not be smaller), when the dirty set
 * stopped shrinking, or when the deadline presses (`pressed`: too little time is
 * left for the rounds still needed); otherwise keep the current share.
 */
export function nextThrottle(current: number, dirtyBytesPerSec: number, linkBytesPerSec: number, shrinking: boolean, pressed = false): number {
  const outrun = linkBytesPerSec > 0 ? dirtyBytesPerSec >= 0.5 * linkBytesPerSec : dirtyBytesPerSec > 0;
  if (!outrun && shrinking && !pressed) return current;
  for (const s of THROTTLE_STEPS) if (s > current + 1e-9) return s;
  return THROTTLE_STEPS[THROTTLE_STEPS.length - 1];
}

/**
 * Whether the pre-copy deadline presses: fewer than `rounds` more rounds as long as the last one
 * fit before it. A slow round 0 (a big guest, a busy host) can eat most of the budget; throttling
 * from then on is better than giving up at the deadline with the guest never slowed.
 */
export function deadlinePresses(timeLeftMs: number, lastRoundMs: number, rounds = 3): boolean {
  return timeLeftMs < rounds * Math.max(lastRoundMs, 0);
}

/**
 * An ETA that never runs backwards: each new estimate is clamped to at most the
 * previous one minus the time that has passed since (never below zero).
 */
export class MonotoneEta {
  private last: number | undefined;
  private lastAt = 0;
  update(estimateMs: number, nowMs: number): number {
    if (!Number.isFinite(estimateMs)) estimateMs = this.last === undefined ? Number.MAX_SAFE_INTEGER : this.last;
    if (this.last !== undefined) {
      const ceiling = Math.max(0, this.last - (nowMs - this.lastAt));
      estimateMs = Math.min(estimateMs, ceiling);
    }
    this.last = Math.max(0, estimateMs);
    this.lastAt = nowMs;
    return this.last;
  }
}
