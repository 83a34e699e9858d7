// Every migration in the household, as the web page charts them: per pre-copy
// round the bytes sent, the dirty rate and the predicted downtime, plus the
// current phase and the outcome. Local tracks are fed by the progress events
// of this roamd's migration service (roam send, the lid hand-off, the page's
// "send to …") and of remote send requests it made; remote entries by the
// notifications the sending member publishes (migration-news.ts), one entry
// per migration id whoever holds it.
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { MigrationService } from '../agent/migration.js';
import type { MigrationNews } from './migration-news.js';

export interface RoundPoint {
  round: number;
  /** Wire bytes the round sent. */
  bytes: number;
  seconds: number;
  /** Bytes the guest dirtied during the round per second (null when the link speed was not known yet). */
  dirtyBytesPerSec: number | null;
  /** Downtime predicted after the round from what it left dirty (null when unknown). */
  predictedDowntimeMs: number | null;
  /** The stop-and-copy round: the VM was paused while it ran. */
  final: boolean;
}

export type MigrationOutcome =
  | { ok: true; totalMs: number; downtimeMs: number; wireBytes: number; rounds: number }
  | { ok: false; error: string };

export interface MigrationView {
  id: string;
  vm: string;
  from: string;
  to: string;
  /** The member that asked for the move when it is not `from` (a click on its dashboard). */
  via: string | null;
  startedAt: number;
  phase: string;
  round: number;
  percent: number;
  bytesSent: number;
  bytesPerSec: number;
  etaMs: number;
  predictedDowntimeMs: number | null;
  throttle: number;
  rounds: RoundPoint[];
  outcome: MigrationOutcome | null;
  finishedAt: number | null;
}

/** A progress event as the migration service (or a remote sender) reports it. */
export interface ProgressEvent {
  phase: string; round: number; percent: number; bytesSent: number; bytesPerSec: number;
  etaMs: number; predictedDowntimeMs: number | null; throttle: number;
}

const KEEP_FINISHED = 8;
const MAX_ROUNDS = 1000;

function finite(v: unknown, fallback = 0): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}

/** Reads a progress event from the service's loose record; a missing or non-finite field becomes 0 (or null). */
export function progressEvent(p: Record<string, unknown>): ProgressEvent {
  const pd = p.predictedDowntimeMs;
  return {
    phase: typeof p.phase === 'string' ? p.phase.slice(0, 32) : 'unknown', round: finite(p.round), percent: finite(p.percent),
    bytesSent: finite(p.bytesSent), bytesPerSec: finite(p.bytesPerSec), etaMs: finite(p.etaMs),
    predictedDowntimeMs: typeof pd === 'number' && Number.isFinite(pd) ? pd : null, throttle: finite(p.throttle),
  };
}

export class MigrationTrack {
  readonly view: MigrationView;
  private roundStart: { bytes: number; at: number } | null = null;
  private lastRound = 0;

  constructor(private readonly board: MigrationBoard, id: string, vm: string, from: string, to: string, via: string | null, private readonly now: () => number) {
    this.view = {
      id, vm, from, to, via, startedAt: now(), phase: 'starting', round: 0, percent: 0,
      bytesSent: 0, bytesPerSec: 0, etaMs: 0, predictedDowntimeMs: null, throttle: 0, rounds: [], outcome: null, finishedAt: null,
    };
  }

  get active(): boolean { return this.view.outcome === null; }

  progress(p: ProgressEvent): void {
    if (!this.active) return;
    const v = this.view;
    const t = this.now();
    v.phase = p.phase;
    if (p.phase === 'home') { this.board.changed(this); return; } // the home hand-over before the VM moves: no rounds yet
    // The sender reports once before round 0 (phase hello) and after every round (round = rounds done).
    if (!this.roundStart) this.roundStart = { bytes: p.bytesSent, at: t };
    if ((p.phase === 'precopy' && p.round > this.lastRound) || p.phase === 'done') this.closeRound(p, t, p.phase === 'done');
    v.round = p.round; v.percent = p.percent; v.bytesSent = p.bytesSent; v.bytesPerSec = p.bytesPerSec;
    v.etaMs = p.etaMs; v.predictedDowntimeMs = p.predictedDowntimeMs; v.throttle = p.throttle;
    this.board.changed(this);
  }

