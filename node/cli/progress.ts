// Progress of long work (a migration, a sync) on the terminal: a bar redrawn
// in place on a TTY, and plain lines elsewhere (logs, pipes), at most one a
// second unless the phase or round changes.

export interface ProgressView {
  phase: string;
  round?: number;
  /** 0..100 */
  percent: number;
  bytesPerSec: number;
  etaMs?: number;
  /** Extra words after the figures, e.g. "downtime ~12 ms". */
  note?: string;
}

const BAR_WIDTH = 24;

function mbps(bytesPerSec: number): string {
  return `${(bytesPerSec / 1e6).toFixed(1)} MB/s`;
}

function eta(ms: number | undefined): string {
  // No estimate yet (nothing measured), or none worth showing.
  if (ms === undefined || !Number.isFinite(ms) || ms < 0 || ms > 24 * 3_600_000) return 'ETA --';
  const s = Math.max(0, Math.round(ms / 1000));
  return s >= 60 ? `ETA ${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `ETA ${s}s`;
}

/** The figures of one update as words: "45%  12.3 MB/s  ETA 3s  round 2  precopy". */
export function describeProgress(v: ProgressView): string {
  const pct = Math.max(0, Math.min(100, v.percent));
  const parts = [`${pct.toFixed(0).padStart(3)}%`, mbps(v.bytesPerSec), eta(v.etaMs)];
  if (v.round !== undefined) parts.push(`round ${v.round}`);
  parts.push(v.phase);
  if (v.note) parts.push(v.note);
  return parts.join('  ');
}

/** A fixed-width bar: "[##########..............]". */
export function bar(percent: number, width = BAR_WIDTH): string {
  const filled = Math.round((Math.max(0, Math.min(100, percent)) / 100) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

export class ProgressDisplay {
  private lastLine = 0;
  private lastKey = '';
  private drawn = false;

  constructor(private readonly out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number },
    private readonly now: () => number = Date.now) {}

  update(v: ProgressView): void {
    const text = describeProgress(v);
    if (this.out.isTTY) {
      const line = `${bar(v.percent)} ${text}`.slice(0, Math.max(20, (this.out.columns ?? 100) - 1));
      this.out.write(`\r\x1b[2K${line}`);
      this.drawn = true;
      return;
    }
    const key = `${v.phase}/${v.round ?? ''}`;
    if (key === this.lastKey && this.now() - this.lastLine < 1000) return;
    this.lastKey = key;
    this.lastLine = this.now();
    this.out.write(`${text}\n`);
  }

  /** Ends the bar (a newline on a TTY) and prints `message` on its own line. */
  finish(message?: string): void {
    if (this.drawn) this.out.write('\n');
    this.drawn = false;
    if (message) this.out.write(`${message}\n`);
  }
}
