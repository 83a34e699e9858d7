// /roam/migrations/1.0.0: the member that sends a VM tells every other online
// member how the migration goes, so each member's page charts every migration
// in the household, on the receiving machine too. One stream carries one
// notification, a snapshot of the sender's own track (never a delta, so a lost
// or coalesced one costs nothing but detail):
//   sender → {t:'migration', id, seq, vm, from, to, via, ageMs, phase, round, percent, bytesSent,
//             bytesPerSec, etaMs, predictedDowntimeMs, throttle, roundsFrom, rounds: [RoundPoint…], outcome}
// then the sender closes; the listener answers nothing (a refusal is a reset).
// `rounds` holds the latest NEWS_MAX_ROUNDS round points, the first of them at
// index `roundsFrom` of the sender's list. Times travel as ages, never as clock
// readings, so members' clocks need not agree. roamd opens and answers it only
// between household members; every field is checked and bounded before use.
import { JsonWire, WireError, str, type WireStream } from '../agent/wire.js';
import { MIGRATION_ID, type MigrationOutcome, type MigrationView, type RoundPoint } from './migration-board.js';

/** One notification's frame limit: NEWS_MAX_ROUNDS round points fit with room to spare. */
export const NEWS_MAX_MESSAGE = 16 * 1024;
export const NEWS_MAX_ROUNDS = 48;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const PHASES = ['starting', 'home', 'hello', 'precopy', 'stop-and-copy', 'commit', 'done', 'failed'];
const MAX_NUMBER = 2 ** 53;
const MAX_AGE_MS = 24 * 3600_000;
const MAX_ERROR = 500;

export interface MigrationNews {
  id: string; seq: number; vm: string; from: string; to: string; via: string | null; ageMs: number;
  phase: string; round: number; percent: number; bytesSent: number; bytesPerSec: number; etaMs: number;
  predictedDowntimeMs: number | null; throttle: number; roundsFrom: number; rounds: RoundPoint[]; outcome: MigrationOutcome | null;
}

/** A number as the listener accepts it: finite, from 0 to `max` (whole when asked); else 0. */
function bounded(v: number, max = MAX_NUMBER, whole = false): number {
  if (!Number.isFinite(v)) return 0;
  const x = Math.min(max, Math.max(0, v));
  return whole ? Math.floor(x) : x;
}

const boundedOrNull = (v: number | null) => (v === null ? null : bounded(v));

/** The notification for the sender's own track as it stands now (bounded as the listener checks it). */
export function newsMessage(v: MigrationView, seq: number, now: number): Record<string, unknown> {
  const roundsFrom = Math.max(0, v.rounds.length - NEWS_MAX_ROUNDS);
  const o = v.outcome;
  const out = o === null ? null : o.ok
    ? { ok: true, totalMs: bounded(o.totalMs), downtimeMs: bounded(o.downtimeMs), wireBytes: bounded(o.wireBytes), rounds: bounded(o.rounds, MAX_NUMBER, true) }
    : { ok: false, error: o.error.slice(0, MAX_ERROR) };
  return {
    t: 'migration', id: v.id, seq, vm: v.vm, from: v.from, to: v.to, via: v.via, ageMs: bounded(now - v.startedAt, MAX_AGE_MS),
    phase: PHASES.includes(v.phase) ? v.phase : 'starting', round: bounded(v.round, MAX_NUMBER, true), percent: bounded(v.percent, 100),
    bytesSent: bounded(v.bytesSent), bytesPerSec: bounded(v.bytesPerSec), etaMs: bounded(v.etaMs), predictedDowntimeMs: boundedOrNull(v.predictedDowntimeMs),
    throttle: bounded(v.throttle, 1), roundsFrom,
    rounds: v.rounds.slice(roundsFrom).map((p) => ({
      round: bounded(p.round, MAX_NUMBER, true), bytes: bounded(p.bytes), seconds: bounded(p.seconds, MAX_AGE_MS / 1000),
      dirtyBytesPerSec: boundedOrNull(p.dirtyBytesPerSec), predictedDowntimeMs: boundedOrNull(p.predictedDowntimeMs), final: p.final,
    })),
    outcome: out,
  };
}

