// roamd's one screen service: watch() follows a VM wherever in the household it
// runs (this machine's VM supervisor first, then the members' records in the
// peer directory); serve() answers other members' /roam/screen/1.0.0 streams
// for the VMs that run here.
import { FollowingSubscription, type Avoid, type Locator, type Where } from './following.js';
import { LocalScreens, type LocalVms, type OpenDisplay } from './local-screens.js';
import { openRemoteView } from './remote-view.js';
import { serveScreen } from './screen-server.js';
import type { ScreenStream } from './stream-frames.js';
import { ViewEnded, type ScreenService, type ScreenState, type ScreenSubscription, type ScreenView } from './types.js';

/** A household member as the peer directory knows it. */
export interface MemberView { peerId: string; name: string; online: boolean; updatedAt: number; vms: { name: string; state: string }[] }

/** What the service needs of roamd. */
export interface ScreenHost {
  /** This machine's member name. */
  readonly name: string;
  readonly vms: LocalVms;
  /** The other household members, with the VMs their latest records list. */
  members(): MemberView[];
  /** Opens /roam/screen/1.0.0 to a member. */
  dial(peerId: string): Promise<ScreenStream>;
  log?(line: string): void;
}

/** Subscriptions one roamd holds at once (each may hold a copy of a screen). */
export const MAX_SUBSCRIPTIONS = 64;
/** Members' streams served at once. */
export const MAX_SERVED = 32;
const RUNS = new Set(['starting', 'running', 'paused']);
/** VM names as roamd allows them (anything else runs nowhere). */
const VM_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export class HouseholdScreens implements ScreenService, Locator {
  readonly locals: LocalScreens;
  private readonly subs = new Set<ScreenSubscription>();
  private readonly served = new Set<ScreenStream>();
  private closed = false;

  constructor(private readonly host: ScreenHost, opts: { openDisplay?: OpenDisplay } = {}) {
    this.locals = new LocalScreens(host.name, host.vms, opts.openDisplay);
  }

  watch(vm: string, onState: (s: ScreenState) => void): ScreenSubscription {
    if (this.closed) throw new Error('the screen service is closed');
    if (this.subs.size >= MAX_SUBSCRIPTIONS) throw new Error(`this roamd already watches ${MAX_SUBSCRIPTIONS} screens`);
    const sub: ScreenSubscription = new FollowingSubscription(this, vm, onState, () => this.subs.delete(sub));
    this.subs.add(sub);
    return sub;
  }

  /** Answers one member's /roam/screen/1.0.0 stream (roamd checked membership). Never throws. */
  async serve(stream: ScreenStream): Promise<void> {
    if (this.closed || this.served.size >= MAX_SERVED) { stream.abort(new Error(this.closed ? 'roamd is stopping' : `already serving ${MAX_SERVED} screen streams`)); return; }
    this.served.add(stream);
    try { await serveScreen(stream, this.locals); } catch (e) { stream.abort(e as Error); } finally { this.served.delete(stream); }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const s of [...this.subs]) s.close();
    this.locals.close();
    for (const s of this.served) s.abort(new Error('roamd is stopping'));
  }

  // ---- Locator ----

  locate(vm: string, avoid: Avoid | null): Where | null {
    if (!VM_NAME.test(vm)) return null;
    if (this.locals.has(vm)) return { host: this.host.name, peerId: null, recordAt: 0 };
    let best: MemberView | undefined;
    for (const m of this.host.members()) {
      if (!m.online || !m.vms.some((v) => v.name === vm && RUNS.has(v.state))) continue;
      if (avoid && avoid.peerId === m.peerId && avoid.recordAt === m.updatedAt) continue;
      if (!best || m.updatedAt > best.updatedAt) best = m;
    }
    return best ? { host: best.name, peerId: best.peerId, recordAt: best.updatedAt } : null;
  }

  async open(at: Where, vm: string): Promise<ScreenView> {
    if (at.peerId === null) {
      const s = await this.locals.screen(vm);
      if (s instanceof ViewEnded) throw s;
      return s.view();
    }
    let stream: ScreenStream;
    try { stream = await this.host.dial(at.peerId); } catch (e) { throw new ViewEnded('lost', `cannot reach ${at.host}: ${(e as Error).message}`); }
    return openRemoteView(stream, vm, at.host);
  }

  movedAway(vm: string, at: Where): boolean {
    if (this.locals.has(vm)) return true;
    const members = this.host.members();
    const there = members.find((m) => m.peerId === at.peerId);
    if (there && there.vms.some((v) => v.name === vm && RUNS.has(v.state))) return false;
    return members.some((m) => m.peerId !== at.peerId && m.online && m.vms.some((v) => v.name === vm && RUNS.has(v.state)));
  }
}
