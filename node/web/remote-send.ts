// /roam/send/1.0.0: one member asks the member a VM runs on to send it to a
// third (or to the asker), so a click on any machine's dashboard moves the
// session. roamd opens and answers it only between household members (the
// same membership check as /roam/migrate), and the answering roamd sends the
// VM exactly as `roam send` would there.
//   asker → {t:'send', vm, to, id}   (id: the asker's board id for this migration, 12 hex digits;
//            the sender's board and its notifications use it too, so every board has it once)
//   sender → {t:'progress', phase, round, percent, bytesSent, bytesPerSec, etaMs, predictedDowntimeMs, throttle}
//            (each progress event of the migration, and a repeat every few seconds while it is quiet)
//   sender → {t:'done', totalMs, downtimeMs, wireBytes, rounds} | {t:'error', message}
// Every field from the wire is checked and bounded before use.
import { JsonWire, WireError, str, type WireStream } from '../agent/wire.js';
import { checkName } from '../agent/household.js';
import { MIGRATION_ID, progressEvent, type ProgressEvent } from './migration-board.js';

/** The sender says something at least this often; the asker gives up after SILENCE_MS of nothing. */
const HEARTBEAT_MS = 2_000;
const SILENCE_MS = 30_000;
const MAX_MESSAGE = 4096;
const PHASES = ['starting', 'home', 'hello', 'precopy', 'stop-and-copy', 'commit', 'done'];
const MAX_NUMBER = 2 ** 53;

export interface SendOutcome { totalMs: number; downtimeMs: number; wireBytes: number; rounds: number }

function num(m: Record<string, unknown>, key: string, nullable = false): number | null {
  const v = m[key];
  if (nullable && v === null) return null;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > MAX_NUMBER) throw new WireError(`field '${key}' must be a number from 0 to 2^53`);
  return v;
}

function parseProgress(m: Record<string, unknown>): ProgressEvent {
  const phase = str(m, 'phase', 32);
  if (!PHASES.includes(phase)) throw new WireError(`progress with an unknown phase '${phase}'`);
  return {
    phase, round: num(m, 'round')!, percent: Math.min(100, num(m, 'percent')!), bytesSent: num(m, 'bytesSent')!, bytesPerSec: num(m, 'bytesPerSec')!,
    etaMs: num(m, 'etaMs')!, predictedDowntimeMs: num(m, 'predictedDowntimeMs', true), throttle: Math.min(1, num(m, 'throttle')!),
  };
}

function parseOutcome(m: Record<string, unknown>): SendOutcome {
  return { totalMs: num(m, 'totalMs')!, downtimeMs: num(m, 'downtimeMs')!, wireBytes: num(m, 'wireBytes')!, rounds: num(m, 'rounds')! };
}

/** Asker's side: requests the send and reports its progress; resolves with the outcome, throws the sender's reason. */
export async function askToSend(stream: WireStream, vm: string, to: string, onProgress?: (p: ProgressEvent) => void, id?: string): Promise<SendOutcome> {
  const wire = new JsonWire(stream, MAX_MESSAGE);
  await wire.write({ t: 'send', vm, to, ...(id ? { id } : {}) });
  for (;;) {
    let m: Record<string, unknown> | null;
    try { m = await wire.read(SILENCE_MS); } catch (e) {
      throw new Error(`the machine running '${vm}' stopped answering (${(e as Error).message})`);
    }
    if (!m) throw new Error(`the machine running '${vm}' closed the request without saying how it went`);
    if (m.t === 'progress') { const p = parseProgress(m); onProgress?.(p); continue; } // checked even when unused
    if (m.t === 'error') throw new Error(str(m, 'message', 2000));
    if (m.t === 'done') { const out = parseOutcome(m); await wire.close(); return out; }
    throw new WireError(`unexpected message '${String(m.t).slice(0, 32)}'`);
  }
}

/**
 * Sender's side: reads one request, runs `send` (roamd's own send path, which
 * checks the VM and the target), streams its progress, then the outcome.
 */
export async function answerSend(stream: WireStream,
  send: (vm: string, to: string, onProgress: (p: Record<string, unknown>) => void, id: string | undefined) => Promise<Record<string, unknown>>): Promise<void> {
  const wire = new JsonWire(stream, MAX_MESSAGE);
  const req = await wire.read();
  if (!req || req.t !== 'send') throw new WireError('expected a send request');
  let vm: string, to: string, id: string | undefined;
  try {
    vm = checkName(str(req, 'vm', 64), 'VM name');
    to = checkName(str(req, 'to', 64), 'machine name');
    if (req.id !== undefined) {
      id = str(req, 'id', 12);
      if (!MIGRATION_ID.test(id)) throw new WireError("field 'id' must be 12 hex digits");
    }
  } catch (e) {
    await wire.write({ t: 'error', message: (e as Error).message.slice(0, 2000) }).catch(() => undefined);
    await wire.close();
    return;
  }
  let last: ProgressEvent = { phase: 'starting', round: 0, percent: 0, bytesSent: 0, bytesPerSec: 0, etaMs: 0, predictedDowntimeMs: null, throttle: 0 };
  let writing = Promise.resolve();
  const post = (msg: object) => { writing = writing.then(() => wire.write(msg)).catch(() => undefined); };
  const safe = (p: ProgressEvent) => ({ ...p, phase: PHASES.includes(p.phase) ? p.phase : 'starting', percent: Math.min(100, Math.max(0, p.percent)) });
  const beat = setInterval(() => post({ t: 'progress', ...safe(last) }), HEARTBEAT_MS);
  try {
    const result = await send(vm, to, (p) => { last = progressEvent(p); post({ t: 'progress', ...safe(last) }); }, id);
    clearInterval(beat);
    await writing;
    const o = outcomeOf(result);
    await wire.write({ t: 'done', ...o });
  } catch (e) {
    clearInterval(beat);
    await writing;
    await wire.write({ t: 'error', message: (e as Error).message.slice(0, 2000) }).catch(() => undefined);
  }
  await wire.close();
}

function outcomeOf(r: Record<string, unknown>): SendOutcome {
  const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.min(v, MAX_NUMBER) : 0);
  return { totalMs: n(r.totalMs), downtimeMs: n(r.downtimeMs), wireBytes: n(r.wireBytes), rounds: n(r.rounds) };
}
