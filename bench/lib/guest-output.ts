// The serial output of one probe guest, wherever it runs (in-process VM, VM
// process, QEMU): heartbeats parsed, the last lines kept for error messages,
// and a way to wait for a heartbeat that fails fast when the VM dies.
import { HeartbeatWatcher, type Heartbeat } from '../../guest/index.js';
import { nowMs } from './measure.js';

export class GuestOutput {
  readonly watcher = new HeartbeatWatcher();
  /** Set once the VM or its process died or reported an error: waits then fail at once. */
  dead: string | undefined;
  /** Host clock (nowMs) when the `PROBE boot` line and the first heartbeat arrived. */
  bootLineAt: number | undefined;
  firstBeatAt: number | undefined;
  private readonly recent: string[] = [];
  private readonly deathListeners = new Set<(why: string) => void>();

  constructor(readonly name: string) {
    this.watcher.on('boot', () => { this.bootLineAt ??= nowMs(); });
    this.watcher.on('heartbeat', () => { this.firstBeatAt ??= nowMs(); });
    this.watcher.on('line', (l: string) => {
      this.recent.push(l);
      if (this.recent.length > 12) this.recent.shift();
    });
  }

  push(data: Uint8Array | string): void {
    this.watcher.push(data);
  }

  die(why: string): void {
    if (this.dead) return;
    this.dead = why;
    for (const f of this.deathListeners) f(why);
  }

  context(): string {
    return this.recent.length ? ` (guest said: ${this.recent.slice(-4).join(' / ')})` : ' (guest printed nothing)';
  }

  /**
   * Resolves with the first heartbeat (from now on) that satisfies `want`; rejects on timeout, VM death,
   * or a CORRUPT heartbeat (a benchmark must never count a run whose guest lost memory).
   */
  nextBeat(want: (hb: Heartbeat) => boolean, timeoutMs: number, what: string): Promise<Heartbeat> {
    return new Promise((resolve, reject) => {
      const finish = (err: Error | null, hb?: Heartbeat) => {
        clearTimeout(timer);
        this.watcher.off('heartbeat', onBeat);
        this.deathListeners.delete(onDeath);
        if (err) reject(err); else resolve(hb!);
      };
      const onBeat = (hb: Heartbeat) => {
        if (!hb.ok) finish(new Error(`${this.name}: guest reports CORRUPT page ${hb.corruptPage} (seq ${hb.seq}) while waiting for ${what}`));
        else if (want(hb)) finish(null, hb);
      };
      const onDeath = (why: string) => finish(new Error(`${this.name}: ${why} while waiting for ${what}${this.context()}`));
      const timer = setTimeout(() => finish(new Error(`${this.name}: no ${what} within ${timeoutMs} ms${this.context()}`)), timeoutMs);
      this.watcher.on('heartbeat', onBeat);
      this.deathListeners.add(onDeath);
      if (this.dead) onDeath(this.dead);
    });
  }

  /** Resolves when the guest has printed `PROBE ready` (its fill is done). */
  ready(timeoutMs: number): Promise<void> {
    if (this.watcher.ready) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.watcher.off('ready', ok); reject(new Error(`${this.name}: no PROBE ready within ${timeoutMs} ms${this.context()}`)); }, timeoutMs);
      const ok = () => { clearTimeout(timer); resolve(); };
      this.watcher.once('ready', ok);
    });
  }
}
