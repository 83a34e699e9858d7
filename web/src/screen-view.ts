// The viewer: one WebSocket to roamd's /ws/screen/<vm>, the canvas it draws
// into, and keyboard and mouse on the canvas going back to the guest. roamd's
// screen service follows the session across the household, so when it moves
// this socket stays: the page shows "moving from …", keeps the last image and
// carries on when the first (full) update from the new host arrives. A socket
// that drops is opened again by itself.
import { drawUpdate, parseUpdate } from './screen-decode.js';
import type { ScreenState } from './types.js';

const RETRY_MS = [500, 1000, 2000, 4000];

export class ScreenView {
  private ws: WebSocket | null = null;
  private vm: string | null = null;
  private retries = 0;
  private retryTimer: number | undefined;
  private drawing: Promise<void> = Promise.resolve();
  private readonly ctx: CanvasRenderingContext2D;
  private readonly held = new Set<string>();
  private last: { x: number; y: number } | null = null;
  private pending = { dx: 0, dy: 0 };
  private buttons = 0;
  private frameQueued = false;

  constructor(private readonly canvas: HTMLCanvasElement, private readonly stateEl: HTMLElement) {
    this.ctx = canvas.getContext('2d', { alpha: false })!;
    this.ctx.fillStyle = '#000';
    this.ctx.fillRect(0, 0, canvas.width, canvas.height);
    this.bindInput();
  }

  /** Shows `vm`'s screen (null: none). */
  show(vm: string | null): void {
    if (vm === this.vm) return;
    this.vm = vm;
    this.retries = 0;
    this.disconnect();
    if (vm) this.connect(); else this.setState('no session selected', '');
  }

  private setState(text: string, kind: string): void {
    this.stateEl.textContent = text;
    this.stateEl.className = `badge ${kind}`;
    this.stateEl.dataset.state = kind;
  }

  private onState(s: ScreenState): void {
    switch (s.state) {
      case 'connecting': this.setState('connecting…', 'connecting'); break;
      case 'live': this.setState(`live on ${s.host}`, 'live'); break;
      // The last picture stays on the canvas while the session moves.
      case 'moving': this.setState(`moving from ${s.from}…`, 'moving'); break;
      case 'gone': this.setState(`not running: ${s.reason}`, 'gone'); break;
    }
  }

  private disconnect(): void {
    clearTimeout(this.retryTimer);
    const ws = this.ws;
    this.ws = null;
    if (ws) { ws.onclose = null; ws.close(1000); }
  }

  private connect(): void {
    const vm = this.vm;
    if (!vm) return;
    this.setState('connecting…', 'connecting');
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws/screen/${encodeURIComponent(vm)}`);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onopen = () => { this.retries = 0; };
    ws.onmessage = (ev) => {
      if (typeof ev.data === 'string') {
        try {
          const m = JSON.parse(ev.data) as { type?: string } & ScreenState;
          if (m.type === 'state') this.onState(m);
        } catch { /* not for us */ }
        return;
      }
      const data = ev.data as ArrayBuffer;
      // Updates are drawn in order; the server sends the next only after this one drained.
      this.drawing = this.drawing.then(async () => {
        try { await drawUpdate(this.ctx, parseUpdate(data)); } catch (e) { console.warn('screen update skipped:', e); }
      });
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.setState('disconnected; reconnecting…', 'down');
      const wait = RETRY_MS[Math.min(this.retries++, RETRY_MS.length - 1)]!;
      this.retryTimer = window.setTimeout(() => this.connect(), wait);
    };
  }

  private send(msg: object): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  /** Canvas pixels → screen pixels (the canvas is scaled by CSS). */
  private point(e: MouseEvent): { x: number; y: number } {
    const r = this.canvas.getBoundingClientRect();
    return { x: ((e.clientX - r.left) * this.canvas.width) / Math.max(1, r.width), y: ((e.clientY - r.top) * this.canvas.height) / Math.max(1, r.height) };
  }

  private flushPointer(): void {
    this.frameQueued = false;
    const dx = Math.round(this.pending.dx), dy = Math.round(this.pending.dy);
    if (dx === 0 && dy === 0) return;
    this.pending.dx -= dx; this.pending.dy -= dy;
    this.send({ type: 'pointer', dx, dy, buttons: this.buttons });
  }

  private bindInput(): void {
    const c = this.canvas;
    const key = (down: boolean) => (e: KeyboardEvent) => {
      if (!e.code) return;
      e.preventDefault();
      if (down) this.held.add(e.code); else this.held.delete(e.code);
      this.send({ type: 'key', code: e.code, down });
    };
    c.addEventListener('keydown', key(true));
    c.addEventListener('keyup', key(false));
    // Keys held when the canvas loses focus would stay down in the guest: release them.
    c.addEventListener('blur', () => { for (const code of this.held) this.send({ type: 'key', code, down: false }); this.held.clear(); });
    c.addEventListener('mouseenter', (e) => { this.last = this.point(e); });
    c.addEventListener('mouseleave', () => { this.flushPointer(); this.last = null; });
    c.addEventListener('mousemove', (e) => {
      const p = this.point(e);
      if (this.last) { this.pending.dx += p.x - this.last.x; this.pending.dy += p.y - this.last.y; }
      this.last = p;
      this.buttons = e.buttons & 7;
      if (!this.frameQueued) { this.frameQueued = true; requestAnimationFrame(() => this.flushPointer()); }
    });
    const button = (e: MouseEvent) => {
      e.preventDefault();
      if (e.type === 'mousedown') c.focus();
      this.flushPointer();
      this.buttons = e.buttons & 7;
      this.send({ type: 'pointer', dx: 0, dy: 0, buttons: this.buttons });
    };
    c.addEventListener('mousedown', button);
    c.addEventListener('mouseup', button);
    c.addEventListener('contextmenu', (e) => e.preventDefault());
  }
}
