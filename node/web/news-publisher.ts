// The sending side of /roam/migrations/1.0.0: every change of a migration this
// roamd sends goes to every other online member, at most NEWS_PER_SECOND
// notifications per member and migration, one in flight at a time (a member
// that is slow to answer gets the latest snapshot next, not a backlog). While a
// migration is quiet its last snapshot is repeated every REPEAT_MS, so members
// can tell a slow migration from a sender that went away; the outcome is always
// sent. Best effort: a member that cannot be reached misses news, nothing else.
import type { WireStream } from '../agent/wire.js';
import type { MigrationBoard, MigrationOrigin, MigrationView } from './migration-board.js';
import { newsMessage, postNews } from './migration-news.js';

const NEWS_PER_SECOND = 4;
const MIN_GAP_MS = 1000 / NEWS_PER_SECOND;
export const REPEAT_MS = 3_000;
/** How long a member-reported migration may stay silent before its page says so (several missed repeats). */
export const SILENCE_MS = 30_000;

export interface NewsPorts {
  /** This machine's name: only migrations it sends are published. */
  self(): string;
  /** The peer ids of the members online now. */
  members(): string[];
  dial(peerId: string): Promise<WireStream>;
}

/** A finished migration whose outcome could not reach every member is forgotten after this long anyway. */
const FORGET_FINISHED_MS = 60_000;

/** One migration's news to one member. */
interface Lane { busy: boolean; lastAt: number; timer: NodeJS.Timeout | undefined; sent: number }

export class NewsPublisher {
  private readonly lanes = new Map<string, Lane>();
  /** Latest snapshot and sequence number per migration this roamd sends. */
  private readonly latest = new Map<string, { view: MigrationView; seq: number; changedAt: number }>();
  private readonly onChange: (v: MigrationView, origin: MigrationOrigin) => void;
  private readonly repeat: NodeJS.Timeout;
  private stopped = false;

  constructor(private readonly board: MigrationBoard, private readonly ports: NewsPorts, private readonly now: () => number = Date.now) {
    this.onChange = (v, origin) => { if (origin === 'local' && v.from === ports.self()) this.changed(v); };
    board.on('change', this.onChange);
    this.repeat = setInterval(() => this.tick(), 1000);
    this.repeat.unref();
  }

  stop(): void {
    this.stopped = true;
    this.board.off('change', this.onChange);
    clearInterval(this.repeat);
    for (const l of this.lanes.values()) if (l.timer) clearTimeout(l.timer);
  }

  private changed(v: MigrationView): void {
    const had = this.latest.get(v.id);
    this.latest.set(v.id, { view: v, seq: (had?.seq ?? 0) + 1, changedAt: this.now() });
    for (const peer of this.ports.members()) this.schedule(v.id, peer);
  }

  /** Repeats quiet migrations' snapshots, and tells members that went silent how long ago it was. */
  private tick(): void {
    this.board.sweep(SILENCE_MS);
    const now = this.now();
    for (const [id, l] of this.latest) {
      if (l.view.outcome !== null) {
        if (now - l.changedAt > FORGET_FINISHED_MS) { for (const k of this.lanesOf(id)) this.dropLane(k); this.latest.delete(id); }
        continue;
      }
      if (now - l.changedAt >= REPEAT_MS) { l.seq++; l.changedAt = now; for (const peer of this.ports.members()) this.schedule(id, peer); }
    }
  }

  private schedule(id: string, peer: string): void {
    if (this.stopped) return;
    const key = `${id} ${peer}`;
    let lane = this.lanes.get(key);
    if (!lane) { lane = { busy: false, lastAt: 0, timer: undefined, sent: 0 }; this.lanes.set(key, lane); }
    if (lane.busy || lane.timer) return; // the send under way (or due) picks up the latest snapshot
    const wait = lane.lastAt + MIN_GAP_MS - this.now();
    if (wait > 0) { lane.timer = setTimeout(() => { lane.timer = undefined; this.send(id, peer, lane); }, wait); lane.timer.unref(); return; }
    this.send(id, peer, lane);
  }

  private send(id: string, peer: string, lane: Lane): void {
    const l = this.latest.get(id);
    if (!l || this.stopped) return;
    if (lane.sent === l.seq) { this.finishIfDone(id); return; } // nothing new since the last one
    const seq = l.seq;
    lane.busy = true; lane.lastAt = this.now();
    void (async () => {
      try {
        await postNews(await this.ports.dial(peer), newsMessage(l.view, seq, this.now()));
      } catch { /* that member misses this one; the next snapshot says it all again */ }
      lane.busy = false; lane.sent = seq;
      const cur = this.latest.get(id);
      if (cur && cur.seq !== seq) this.schedule(id, peer);
      else this.finishIfDone(id);
    })();
  }

  /** Forgets a migration once its outcome went out to every member (or every try did). */
  private finishIfDone(id: string): void {
    const l = this.latest.get(id);
    if (!l || l.view.outcome === null) return;
    const keys = this.lanesOf(id);
    if (keys.some((k) => { const lane = this.lanes.get(k)!; return lane.busy || lane.timer || lane.sent !== l.seq; })) return;
    for (const k of keys) this.dropLane(k);
    this.latest.delete(id);
  }

  private lanesOf(id: string): string[] { return [...this.lanes.keys()].filter((k) => k.startsWith(`${id} `)); }

  private dropLane(key: string): void {
    const lane = this.lanes.get(key);
    if (lane?.timer) clearTimeout(lane.timer);
    this.lanes.delete(key);
  }
}
