// Heartbeat continuity across a move. The probe writes a heartbeat line a byte
// at a time, so a pause can fall inside a line: its head is then printed on the
// source and its tail on the destination, and neither side alone can parse that
// beat. Joined, the two consoles still show every beat exactly once.
import { parseHeartbeat, type HeartbeatWatcher } from '../../guest/index.js';

/**
 * True when the destination's first parsed heartbeat `firstSeq` follows the
 * source's last `lastSeq` with nothing lost or repeated: directly, or with the
 * one beat in between split across the two consoles (and `ok`).
 */
export function continuesAcross(sourceLog: string, destLog: string, lastSeq: number, firstSeq: number): boolean {
  if (firstSeq === lastSeq + 1) return true;
  if (firstSeq !== lastSeq + 2) return false;
  const head = sourceLog.slice(sourceLog.lastIndexOf('\n') + 1);
  if (!head) return false;
  // The destination's log may hold an earlier visit of the same VM before this arrival's output,
  // so look for the line that completes the source's unfinished one into exactly beat lastSeq + 1.
  return destLog.split('\n').some((tail) => {
    const hb = parseHeartbeat((head + tail).replace(/\r$/, ''));
    return hb !== null && hb.seq === lastSeq + 1 && hb.ok;
  });
}

/** Resolves once `watcher` has seen `n` more heartbeats; rejects after `ms`. */
export function moreBeats(watcher: HeartbeatWatcher, n: number, ms = 20_000): Promise<void> {
  const target = watcher.heartbeats + n;
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (watcher.heartbeats < target) return;
      clearTimeout(timer);
      watcher.off('heartbeat', check);
      resolve();
    };
    const timer = setTimeout(() => {
      watcher.off('heartbeat', check);
      reject(new Error(`saw ${watcher.heartbeats} heartbeats, wanted ${target}`));
    }, ms);
    watcher.on('heartbeat', check);
    check();
  });
}
