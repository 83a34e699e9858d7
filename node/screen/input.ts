// Keyboard and mouse from a viewer (in the end a browser: hostile) to the VM
// process's 'input' op. Events are checked one by one (anything malformed is
// dropped), translated to set 2 scancodes and relative mouse reports, queued
// with a bound, and sent one request at a time, so a flood of pointer moves
// becomes a few coalesced reports instead of a queue of requests.
import { scancodes } from './keymap.js';
import type { ScreenInput } from './types.js';

/** Bounds of one 'input' request as the VM process accepts it (node/vm-host/protocol.ts). */
export const MAX_REQUEST_KEYS = 64;
export const MAX_REQUEST_MOUSE = 64;
export const MAX_MOUSE_DELTA = 4096;
/** What may wait for the VM process beyond the request in flight; more is dropped (and counted). */
const MAX_QUEUED_KEY_BYTES = 256;
const MAX_QUEUED_MOUSE = 64;
/** Longest KeyboardEvent.code we look at ('NumpadMultiply' is 14). */
const MAX_CODE_CHARS = 32;

export interface MouseReport { dx: number; dy: number; buttons: number }

function clamp(v: number, lim: number): number { return Math.max(-lim, Math.min(lim, Math.trunc(v))); }

/** A well-formed ScreenInput from anything, or null. Pointer deltas are clamped, buttons masked to 3 bits. */
export function checkScreenInput(e: unknown): ScreenInput | null {
  if (typeof e !== 'object' || e === null) return null;
  const o = e as Record<string, unknown>;
  if (o.type === 'key') {
    if (typeof o.code !== 'string' || o.code.length === 0 || o.code.length > MAX_CODE_CHARS || typeof o.down !== 'boolean') return null;
    return { type: 'key', code: o.code, down: o.down };
  }
  if (o.type === 'pointer') {
    const { dx, dy, buttons } = o;
    if (typeof dx !== 'number' || typeof dy !== 'number' || typeof buttons !== 'number') return null;
    if (!Number.isFinite(dx) || !Number.isFinite(dy) || !Number.isInteger(buttons) || buttons < 0 || buttons > 7) return null;
    return { type: 'pointer', dx: clamp(dx, MAX_MOUSE_DELTA), dy: clamp(dy, MAX_MOUSE_DELTA), buttons };
  }
  return null;
}

export type SendInput = (req: { keys: number[]; mouse: MouseReport[] }) => Promise<void>;

/** Queues checked input for one VM process and sends it in bounded requests, one at a time. */
export class InputQueue {
  dropped = 0;
  private keys: number[] = [];
  private mouse: MouseReport[] = [];
  private sending = false;
  private closed = false;

  constructor(private readonly send: SendInput) {}

  push(raw: unknown): void {
    if (this.closed) return;
    const e = checkScreenInput(raw);
    if (!e) { this.dropped++; return; }
    if (e.type === 'key') {
      const bytes = scancodes(e.code, e.down);
      if (!bytes) return; // unknown key codes are ignored (ScreenSubscription.input in types.ts)
      if (this.keys.length + bytes.length > MAX_QUEUED_KEY_BYTES) { this.dropped++; return; }
      this.keys.push(...bytes);
    } else {
      const last = this.mouse[this.mouse.length - 1];
      // A move with the same buttons folds into the report still waiting; a button change is its own report.
      if (last && last.buttons === e.buttons && Math.abs(last.dx + e.dx) <= MAX_MOUSE_DELTA && Math.abs(last.dy + e.dy) <= MAX_MOUSE_DELTA) {
        last.dx += e.dx; last.dy += e.dy;
      } else if (this.mouse.length >= MAX_QUEUED_MOUSE) {
        this.dropped++; return;
      } else {
        this.mouse.push({ dx: e.dx, dy: e.dy, buttons: e.buttons });
      }
    }
    this.flush();
  }

  close(): void { this.closed = true; this.keys = []; this.mouse = []; }

  private flush(): void {
    if (this.sending || this.closed || (this.keys.length === 0 && this.mouse.length === 0)) return;
    const keys = this.keys.splice(0, MAX_REQUEST_KEYS);
    const mouse = this.mouse.splice(0, MAX_REQUEST_MOUSE);
    this.sending = true;
    this.send({ keys, mouse }).catch(() => { this.dropped++; }).finally(() => { this.sending = false; this.flush(); });
  }
}
