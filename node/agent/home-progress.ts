// How `roam home sync` shows a peer taking the home: each progress event from
// roamd becomes a ProgressView for the CLI's shared display (a bar on a
// terminal, plain lines otherwise): overall percent, MB/s, ETA and files.
import type { ProgressView } from '../cli/progress.js';

export interface SyncEvent { phase?: unknown; chunksDone?: unknown; chunksTotal?: unknown; bytesDone?: unknown; filesDone?: unknown; filesTotal?: unknown; elapsedMs?: unknown }

const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);

/** Overall percent: tree walk 0-5, chunks 5-90 (by count), placing files 90-100. */
export function syncPercent(ev: SyncEvent): number {
  const frac = (a: number, b: number) => (b > 0 ? Math.min(1, a / b) : 1);
  switch (ev.phase) {
    case 'scan': return 0;
    case 'tree': return 2;
    case 'chunks': return Math.floor(5 + 85 * frac(n(ev.chunksDone), n(ev.chunksTotal)));
    case 'materialise': return Math.floor(90 + 10 * frac(n(ev.filesDone), n(ev.filesTotal)));
    case 'done': return 100;
    default: return 0;
  }
}

const PHASE_WORDS: Record<string, string> = { scan: 'scanning', tree: 'comparing trees', chunks: 'sending chunks', materialise: 'placing files', done: 'done' };

export function syncView(peer: string, ev: SyncEvent): ProgressView {
  const secs = n(ev.elapsedMs) / 1000;
  const percent = syncPercent(ev);
  const view: ProgressView = {
    phase: `${peer}: ${PHASE_WORDS[String(ev.phase)] ?? 'syncing'}`,
    percent,
    bytesPerSec: secs > 0 ? n(ev.bytesDone) / secs : 0,
    note: `files ${n(ev.filesDone)}/${n(ev.filesTotal)}, chunks ${n(ev.chunksDone)}/${n(ev.chunksTotal)}`,
  };
  if (percent > 5 && percent < 100) view.etaMs = (n(ev.elapsedMs) * (100 - percent)) / percent;
  return view;
}
