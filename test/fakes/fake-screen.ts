// Fakes for node/screen: a VM display that draws on command, a VM supervisor
// holding such VMs, and in-memory stream pairs standing in for libp2p streams.
import { EventEmitter } from 'node:events';
import type { LocalVm, LocalVms } from '../../node/screen/local-screens.js';
import type { ScreenStream } from '../../node/screen/stream-frames.js';
import type { VmDisplay } from '../../node/screen/vm-display.js';
import type { MouseReport } from '../../node/screen/input.js';

export class FakeDisplay implements VmDisplay {
  readonly geom;
  fb: Buffer;
  private bits: Uint8Array;
  readonly keys: number[] = [];
  readonly mouse: MouseReport[] = [];
  damageCalls = 0;
  closed = false;

  constructor(readonly width = 256, readonly height = 128, seed = 1) {
    this.geom = { width, height, stride: width * 4 };
    this.fb = Buffer.alloc(width * height * 4);
    for (let i = 0; i < this.fb.length; i += 4) this.fb.writeUInt32LE((i * seed * 2654435761) >>> 8, i);
    this.bits = new Uint8Array(Math.ceil(height / 8));
  }

  framebuffer(): Uint8Array { return this.closed ? new Uint8Array(0) : this.fb; }

  async damage(): Promise<Uint8Array> {
    this.damageCalls++;
    const out = this.bits; this.bits = new Uint8Array(out.length);
    return out;
  }

  async input(req: { keys: number[]; mouse: MouseReport[] }): Promise<void> { this.keys.push(...req.keys); this.mouse.push(...req.mouse); }

  close(): void { this.closed = true; }

  /** Fills a rectangle as the guest would, marking its lines damaged. */
  draw(x: number, y: number, w: number, h: number, v: number): void {
    for (let r = y; r < y + h; r++) {
      for (let c = x; c < x + w; c++) this.fb.writeUInt32LE(v, (r * this.width + c) * 4);
      this.bits[r >> 3]! |= 1 << (r & 7);
    }
  }
}

export class FakeVms extends EventEmitter implements LocalVms {
  readonly vms = new Map<string, { state: string; vmp: never; display: FakeDisplay }>();

  get(name: string): LocalVm | undefined { return this.vms.get(name); }

  run(name: string, display: FakeDisplay): void { this.vms.set(name, { state: 'running', vmp: undefined as never, display }); this.emit('change'); }

  /** Let go of a VM that still runs (what roamd does after a migration commit). */
  release(name: string): void { this.vms.delete(name); this.emit('change'); }

  stop(name: string): void { const v = this.vms.get(name); if (v) { v.state = 'stopped'; this.vms.delete(name); this.emit('change'); } }

  names(): string[] { return [...this.vms.keys()]; }
}

/** The openDisplay hook for a FakeVms. */
export const openFake = async (vm: LocalVm): Promise<VmDisplay | string> => (vm as unknown as { display: FakeDisplay }).display;

class Pipe implements AsyncIterable<Uint8Array> {
  private queue: Uint8Array[] = [];
  private wake: (() => void) | null = null;
  private ended = false;
  private error: Error | null = null;

  push(b: Uint8Array): void { this.queue.push(b); this.wake?.(); }
  end(err?: Error): void { this.ended = true; if (err) this.error = err; this.wake?.(); }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (;;) {
      if (this.queue.length) { yield this.queue.shift()!; continue; }
      if (this.error) throw this.error;
      if (this.ended) return;
      await new Promise<void>((r) => { this.wake = r; });
      this.wake = null;
    }
  }
}

export class MemStream implements ScreenStream {
  peer!: MemStream;
  readonly inbox = new Pipe();
  aborted: Error | null = null;
  private writeClosed = false;
  sentBytes = 0;

  send(data: Uint8Array): boolean {
    if (this.writeClosed || this.aborted) throw new Error('stream closed for writing');
    this.sentBytes += data.byteLength;
    this.peer.inbox.push(data.slice());
    return true;
  }
  async onDrain(): Promise<void> {}
  async close(): Promise<void> { if (!this.writeClosed) { this.writeClosed = true; this.peer.inbox.end(); } }
  abort(err: Error): void {
    if (this.aborted) return;
    this.aborted = err; this.writeClosed = true;
    this.inbox.end(err);
    this.peer.inbox.end(new Error(`the remote reset the stream: ${err.message}`));
  }
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> { return this.inbox[Symbol.asyncIterator](); }
}

export function streamPair(): [MemStream, MemStream] {
  const a = new MemStream(); const b = new MemStream();
  a.peer = b; b.peer = a;
  return [a, b];
}
