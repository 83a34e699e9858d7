// The screen of a VM running on this machine, shared by every viewer of it
// (local subscriptions and remote members' streams alike): one reader of the VM
// process's damage, which it polls about 30 times a second only while some
// viewer waits in next(). Each viewer keeps its own copy of what it received
// and its own damage since, so a slow viewer costs nothing while it is away and
// gets everything it missed, coalesced, when it asks again.
import { InputQueue } from './input.js';
import { encodeRects } from './rect-codec.js';
import { SentFrame, type RawRect } from './tiles.js';
import { ViewEnded, type ScreenInput, type ScreenUpdate, type ScreenView } from './types.js';
import type { VmDisplay } from './vm-display.js';

export const POLL_MS = 33;
/** Viewers of one VM at once (each holds a copy of the screen). */
export const MAX_VIEWS = 16;

export class LocalScreen {
  private readonly views = new Set<LocalView>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private endedWith: ViewEnded | null = null;
  private readonly keys: InputQueue;
  /** Polls that failed in a row (the VM process is busy or going); the screen ends after too many. */
  private failures = 0;
  /** Polls completed (each: one damage read, then every waiting viewer served if its tiles changed). */
  pollCount = 0;

  constructor(readonly host: string, private readonly display: VmDisplay) {
    this.keys = new InputQueue((r) => display.input(r));
  }

  get geom() { return this.display.geom; }
  get ended(): boolean { return this.endedWith !== null; }
  get viewCount(): number { return this.views.size; }

  /** A new viewer: its first next() is the whole screen. */
  view(): ScreenView {
    if (this.endedWith) throw this.endedWith;
    if (this.views.size >= MAX_VIEWS) throw new Error(`this VM's screen already has ${MAX_VIEWS} viewers`);
    const v = new LocalView(this);
    this.views.add(v);
    return v;
  }

  input(e: ScreenInput | unknown): void { this.keys.push(e); }

  /** This machine's copy of the VM is over (it left, or stopped): every viewer hears why. */
  end(why: ViewEnded): void {
    if (this.endedWith) return;
    this.endedWith = why;
    clearTimeout(this.timer);
    this.keys.close();
    for (const v of [...this.views]) v.finish(why);
    this.views.clear();
    this.display.close();
  }

  /** @internal */ drop(v: LocalView): void { this.views.delete(v); }
  /** @internal */ endedReason(): ViewEnded | null { return this.endedWith; }
  /** @internal */ framebuffer(): Uint8Array { return this.display.framebuffer(); }

  /** @internal Some viewer waits: poll soon (at most one poll in flight, one timer set). */
  wake(): void {
    if (this.endedWith || this.polling || this.timer) return;
    this.timer = setTimeout(() => { this.timer = undefined; void this.poll(); }, POLL_MS);
  }

  private async poll(): Promise<void> {
    if (this.endedWith) return;
    this.polling = true;
    try {
      const bits = await this.display.damage();
      this.failures = 0;
      for (const v of this.views) v.addDamage(bits);
    } catch (e) {
      // A VM process that answers nothing for a while is treated as gone; the registry sees why.
      if (++this.failures >= 30) this.end(new ViewEnded('absent', `the VM's display stopped answering: ${(e as Error).message}`));
    } finally {
      this.polling = false;
    }
    if (this.endedWith) return;
    for (const v of this.views) v.serveIfChanged();
    this.pollCount++;
    if ([...this.views].some((v) => v.waiting)) this.wake();
  }
}

class LocalView implements ScreenView {
  readonly ended: Promise<ViewEnded>;
  private readonly sent: SentFrame;
  private readonly damage: Uint8Array;
  private waiter: { resolve: (u: ScreenUpdate) => void; reject: (e: Error) => void } | null = null;
  private encoding = false;
  private endedWith: ViewEnded | null = null;
  private markEnded!: (e: ViewEnded) => void;

  constructor(private readonly screen: LocalScreen) {
    this.sent = new SentFrame(screen.geom);
    this.damage = new Uint8Array(Math.ceil(screen.geom.height / 8));
    this.ended = new Promise((r) => { this.markEnded = r; });
  }

  get host(): string { return this.screen.host; }
  get waiting(): boolean { return this.waiter !== null && !this.encoding; }

  next(): Promise<ScreenUpdate> {
    if (this.endedWith) return Promise.reject(this.endedWith);
    if (this.waiter) return Promise.reject(new Error('next() is already waiting for an update'));
    return new Promise<ScreenUpdate>((resolve, reject) => {
      this.waiter = { resolve, reject };
      if (!this.sent.started) this.send(true);
      else this.screen.wake();
    });
  }

  input(e: ScreenInput): void { if (!this.endedWith) this.screen.input(e); }

  close(): void {
    this.finish(new ViewEnded('absent', 'the viewer closed'));
    this.screen.drop(this);
  }

  addDamage(bits: Uint8Array): void {
    const n = Math.min(bits.length, this.damage.length);
    for (let i = 0; i < n; i++) this.damage[i] = this.damage[i]! | bits[i]!;
  }

  serveIfChanged(): void {
    if (this.waiting) this.send(false);
  }

  finish(why: ViewEnded): void {
    if (this.endedWith) return;
    this.endedWith = why;
    this.waiter?.reject(why);
    this.waiter = null;
    this.markEnded(why);
  }

  private send(full: boolean): void {
    let rects: RawRect[];
    try {
      const fb = this.screen.framebuffer();
      rects = full ? this.sent.full(fb) : this.sent.changed(fb, this.damage);
      this.damage.fill(0);
    } catch (e) {
      // The mapping went away under us (the VM process ended): the screen is over.
      this.screen.end(this.screen.endedReason() ?? new ViewEnded('absent', `the VM's framebuffer is gone: ${(e as Error).message}`));
      return;
    }
    if (rects.length === 0) return;
    this.encoding = true;
    const { width, height } = this.screen.geom;
    encodeRects(rects).then((encoded) => {
      this.encoding = false;
      const w = this.waiter; this.waiter = null;
      w?.resolve({ width, height, full, rects: encoded });
    }, (e: Error) => {
      this.encoding = false;
      const w = this.waiter; this.waiter = null;
      w?.reject(e);
    });
  }
}
