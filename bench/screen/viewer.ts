// A person at one household machine: Debian's Chromium inside that machine's
// namespace (so its localhost is that machine's roamd), signed in once with
// the link `roam view` prints, showing one VM's screen at a time. Every frame
// of the page's screen WebSocket passes through here, so a window of the
// stream can be counted (stream-tally.ts) as the page received it.
import type { Browser, Page } from 'playwright-core';
import { until, type Household } from '../../node/demo/household.js';
import { launchChromium } from '../../test/support/browser.js';
import { decodeSeqStrip, SEQ_STRIP, SEQ_STRIP_HEIGHT, SEQ_STRIP_WIDTH } from '../../test/support/seq-strip.js';
import { sleep } from '../lib/measure.js';
import { decodeUpdate } from '../../node/web/screen-wire.js';
import { addFrame, newTally, type Area, type StreamTally } from './stream-tally.js';
import { ScreenModel } from './changed-area.js';
import { timeKey, type KeyTiming } from './key-latency.js';

export class Viewer {
  private origin: string | null = null;
  /** Counting the current window, when one is open. */
  private counting: { tally: StreamTally; watch: Area | undefined } | null = null;
  /** Bytes of the first update of the current session (the whole screen), once it arrived. */
  private firstUpdateBytes: number | null = null;
  private sessionOpen = false;
  /** Every binary frame of the current viewing until its window closed, to rebuild the picture afterwards. */
  private frames: Buffer[] = [];
  private recording = false;

  private constructor(readonly machine: string, private readonly browser: Browser, readonly page: Page, private readonly house: Household) {
    page.on('websocket', (ws) => {
      if (!/\/ws\/screen\//.test(ws.url())) return;
      ws.on('framereceived', ({ payload }) => {
        if (this.sessionOpen && this.firstUpdateBytes === null && typeof payload !== 'string') this.firstUpdateBytes = payload.byteLength;
        if (this.recording && typeof payload !== 'string') this.frames.push(payload);
        if (this.counting) addFrame(this.counting.tally, payload, this.counting.watch);
      });
    });
  }

  static async open(house: Household, machine: string, scratchDir: string): Promise<Viewer> {
    const browser = await launchChromium(scratchDir, house.lan.ns(machine));
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
      return new Viewer(machine, browser, page, house);
    } catch (e) {
      await browser.close().catch(() => undefined);
      throw e;
    }
  }

  /** Opens `vm`'s screen (signing in with a fresh link the first time) and waits until the canvas shows the guest's seq strip. */
  async show(vm: string, timeoutMs = 60_000): Promise<void> {
    this.firstUpdateBytes = null;
    this.sessionOpen = true;
    this.frames = [];
    this.recording = true;
    if (!this.origin) {
      const { url } = this.house.roamJson<{ url: string }>(this.machine, 'view', vm, '--no-open');
      this.origin = new URL(url).origin;
      await this.page.goto(url);
    } else {
      await this.page.goto(`${this.origin}/view/${encodeURIComponent(vm)}`);
    }
    await until(`the page on ${this.machine} to say the session is live`, timeoutMs, async () =>
      (await this.page.locator('#screen-state').getAttribute('data-state')) === 'live');
    await until(`the guest's seq strip on the canvas on ${this.machine}`, timeoutMs, async () => (await this.seqOnScreen()) !== null);
  }

  /** Leaves the viewer page, which closes its screen WebSocket (roamd then stops streaming to it). */
  async hide(): Promise<void> {
    this.sessionOpen = false;
    this.counting = null;
    this.recording = false;
    this.frames = [];
    await this.page.goto('about:blank');
  }

  /** Bytes of the first (full-screen) update of the current session, or null when none came yet. */
  firstUpdate(): number | null { return this.firstUpdateBytes; }

  /**
   * Counts every screen frame the page receives for `ms` milliseconds (`watch`: also the pixels in that
   * area), then replays the viewing's updates from its first (full) one to find how much of each update in
   * the window really changed (changed-area.ts).
   */
  async count(ms: number, watch?: Area): Promise<{ tally: StreamTally; ms: number; changedRawBytes: number }> {
    const w = { tally: newTally(), watch };
    const start = this.frames.length;
    const t0 = performance.now();
    this.counting = w;
    await sleep(ms);
    this.counting = null;
    const elapsed = performance.now() - t0;
    this.recording = false;
    const frames = this.frames;
    this.frames = [];
    return { tally: w.tally, ms: elapsed, changedRawBytes: changedRawBytes(frames, start) };
  }

  async timeKey(code: string): Promise<KeyTiming> { return timeKey(this.page, code); }

  /** The heartbeat seq the canvas shows, or null while there is no strip. */
  async seqOnScreen(): Promise<number | null> {
    const bytes = await this.page.evaluate<number[]>(`(() => {
      const c = document.querySelector('canvas#screen');
      if (!c) return [];
      return Array.from(c.getContext('2d').getImageData(${SEQ_STRIP.x}, ${SEQ_STRIP.y}, ${SEQ_STRIP_WIDTH}, ${SEQ_STRIP_HEIGHT}).data);
    })()`);
    return bytes.length ? decodeSeqStrip(Uint8Array.from(bytes), SEQ_STRIP_WIDTH, 0, 0, 4, 'rgba') : null;
  }

  async close(): Promise<void> { await this.browser.close().catch(() => undefined); }
}

/** VNC Raw bytes of the changed pixels of frames[start..], the picture rebuilt from frames[0] (which must be a full update). */
function changedRawBytes(frames: Buffer[], start: number): number {
  const model = new ScreenModel();
  let bytes = 0;
  frames.forEach((f, i) => {
    const u = decodeUpdate(f);
    if (i === 0 && !u.full) throw new Error('the viewing did not begin with a full update');
    const r = model.apply(u);
    if (i >= start) bytes += r.changedRawBytes;
  });
  return bytes;
}