  private closeRound(p: ProgressEvent, t: number, final: boolean): void {
    const start = this.roundStart!;
    const seconds = Math.max((t - start.at) / 1000, 1e-3);
    // predicted downtime = dirty bytes ÷ link rate (dirty-tracking's predictDowntimeMs), so the dirty bytes
    // the round left behind are predicted × rate; over the round's duration that is the guest's dirty rate.
    const dirtyBytes = !final && p.predictedDowntimeMs !== null && p.bytesPerSec > 0 ? (p.predictedDowntimeMs * p.bytesPerSec) / 1000 : null;
    if (this.view.rounds.length < MAX_ROUNDS) {
      this.view.rounds.push({
        round: final ? this.lastRound : p.round - 1, bytes: Math.max(0, p.bytesSent - start.bytes), seconds,
        dirtyBytesPerSec: dirtyBytes === null ? null : dirtyBytes / seconds, predictedDowntimeMs: final ? null : p.predictedDowntimeMs, final,
      });
    }
    this.roundStart = { bytes: p.bytesSent, at: t };
    if (!final) this.lastRound = p.round;
  }

  done(result: Record<string, unknown>): void {
    if (!this.active) return;
    const v = this.view;
    v.phase = 'done'; v.percent = 100;
    v.outcome = {
      ok: true, totalMs: finite(result.totalMs), downtimeMs: finite(result.downtimeMs), wireBytes: finite(result.wireBytes), rounds: finite(result.rounds),
    };
    v.finishedAt = this.now();
    this.board.changed(this);
  }

  failed(e: unknown): void {
    if (!this.active) return;
    this.view.outcome = { ok: false, error: (e instanceof Error ? e.message : String(e)).slice(0, 500) };
    this.view.phase = 'failed';
    this.view.finishedAt = this.now();
    this.board.changed(this);
  }
}

/** A migration another member sends, as its notifications describe it. */
export class RemoteMigration {
  lastNewsAt: number;
  seq = -1;
  /** Marked failed by sweep() for want of news: a later notification still counts. */
  swept = false;

  constructor(readonly view: MigrationView, readonly peer: string, now: number) { this.lastNewsAt = now; }

  get active(): boolean { return this.view.outcome === null; }
}

/** An id as this board makes them (and accepts from a member's request or notification). */
export const MIGRATION_ID = /^[0-9a-f]{12}$/;
/** Remote migrations under way at once; more is no household's doing, so further new ones are refused. */
const MAX_REMOTE_ACTIVE = 16;

/** 'local': this roamd's own track (it sends, or asked a member to); 'remote': a member's notification. */
export type MigrationOrigin = 'local' | 'remote';
export interface MigrationBoardEvents { change: [MigrationView, MigrationOrigin] }

export class MigrationBoard extends EventEmitter<MigrationBoardEvents> {
  private readonly tracks: (MigrationTrack | RemoteMigration)[] = [];

  constructor(private readonly now: () => number = Date.now) { super(); }

  /**
   * Starts a local track. `id` is the one a member chose when it asked for this send, so that
   * its board and this one's notifications name the same migration; any other id gets a fresh one.
   */
  begin(vm: string, from: string, to: string, via: string | null = null, id?: string): MigrationTrack {
    const fresh = id !== undefined && MIGRATION_ID.test(id) && !this.get(id) ? id : this.newId();
    const t = new MigrationTrack(this, fresh, vm, from, to, via, this.now);
    this.add(t);
    return t;
  }

  get(id: string): MigrationTrack | RemoteMigration | undefined { return this.tracks.find((t) => t.view.id === id); }

  /** The migration of `vm` still under way (here or reported by a member), if any. */
  activeFor(vm: string): MigrationTrack | RemoteMigration | undefined { return this.tracks.find((t) => t.active && t.view.vm === vm); }

  list(): MigrationView[] { return this.tracks.map((t) => t.view); }

  changed(t: MigrationTrack | RemoteMigration): void { this.emit('change', t.view, t instanceof RemoteMigration ? 'remote' : 'local'); }

