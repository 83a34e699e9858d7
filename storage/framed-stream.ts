// Message framing over one libp2p stream: reads whole frames (bounded by the
// codec) and writes with back-pressure (send() false → wait for drain).
import type { Stream } from '@libp2p/interface';
import { FrameDecoder, ProtocolError, decodeMessage, encodeMessage, type Message } from './codec.js';

export class FramedStream {
  private readonly decoder = new FrameDecoder();
  private readonly ready: Uint8Array[] = [];
  private readonly source: AsyncIterator<Uint8Array | { subarray(): Uint8Array }>;
  private ended = false;

  constructor(readonly stream: Stream) {
    this.source = (stream as unknown as AsyncIterable<Uint8Array | { subarray(): Uint8Array }>)[Symbol.asyncIterator]();
  }

  /** The next message, or null when the peer closed its side cleanly. */
  async read(): Promise<Message | null> {
    while (this.ready.length === 0) {
      if (this.ended) {
        if (this.decoder.pending > 0) throw new ProtocolError('stream ended inside a frame');
        return null;
      }
      const { value, done } = await this.source.next();
      if (done) { this.ended = true; continue; }
      this.ready.push(...this.decoder.push(value instanceof Uint8Array ? value : value.subarray()));
    }
    return decodeMessage(this.ready.shift()!);
  }

  async send(m: Message): Promise<void> {
    if (!this.stream.send(encodeMessage(m))) await this.stream.onDrain();
  }

  async close(): Promise<void> {
    try { await this.stream.close(); } catch { this.stream.abort(new Error('close failed')); }
  }
}
