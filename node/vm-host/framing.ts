// Frames on a VM process's control socket: a big-endian u32 length, then
// v8.serialize(message) (structured clone, so Buffers and Uint8Arrays cross as
// bytes). Every frame is bounded: saveState blobs and dirty bitmaps fit with
// room to spare, and a peer that announces more is cut off, not buffered.
import { deserialize, serialize } from 'node:v8';

export const MAX_FRAME_BYTES = 64 * 2 ** 20;

/** A frame that cannot be read: the connection it came on must be closed (and only that one). */
export class FrameError extends Error {}

export function encodeFrame(msg: unknown): Buffer {
  const body = serialize(msg);
  if (body.length > MAX_FRAME_BYTES) {
    throw new FrameError(`message of ${body.length} bytes exceeds the ${MAX_FRAME_BYTES}-byte frame limit of the VM control socket`);
  }
  const head = Buffer.allocUnsafe(4);
  head.writeUInt32BE(body.length, 0);
  return Buffer.concat([head, body]);
}

/** Turns a byte stream into messages; throws FrameError on an oversized, empty or undecodable frame. */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  push(chunk: Buffer): unknown[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out: unknown[] = [];
    while (this.buffered >= 4) {
      // Join chunks only once a whole frame is here: a 64 MiB frame in 64 KiB reads is copied once, not a thousand times.
      if (this.chunks[0]!.length < 4) this.flatten();
      const len = this.chunks[0]!.readUInt32BE(0);
      if (len === 0 || len > MAX_FRAME_BYTES) {
        throw new FrameError(`frame of ${len} bytes announced (allowed: 1..${MAX_FRAME_BYTES})`);
      }
      if (this.buffered < 4 + len) break;
      if (this.chunks[0]!.length < 4 + len) this.flatten();
      const first = this.chunks[0]!;
      const body = first.subarray(4, 4 + len);
      const rest = first.subarray(4 + len);
      if (rest.length) this.chunks[0] = rest; else this.chunks.shift();
      this.buffered -= 4 + len;
      try {
        out.push(deserialize(body));
      } catch (e) {
        throw new FrameError(`undecodable frame of ${len} bytes: ${(e as Error).message}`);
      }
    }
    return out;
  }

  private flatten(): void {
    this.chunks = [Buffer.concat(this.chunks, this.buffered)];
  }
}