  /**
   * Merges a member's notification (already checked field by field, `from` already matched
   * to the member that sent it). A migration this machine tracks itself (it asked for it)
   * keeps its own track; an older or repeated notification changes nothing. Throws when the
   * notification contradicts what the board holds under that id, or too many are under way.
   */
  applyNews(n: MigrationNews, peer: string): 'applied' | 'ignored' {
    const now = this.now();
    const had = this.get(n.id);
    if (had instanceof MigrationTrack) return 'ignored';
    if (had && (had.peer !== peer || had.view.vm !== n.vm || had.view.from !== n.from || had.view.to !== n.to)) {
      throw new Error(`migration ${n.id} is already known as another migration`);
    }
    if (had && ((!had.active && !had.swept) || n.seq <= had.seq)) return 'ignored';
    let entry = had;
    if (!entry) {
      if (this.tracks.filter((t) => t instanceof RemoteMigration && t.active).length >= MAX_REMOTE_ACTIVE) {
        throw new Error(`over ${MAX_REMOTE_ACTIVE} migrations reported under way at once`);
      }
      entry = new RemoteMigration({
        id: n.id, vm: n.vm, from: n.from, to: n.to, via: n.via, startedAt: now - n.ageMs, phase: n.phase, round: 0, percent: 0, bytesSent: 0,
        bytesPerSec: 0, etaMs: 0, predictedDowntimeMs: null, throttle: 0, rounds: [], outcome: null, finishedAt: null,
      }, peer, now);
      this.add(entry);
    }
    const v = entry.view;
    entry.seq = n.seq; entry.lastNewsAt = now;
    if (entry.swept) { entry.swept = false; v.outcome = null; v.finishedAt = null; }
    v.phase = n.phase; v.round = n.round; v.percent = n.percent; v.bytesSent = n.bytesSent; v.bytesPerSec = n.bytesPerSec;
    v.etaMs = n.etaMs; v.predictedDowntimeMs = n.predictedDowntimeMs; v.throttle = n.throttle;
    // The notification carries the latest rounds from index roundsFrom on; earlier ones stay as received.
    v.rounds = [...v.rounds.slice(0, Math.min(n.roundsFrom, v.rounds.length)), ...n.rounds].slice(0, MAX_ROUNDS);
    if (n.outcome) { v.outcome = n.outcome; v.finishedAt = now; }
    this.changed(entry);
    return 'applied';
  }

  /** Marks the member-reported migrations not heard of for `silenceMs` as failed (their sender went away). */
  sweep(silenceMs: number): void {
    const now = this.now();
    for (const t of this.tracks) {
      if (!(t instanceof RemoteMigration) || !t.active || now - t.lastNewsAt < silenceMs) continue;
      t.view.outcome = { ok: false, error: `no news from ${t.view.from} for ${Math.round(silenceMs / 1000)} s (it may have gone offline)` };
      t.view.phase = 'failed';
      t.view.finishedAt = now;
      t.swept = true;
      this.changed(t);
    }
  }

  private add(t: MigrationTrack | RemoteMigration): void {
    this.tracks.push(t);
    const finished = this.tracks.filter((x) => !x.active);
    for (const old of finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED))) this.tracks.splice(this.tracks.indexOf(old), 1);
    this.changed(t);
  }

  private newId(): string {
    for (;;) { const id = randomBytes(6).toString('hex'); if (!this.get(id)) return id; }
  }

  /**
   * The migration service with every send it makes tracked here (the caller's
   * own progress callback still gets every event).
   */
  observe<S extends MigrationService>(svc: S, self: () => string): MigrationService {
    return {
      receive: (stream, from) => svc.receive(stream, from),
      send: async (req) => {
        const track = this.begin(req.vm.spec.name, self(), req.to.name, req.track?.via ?? null, req.track?.id);
        try {
          const result = await svc.send({
            ...req, onProgress: (p) => { track.progress(progressEvent(p)); req.onProgress?.(p); },
          });
          track.done(result);
          return result;
        } catch (e) {
          track.failed(e);
          throw e;
        }
      },
    };
  }
}
