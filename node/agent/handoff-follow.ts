// "Follow me": before a session moves to another machine (by `roam send` or by
// the lid hand-off), that machine is brought up to date with this machine's
// home snapshot, so once the send reports success the target needs nothing
// from here: the laptop can leave the house. A roamd that keeps no home tree
// has nothing to hand over; the send then says so in its result.
import type { HomeSyncProgress, HomeSyncReport } from './home-service.js';

export interface HomeHolder {
  readonly home?: { bringPeerUpToDate(peer: string, onProgress?: (p: HomeSyncProgress) => void): Promise<HomeSyncReport> } | undefined;
  readonly homeProblem?: string;
  log(line: string): void;
}

/** What the send result says about the home: the snapshot the target now holds, or why none was handed over. */
export type FollowOutcome =
  | { followed: true; snapshot: string; files: number; bytes: number; elapsedMs: number }
  | { followed: false; reason: string };

export class FollowError extends Error {}

/** Rejects when `signal` aborts (the sync itself finishes or fails on its own; nothing is half-applied). */
function untilAborted(signal: AbortSignal | undefined): Promise<never> | undefined {
  if (!signal) return undefined;
  return new Promise<never>((_, reject) => {
    const fail = () => reject(new FollowError(`handing the home over was cut short: ${String(signal.reason instanceof Error ? signal.reason.message : signal.reason ?? 'cancelled')}`));
    if (signal.aborted) fail(); else signal.addEventListener('abort', fail, { once: true });
  });
}

export async function followHome(
  roamd: HomeHolder, peer: string,
  opts: { onProgress?: ((p: Record<string, unknown>) => void) | undefined; signal?: AbortSignal | undefined } = {},
): Promise<FollowOutcome> {
  if (!roamd.home) return { followed: false, reason: roamd.homeProblem ?? 'this machine keeps no home tree' };
  roamd.log(`follow me: bringing ${peer}'s home up to date before the session moves`);
  const sync = roamd.home.bringPeerUpToDate(peer, (p) => opts.onProgress?.({
    phase: 'home', round: 0, percent: p.chunksTotal > 0 ? Math.min(100, (100 * p.chunksDone) / p.chunksTotal) : 0,
    bytesSent: p.bytesDone, bytesPerSec: p.elapsedMs > 0 ? (p.bytesDone * 1000) / p.elapsedMs : 0,
    etaMs: 0, predictedDowntimeMs: 0, throttle: 0,
  }));
  const abort = untilAborted(opts.signal);
  let report: HomeSyncReport;
  try {
    report = await (abort ? Promise.race([sync, abort]) : sync);
  } catch (e) {
    sync.catch(() => undefined);
    throw new FollowError(`the session stays here: ${peer} could not be given this machine's home first (${(e as Error).message})`);
  }
  roamd.log(`follow me: ${peer} holds home snapshot ${report.snapshot} (${report.files} files) after ${report.elapsedMs} ms`);
  return { followed: true, snapshot: report.snapshot, files: report.files, bytes: report.bytes, elapsedMs: report.elapsedMs };
}
