// Two ends of a duplex byte stream, like a libp2p stream's two sides, for
// testing roamd's small JSON protocols without a network.
import type { WireStream } from '../../node/agent/wire.js';

export function streamPair(): [WireStream, WireStream] {
  const mk = () => ({ queue: [] as Uint8Array[], wake: null as (() => void) | null, ended: false, error: null as Error | null });
  const a = mk(), b = mk();
  const end = (own: ReturnType<typeof mk>, other: ReturnType<typeof mk>): WireStream => ({
    send: (d) => { other.queue.push(Uint8Array.from(d)); other.wake?.(); return true; },
    onDrain: async () => undefined,
    close: async () => { other.ended = true; other.wake?.(); },
    abort: (e) => { own.error = e; other.ended = true; other.wake?.(); own.wake?.(); },
    async *[Symbol.asyncIterator]() {
      for (;;) {
        if (own.error) throw own.error;
        const c = own.queue.shift();
        if (c) { yield c; continue; }
        if (own.ended) return;
        await new Promise<void>((r) => { own.wake = r; });
      }
    },
  });
  return [end(a, b), end(b, a)];
}

/** One length-prefixed JSON frame as roamd's JsonWire writes it (tests use it to send what a hostile peer would). */
export function jsonFrame(msg: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(msg));
  const h = Buffer.alloc(4);
  h.writeUInt32BE(body.length);
  return Buffer.concat([h, body]);
}
