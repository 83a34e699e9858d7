// Frames over a libp2p 3 stream: length-prefixed reads with a bounded reassembly
// buffer, and writes that honour backpressure (send() false → await onDrain()).
import { MAX_FRAME } from './frames.js';
import { ProtocolError } from './errors.js';

/** The part of a libp2p 3 Stream migration uses (tests can wrap it, e.g. a slow link). */
export interface MigrationStream extends AsyncIterable<Uint8Array | { subarray(): Uint8Array }> {
  send(data: Uint8Array): boolean;
  onDrain(options?: { signal?: AbortSignal }): Promise<void>;
  close(): Promise<void>;
  abort(err: Error): void;
  maxReadBufferLength?: number;
}

function toBytes(c: Uint8Array | { subarray(): Uint8Array }): Uint8Array {
  return c instanceof Uint8Array ? c : c.subarray();
}

/**
 * Pulls whole frames (type byte + body) out of a byte stream. Other length-prefixed protocols
 * (the screen's) use it with their own limit and error type.
 */
export class FrameReader {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private readonly it: AsyncIterator<Uint8Array | { subarray(): Uint8Array }>;
  private ended = false;

  constructor(
    source: AsyncIterable<Uint8Array | { subarray(): Uint8Array }>,
    private readonly maxFrame = MAX_FRAME,
    private readonly fail: (message: string) => Error = (m) => new ProtocolError(m),
  ) {
    this.it = source[Symbol.asyncIterator]();
  }

  private take(n: number): Uint8Array {
    // Fast path: the bytes sit in one chunk → a view, no copy.
    const head = this.chunks[0]!;
    if (head.byteLength >= n) {
      const out = head.subarray(0, n);
      if (head.byteLength === n) this.chunks.shift(); else this.chunks[0] = head.subarray(n);
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

  private async fill(n: number): Promise<boolean> {
    while (this.buffered < n) {
      if (this.ended) return false;
      const r = await this.it.next();
      if (r.done) { this.ended = true; return false; }
      const b = toBytes(r.value);
      if (b.byteLength) { this.chunks.push(b); this.buffered += b.byteLength; }
    }
    return true;
  }

  /** Next frame (type + body), or null at a clean end of stream between frames. */
  async next(): Promise<{ frame: Uint8Array; wireBytes: number } | null> {
    if (!(await this.fill(4))) {
      if (this.buffered === 0) return null;
      throw this.fail('stream ended inside a frame header');
    }
    const lenBytes = this.take(4);
    const len = ((lenBytes[0]! << 24) | (lenBytes[1]! << 16) | (lenBytes[2]! << 8) | lenBytes[3]!) >>> 0;
    if (len < 1) throw this.fail('frame length 0');
    if (len > this.maxFrame) throw this.fail(`frame length ${len} exceeds the ${this.maxFrame}-byte limit`);
    if (!(await this.fill(len))) throw this.fail(`stream ended inside a ${len}-byte frame`);
    return { frame: this.take(len), wireBytes: len + 4 };
  }
}

/** Ordered, backpressured writes of frame parts. */
export class FrameWriter {
  bytes = 0;
  /**
   * `drainTimeoutMs`: a send the stream cannot take (its window is full) fails after this long
   * without progress. A cut link sends no window updates, and without a bound the writer would
   * wait for the transport's own timeouts, with an error that does not say what happened.
   */
  constructor(private readonly stream: MigrationStream, private readonly signal?: AbortSignal, private readonly drainTimeoutMs?: number) {}

  /**
   * Send one frame given as parts. The parts (header, page views) are joined into one
   * buffer and sent once: every send() becomes its own Yamux frame and Noise message,
   * and that per-send cost dominates (measured here: 4 KiB sends move ~18 MB/s, 1 MiB
   * sends ~65 MB/s; a Uint8ArrayList of parts ~28 MB/s). The stack copies the bytes
   * while encrypting anyway, so this join is the only copy on the uncompressed path.
   */
  async write(parts: Uint8Array | Uint8Array[]): Promise<void> {
    const list = Array.isArray(parts) ? parts : [parts];
    let data: Uint8Array;
    if (list.length === 1) data = list[0]!;
    else {
      let n = 0; for (const p of list) n += p.byteLength;
      data = new Uint8Array(n);
      let o = 0; for (const p of list) { data.set(p, o); o += p.byteLength; }
    }
    if (data.byteLength === 0) return;
    this.bytes += data.byteLength;
    if (!this.stream.send(data)) await this.drained();
  }

  private async drained(): Promise<void> {
    const ms = this.drainTimeoutMs;
    if (ms === undefined) { await this.stream.onDrain(this.signal ? { signal: this.signal } : undefined); return; }
    // One signal for both the caller's cancel and our deadline, so the stream drops its waiter either way.
    const ac = new AbortController();
    const stalled = new Error(`the peer took no data for ${ms} ms (link down or peer stalled)`);
    const onCancel = (): void => ac.abort(this.signal!.reason);
    if (this.signal?.aborted) onCancel(); else this.signal?.addEventListener('abort', onCancel, { once: true });
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => { timer = setTimeout(() => { ac.abort(stalled); reject(stalled); }, ms); });
    const drain = this.stream.onDrain({ signal: ac.signal });
    drain.catch(() => undefined); // the deadline may win the race; its rejection is then ours
    try {
      await Promise.race([drain, deadline]);
    } catch (e) {
      throw ac.signal.reason === stalled ? stalled : e;
    } finally {
      clearTimeout(timer);
      this.signal?.removeEventListener('abort', onCancel);
    }
  }
}

/**
 * Best effort: send a last frame (an ABORT with the reason), give it a moment to leave,
 * then reset the stream. abort() alone would drop the reason unsent.
 */
export async function sendLastAndReset(stream: MigrationStream, frame: Uint8Array, reason: Error, flushMs = 500): Promise<void> {
  try { stream.send(frame); } catch { /* already gone */ }
  let t: NodeJS.Timeout | undefined;
  await Promise.race([stream.close().catch(() => undefined), new Promise((r) => { t = setTimeout(r, flushMs); })]);
  clearTimeout(t);
  try { stream.abort(reason); } catch { /* already gone */ }
}
