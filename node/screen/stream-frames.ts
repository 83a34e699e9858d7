// Length-prefixed frames over a libp2p 3 stream for /roam/screen/1.0.0: reads (migrate's reader)
// with a bounded reassembly buffer (a length over the limit ends the stream
// before anything is buffered), writes that wait when the stream is full.
import { LengthPrefixedReader } from '../../migrate/index.js';
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

/** Frames of the screen protocol: migrate's length-prefixed reader with the screen's limit and error type. */
export class FrameReader {
  private readonly inner: LengthPrefixedReader;

  constructor(source: AsyncIterable<Uint8Array | { subarray(): Uint8Array }>, maxFrame = MAX_SCREEN_FRAME) {
    this.inner = new LengthPrefixedReader(source, maxFrame, (m) => new ScreenWireError(m));
  }

  /** The next frame (type byte + body), or null when the stream ended cleanly between frames. */
  async next(): Promise<Uint8Array | null> {
    return (await this.inner.next())?.frame ?? null;
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
