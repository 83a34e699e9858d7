// /roam/home/1.0.0: one member asks another to pull its home snapshot now, and
// hears how it goes. The store protocol (/roam/store/1.0.0) is pull-only, so a
// push is "please pull from me":
//   asker → {t:'pull', snapshot}                      the asker's current snapshot id
//   puller → {t:'progress', …SyncProgress}            while it syncs (and every few seconds)
//   puller → {t:'done', …PullOutcome} | {t:'error', message}
// roamd opens and answers it only between household members. Every field from
// the wire is checked and bounded before use.
import { JsonWire, WireError, str, type WireStream } from './wire.js';
import { isHashHex, type SyncProgress } from '../../storage/index.js';
import { HOME_PROTOCOL } from './protocols.js';

export { HOME_PROTOCOL };
/** The puller sends something at least this often, so the asker can tell a slow sync from a dead one. */
export const HEARTBEAT_MS = 2_000;
/** Silence longer than this from the puller ends the request. */
const SILENCE_MS = 30_000;
const MAX_LISTED_CONFLICTS = 50;

export interface PulledConflict { path: string; kind: string; keptAs: string | null }

/** What the puller reports once its sync has finished. */
export interface PullOutcome {
  /** The asker's snapshot the puller merged (null when the asker had none). */
  remoteSnapshot: string | null;
  /** The puller's own head after the merge. */
  headSnapshot: string;
  /** It holds every object and chunk of remoteSnapshot. */
  holds: boolean;
  /** Everything arrived and was placed (nothing refused, unavailable or skipped). */
  complete: boolean;
  chunksFetched: number;
  bytesFetched: number;
  files: number;
  conflicts: PulledConflict[];
  conflictCount: number;
  /** Why it is not complete, in a few words each. */
  problems: string[];
}

function num(m: Record<string, unknown>, key: string): number {
  const v = m[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new WireError(`field '${key}' must be a whole number ≥ 0`);
  return v;
}

function optHash(m: Record<string, unknown>, key: string): string | null {
  const v = m[key];
  if (v === null) return null;
  const s = str(m, key, 64);
  if (!isHashHex(s)) throw new WireError(`field '${key}' must be a snapshot id`);
  return s;
}

const PHASES: readonly SyncProgress['phase'][] = ['scan', 'tree', 'chunks', 'materialise', 'done'];

function parseProgress(m: Record<string, unknown>): SyncProgress {
  const phase = m.phase;
  if (!PHASES.includes(phase as SyncProgress['phase'])) throw new WireError('progress with an unknown phase');
  return {
    phase: phase as SyncProgress['phase'], objects: num(m, 'objects'), chunksDone: num(m, 'chunksDone'), chunksTotal: num(m, 'chunksTotal'),
    bytesDone: num(m, 'bytesDone'), filesDone: num(m, 'filesDone'), filesTotal: num(m, 'filesTotal'),
  };
}

function parseOutcome(m: Record<string, unknown>): PullOutcome {
  const list = Array.isArray(m.conflicts) ? m.conflicts.slice(0, MAX_LISTED_CONFLICTS) : [];
  const conflicts = list.map((c) => {
    if (!c || typeof c !== 'object') throw new WireError('conflict entry is not an object');
    const o = c as Record<string, unknown>;
    return { path: str(o, 'path', 4096), kind: str(o, 'kind', 64), keptAs: o.keptAs == null ? null : str(o, 'keptAs', 4096) };
  });
  const problems = (Array.isArray(m.problems) ? m.problems.slice(0, 20) : []).map((p) => (typeof p === 'string' ? p.slice(0, 500) : 'unknown problem'));
  const headSnapshot = optHash(m, 'headSnapshot');
  if (!headSnapshot) throw new WireError('done without the puller\'s head snapshot');
  return {
    remoteSnapshot: optHash(m, 'remoteSnapshot'), headSnapshot, holds: m.holds === true, complete: m.complete === true,
    chunksFetched: num(m, 'chunksFetched'), bytesFetched: num(m, 'bytesFetched'), files: num(m, 'files'),
    conflicts, conflictCount: num(m, 'conflictCount'), problems,
  };
}

/** Asker's side: sends the request and waits for the puller's outcome. Throws with the puller's reason on refusal. */
export async function askToPull(stream: WireStream, snapshot: string, onProgress?: (p: SyncProgress) => void): Promise<PullOutcome> {
  const wire = new JsonWire(stream);
  await wire.write({ t: 'pull', snapshot });
  for (;;) {
    let m: Record<string, unknown> | null;
    try { m = await wire.read(SILENCE_MS); } catch (e) {
      throw new Error(`the peer stopped answering during the sync (${(e as Error).message})`);
    }
    if (!m) throw new Error('the peer closed the request without reporting; is it a household member running roamd with a home?');
    if (m.t === 'progress') { const p = parseProgress(m); onProgress?.(p); continue; } // checked even when unused
    if (m.t === 'error') throw new Error(str(m, 'message', 2000));
    if (m.t === 'done') { const out = parseOutcome(m); await wire.close(); return out; }
    throw new WireError(`unexpected message '${String(m.t).slice(0, 32)}'`);
  }
}

/**
 * Puller's side: reads the request, runs `pull` (which syncs from the asker),
 * streams its progress with a heartbeat, and reports the outcome or the error.
 */
export async function answerPull(stream: WireStream,
  pull: (snapshot: string, onProgress: (p: SyncProgress) => void) => Promise<PullOutcome>): Promise<void> {
  const wire = new JsonWire(stream);
  const req = await wire.read();
  if (!req || req.t !== 'pull') throw new WireError('expected a pull request');
  const snapshot = optHash(req, 'snapshot');
  if (!snapshot) throw new WireError('a pull request names the asker\'s snapshot');
  let last: SyncProgress | null = null;
  let writing = Promise.resolve();
  const post = (msg: object) => { writing = writing.then(() => wire.write(msg)).catch(() => undefined); };
  const beat = setInterval(() => post({ t: 'progress', ...(last ?? { phase: 'scan', objects: 0, chunksDone: 0, chunksTotal: 0, bytesDone: 0, filesDone: 0, filesTotal: 0 }) }), HEARTBEAT_MS);
  let lastSent = 0;
  try {
    const outcome = await pull(snapshot, (p) => {
      last = p;
      const now = Date.now();
      if (now - lastSent >= 200 || p.phase === 'done') { lastSent = now; post({ t: 'progress', ...p }); }
    });
    clearInterval(beat);
    await writing;
    await wire.write({ t: 'done', ...outcome, conflicts: outcome.conflicts.slice(0, MAX_LISTED_CONFLICTS), problems: outcome.problems.slice(0, 20) });
  } catch (e) {
    clearInterval(beat);
    await writing;
    await wire.write({ t: 'error', message: (e as Error).message.slice(0, 2000) }).catch(() => undefined);
  }
  await wire.close();
}
