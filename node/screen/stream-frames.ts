// Length-prefixed frames over a libp2p 3 stream for /roam/screen/1.0.0: reads
// with a bounded reassembly buffer (a length over the limit ends the stream
// before anything is buffered), writes that wait when the stream is full.
import { MAX_SCREEN_FRAME, ScreenWireError } from './wire.js';

/** What the screen protocol needs of a libp2p 3 Stream (tests pass a pair of in-memory ones). */
export interface ScreenStream extends AsyncIterable<Uint8Array | { subarray(): Uint8Array }> {
  send(data: Uint8Array): boolean;
  onDrain(options?: { signal?: AbortSignal }): Promise<void>;
  close(): Promise<void>;
  abort(err: Error): void;
  /** libp2p resets a stream whose unread bytes exceed this; an update may be larger than its 4 MiB default. */
  maxReadBufferLength?: number;
}

export class FrameReader {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private readonly it: AsyncIterator<Uint8Array | { subarray(): Uint8Array }>;
  private done = false;

  constructor(source: AsyncIterable<Uint8Array | { subarray(): Uint8Array }>, private readonly maxFrame = MAX_SCREEN_FRAME) {
    this.it = source[Symbol.asyncIterator]();
  }

  /** The next frame (type byte + body), or null when the stream ended cleanly between frames. */
  async next(): Promise<Uint8Array | null> {
    if (!(await this.fill(4))) {
      if (this.buffered === 0) return null;
      throw new ScreenWireError('stream ended inside a frame header');
    }
    const head = this.take(4);
    const len = ((head[0]! << 24) | (head[1]! << 16) | (head[2]! << 8) | head[3]!) >>> 0;
    if (len < 1) throw new ScreenWireError('frame of length 0');
    if (len > this.maxFrame) throw new ScreenWireError(`frame of ${len} bytes is over the ${this.maxFrame}-byte limit`);
    if (!(await this.fill(len))) throw new ScreenWireError(`stream ended inside a ${len}-byte frame`);
    return this.take(len);
  }

  private async fill(n: number): Promise<boolean> {
    while (this.buffered < n) {
      if (this.done) return false;
      const r = await this.it.next();
      if (r.done) { this.done = true; return false; }
      const b = r.value instanceof Uint8Array ? r.value : r.value.subarray();
      if (b.byteLength) { this.chunks.push(b); this.buffered += b.byteLength; }
    }
    return true;
  }

  private take(n: number): Uint8Array {
    const first = this.chunks[0]!;
    if (first.byteLength >= n) {
      const out = first.subarray(0, n);
      if (first.byteLength === n) this.chunks.shift(); else this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return out;
    }
    const out = new Uint8Array(n);
    let off = 0;
    while (off < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.byteLength, n - off);
      out.set(c.subarray(0, k), off); off += k;
      if (k === c.byteLength) this.chunks.shift(); else this.chunks[0] = c.subarray(k);
    }
    this.buffered -= n;
    return out;
  }
}

/** Sends frames in order; each waits while the stream's window is full. */
export class FrameSender {
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly stream: ScreenStream) {}

  send(frame: Uint8Array): Promise<void> {
    const p = this.chain.then(async () => { if (!this.stream.send(frame)) await this.stream.onDrain(); });
    this.chain = p.catch(() => undefined);
    return p;
  }
}
