// Length-prefixed JSON messages over one libp2p stream, for roamd's own small
// protocols (/roam/peer, /roam/join). A frame is a 4-byte big-endian length
// and that many bytes of UTF-8 JSON. Everything from the network is hostile:
// a frame longer than MAX_WIRE_FRAME ends the stream before it is buffered.

export const MAX_WIRE_FRAME = 64 * 1024;

/** What roamd needs of a libp2p 3 stream (tests can pass a fake). */
export interface WireStream extends AsyncIterable<Uint8Array | { subarray(): Uint8Array }> {
  send(data: Uint8Array): boolean;
  onDrain(options?: { signal?: AbortSignal }): Promise<void>;
  close(): Promise<void>;
  abort(err: Error): void;
}

export class WireError extends Error {}

export class JsonWire {
  private readonly it: AsyncIterator<Uint8Array | { subarray(): Uint8Array }>;
  private buf: Buffer = Buffer.alloc(0);
  private ended = false;

  constructor(readonly stream: WireStream, private readonly maxFrame = MAX_WIRE_FRAME) {
    this.it = stream[Symbol.asyncIterator]();
  }

  /** The next message (a JSON object), or null when the peer closed cleanly between frames. */
  async read(timeoutMs = 10_000): Promise<Record<string, unknown> | null> {
    const timer = setTimeout(() => this.stream.abort(new WireError(`no message within ${timeoutMs} ms`)), timeoutMs);
    try {
      if (!(await this.fill(4))) {
        if (this.buf.length) throw new WireError('stream ended inside a frame header');
        return null;
      }
      const len = this.buf.readUInt32BE(0);
      if (len > this.maxFrame) throw new WireError(`frame of ${len} bytes is over the ${this.maxFrame}-byte limit`);
      if (!(await this.fill(4 + len))) throw new WireError('stream ended inside a frame');
      const body = this.buf.subarray(4, 4 + len);
      this.buf = this.buf.subarray(4 + len);
      let value: unknown;
      try { value = JSON.parse(body.toString('utf8')); } catch { throw new WireError('frame is not JSON'); }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new WireError('frame is not a JSON object');
      return value as Record<string, unknown>;
    } finally {
      clearTimeout(timer);
    }
  }

  async write(message: object): Promise<void> {
    const body = Buffer.from(JSON.stringify(message), 'utf8');
    if (body.length > this.maxFrame) throw new WireError(`message of ${body.length} bytes is over the ${this.maxFrame}-byte limit`);
    const frame = Buffer.alloc(4 + body.length);
    frame.writeUInt32BE(body.length, 0);
    body.copy(frame, 4);
    if (!this.stream.send(frame)) await this.stream.onDrain();
  }

  async close(): Promise<void> {
    try { await this.stream.close(); } catch { this.stream.abort(new WireError('close failed')); }
  }

  private async fill(n: number): Promise<boolean> {
    while (this.buf.length < n) {
      if (this.ended) return false;
      const r = await this.it.next();
      if (r.done) { this.ended = true; return false; }
      const chunk = r.value instanceof Uint8Array ? r.value : r.value.subarray();
      // Never hold more than one maximal frame plus its header.
      if (this.buf.length + chunk.length > this.maxFrame + 4 + 65536) throw new WireError('peer sent more than one frame can hold');
      this.buf = Buffer.concat([this.buf, chunk]);
    }
    return true;
  }
}

/** Reads a string field, bounded; throws a WireError naming the field otherwise. */
export function str(m: Record<string, unknown>, key: string, max = 1024): string {
  const v = m[key];
  if (typeof v !== 'string' || v.length > max) throw new WireError(`field '${key}' must be a string of at most ${max} characters`);
  return v;
}
