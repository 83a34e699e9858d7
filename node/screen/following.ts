// A subscription that follows a VM around the household: it finds where the VM
// runs, opens a view there, and when that view ends (the VM left by migration,
// the link broke, the directory shows it elsewhere) it says so, finds the VM
// again and opens a view on the new host, whose first update is the whole
// screen. A next() pending across the move resolves with that full update.
import { ViewEnded, type ScreenInput, type ScreenState, type ScreenSubscription, type ScreenUpdate, type ScreenView } from './types.js';

/** Where a VM runs: this machine (peerId null) or a member, with the record that said so. */
export interface Where { host: string; peerId: string | null; recordAt: number }
/** A host the VM just left: skipped while its record is the one from before the move (bounded in time). */
export interface Avoid { peerId: string | null; recordAt: number; until: number }

export interface Locator {
  locate(vm: string, avoid: Avoid | null): Where | null;
  open(at: Where, vm: string): Promise<ScreenView>;
  /** For a view on a member: whether the directory now shows the VM elsewhere (or here). */
  movedAway(vm: string, at: Where): boolean;
}

export const RETRY_MS = 1_000;
export const DIRECTORY_CHECK_MS = 1_000;
/** After a move, 'moving' (not 'gone') while the destination is not yet known, this long. */
export const MOVE_GRACE_MS = 30_000;
const AVOID_MS = 30_000;

export class FollowingSubscription implements ScreenSubscription {
  private view: ScreenView | null = null;
  private readonly changes = new Set<() => void>();
  private closed = false;
  private lastState = '';
  private wakeSleep: (() => void) | null = null;

  constructor(private readonly loc: Locator, readonly vm: string, private readonly onState: (s: ScreenState) => void, private readonly onClose?: () => void) {
    this.emit({ state: 'connecting' });
    void this.run();
  }

  async next(): Promise<ScreenUpdate> {
    for (;;) {
      if (this.closed) throw new Error(`the screen subscription to '${this.vm}' is closed`);
      const v = this.view;
      if (!v) { await this.changed(); continue; }
      try {
        return await v.next();
      } catch (e) {
        if (this.closed) throw new Error(`the screen subscription to '${this.vm}' is closed`);
        if (!(e instanceof ViewEnded)) throw e;
        // The run loop replaces the view; the new one's first update is full.
        if (this.view === v) await this.changed();
      }
    }
  }

  input(e: ScreenInput): void { this.view?.input(e); }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.view?.close();
    this.view = null;
    this.wakeSleep?.();
    for (const c of [...this.changes]) c();
    this.onClose?.();
  }

  private changed(): Promise<void> {
    return new Promise((r) => { const c = () => { this.changes.delete(c); r(); }; this.changes.add(c); });
  }

  private setView(v: ScreenView | null): void {
    this.view = v;
    for (const c of [...this.changes]) c();
  }

  private emit(s: ScreenState): void {
    const key = JSON.stringify(s);
    if (key === this.lastState || this.closed) return;
    this.lastState = key;
    try { this.onState(s); } catch { /* a viewer's callback must not stop the following */ }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => {
      const t = setTimeout(() => { this.wakeSleep = null; r(); }, ms);
      this.wakeSleep = () => { clearTimeout(t); this.wakeSleep = null; r(); };
    });
  }

  private avoidFor(at: Where): Avoid { return { peerId: at.peerId, recordAt: at.recordAt, until: Date.now() + AVOID_MS }; }

  private async run(): Promise<void> {
    let movedFrom: string | null = null;
    let movedAt = 0;
    let avoid: Avoid | null = null;
    const moving = () => movedFrom !== null && Date.now() - movedAt < MOVE_GRACE_MS;
    while (!this.closed) {
      if (avoid && Date.now() > avoid.until) avoid = null;
      const at = this.loc.locate(this.vm, avoid);
      if (!at) {
        this.emit(moving() ? { state: 'moving', from: movedFrom! } : { state: 'gone', reason: `no household member runs a VM named '${this.vm}'` });
        await this.sleep(RETRY_MS);
        continue;
      }
      let view: ScreenView;
      try {
        view = await this.loc.open(at, this.vm);
      } catch (e) {
        const why = e instanceof ViewEnded ? e : new ViewEnded('lost', (e as Error).message);
        if (why.kind !== 'lost') avoid = this.avoidFor(at);
        if (!moving()) this.emit(why.kind === 'lost' ? { state: 'connecting' } : { state: 'gone', reason: why.reason });
        await this.sleep(why.kind === 'moved' ? RETRY_MS / 4 : RETRY_MS);
        continue;
      }
      if (this.closed) { view.close(); return; }
      movedFrom = null; avoid = null;
      this.setView(view);
      this.emit({ state: 'live', host: view.host });
      const end = await this.watch(view, at);
      view.close();
      if (this.closed) return;
      this.setView(null);
      if (end.kind === 'moved') {
        movedFrom = view.host; movedAt = Date.now(); avoid = this.avoidFor(at);
        this.emit({ state: 'moving', from: view.host });
      } else if (end.kind === 'lost') {
        this.emit({ state: 'connecting' });
        await this.sleep(RETRY_MS / 4);
      } else {
        avoid = this.avoidFor(at);
      }
    }
  }

  /** Until the view ends, or (on a member) the directory shows the VM has gone elsewhere. */
  private watch(view: ScreenView, at: Where): Promise<ViewEnded> {
    if (at.peerId === null) return view.ended;
    return new Promise((resolve) => {
      const t = setInterval(() => {
        if (this.closed || this.loc.movedAway(this.vm, at)) { clearInterval(t); resolve(new ViewEnded('moved', `the household directory shows '${this.vm}' is no longer on ${at.host}`)); }
      }, DIRECTORY_CHECK_MS);
      void view.ended.then((e) => { clearInterval(t); resolve(e); });
    });
  }
}