function num(m: Record<string, unknown>, key: string, max = MAX_NUMBER): number {
  const v = m[key];
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > max) throw new WireError(`field '${key}' must be a number from 0 to ${max}`);
  return v;
}

function nullableNum(m: Record<string, unknown>, key: string): number | null {
  return m[key] === null ? null : num(m, key);
}

function int(m: Record<string, unknown>, key: string, max = MAX_NUMBER): number {
  const v = num(m, key, max);
  if (!Number.isInteger(v)) throw new WireError(`field '${key}' must be a whole number`);
  return v;
}

function name(m: Record<string, unknown>, key: string): string {
  const v = str(m, key, 64);
  if (!NAME.test(v)) throw new WireError(`field '${key}' is not a valid name`);
  return v;
}

function bool(m: Record<string, unknown>, key: string): boolean {
  if (typeof m[key] !== 'boolean') throw new WireError(`field '${key}' must be true or false`);
  return m[key] as boolean;
}

function obj(v: unknown, what: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new WireError(`${what} must be an object`);
  return v as Record<string, unknown>;
}

function roundPoint(v: unknown): RoundPoint {
  const p = obj(v, 'a round point');
  return {
    round: int(p, 'round'), bytes: num(p, 'bytes'), seconds: num(p, 'seconds', MAX_AGE_MS / 1000),
    dirtyBytesPerSec: nullableNum(p, 'dirtyBytesPerSec'), predictedDowntimeMs: nullableNum(p, 'predictedDowntimeMs'), final: bool(p, 'final'),
  };
}

function outcome(v: unknown): MigrationOutcome | null {
  if (v === null) return null;
  const o = obj(v, 'outcome');
  if (o.ok === true) return { ok: true, totalMs: num(o, 'totalMs'), downtimeMs: num(o, 'downtimeMs'), wireBytes: num(o, 'wireBytes'), rounds: int(o, 'rounds') };
  if (o.ok === false) return { ok: false, error: str(o, 'error', MAX_ERROR) };
  throw new WireError("field 'outcome.ok' must be true or false");
}

/** A notification from the wire, checked field by field; throws a WireError naming the first bad one. */
export function parseNews(m: Record<string, unknown>): MigrationNews {
  if (m.t !== 'migration') throw new WireError('expected a migration notification');
  const id = str(m, 'id', 12);
  if (!MIGRATION_ID.test(id)) throw new WireError("field 'id' must be 12 hex digits");
  const phase = str(m, 'phase', 32);
  if (!PHASES.includes(phase)) throw new WireError(`unknown phase '${phase}'`);
  if (!Array.isArray(m.rounds) || m.rounds.length > NEWS_MAX_ROUNDS) throw new WireError(`field 'rounds' must be a list of at most ${NEWS_MAX_ROUNDS} round points`);
  return {
    id, seq: int(m, 'seq'), vm: name(m, 'vm'), from: name(m, 'from'), to: name(m, 'to'), via: m.via === null ? null : name(m, 'via'),
    ageMs: num(m, 'ageMs', MAX_AGE_MS), phase, round: int(m, 'round'), percent: num(m, 'percent', 100), bytesSent: num(m, 'bytesSent'),
    bytesPerSec: num(m, 'bytesPerSec'), etaMs: num(m, 'etaMs'), predictedDowntimeMs: nullableNum(m, 'predictedDowntimeMs'),
    throttle: num(m, 'throttle', 1), roundsFrom: int(m, 'roundsFrom', 1_000_000), rounds: m.rounds.map(roundPoint), outcome: outcome(m.outcome),
  };
}

/** Sender's side: one notification, then the stream is closed. */
export async function postNews(stream: WireStream, message: Record<string, unknown>): Promise<void> {
  const wire = new JsonWire(stream, NEWS_MAX_MESSAGE);
  await wire.write(message);
  await wire.close();
}

/** Listener's side: reads the one notification; throws (the caller resets the stream) when it is missing or malformed. */
export async function receiveNews(stream: WireStream, timeoutMs = 5_000): Promise<MigrationNews> {
  const wire = new JsonWire(stream, NEWS_MAX_MESSAGE);
  const m = await wire.read(timeoutMs);
  if (!m) throw new WireError('the stream ended before the notification');
  const news = parseNews(m);
  await wire.close();
  return news;
}
