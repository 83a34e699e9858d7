// Pack files: append-only sequences of self-describing chunk records, so a pack
// can be re-scanned without the index (verify, recovery, gc).
//
// record = magic "RCH1" (4) | payload length u32 BE (4) | SHA-256 (32) | payload
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { HASH_BYTES } from './hash.js';
import { MAX_CHUNK } from './chunker.js';

export const RECORD_MAGIC = 0x52434831; // "RCH1"
export const RECORD_HEADER = 8 + HASH_BYTES;
/** A pack rolls over to the next number once it passes this size. */
export const PACK_ROLL_BYTES = 64 * 1024 * 1024;
/** Largest payload a record may carry (chunks are bounded; be strict on read). */
export const MAX_RECORD_PAYLOAD = MAX_CHUNK;

export function packFileName(num: number): string {
  return `${String(num).padStart(6, '0')}.pack`;
}

export function packPath(dir: string, num: number): string {
  return join(dir, 'packs', packFileName(num));
}

export function parsePackFileName(name: string): number | null {
  const m = /^(\d{6,})\.pack$/.exec(name);
  return m ? Number(m[1]) : null;
}

export function encodeRecordHeader(hash: Uint8Array, length: number): Buffer {
  const h = Buffer.allocUnsafe(RECORD_HEADER);
  h.writeUInt32BE(RECORD_MAGIC, 0);
  h.writeUInt32BE(length, 4);
  Buffer.from(hash.buffer, hash.byteOffset, hash.byteLength).copy(h, 8);
  return h;
}

export interface ScannedRecord { offset: number; length: number; hash: Buffer }

/**
 * Reads record headers from the start of a pack up to `limit` bytes. Stops at
 * the first header that is not a whole, well-formed record and reports where the
 * valid prefix ends (a torn tail after a crash is everything past that point).
 */
export async function scanPack(fh: FileHandle, limit: number): Promise<{ records: ScannedRecord[]; validEnd: number }> {
  const records: ScannedRecord[] = [];
  const header = Buffer.alloc(RECORD_HEADER);
  let pos = 0;
  while (pos + RECORD_HEADER <= limit) {
    const { bytesRead } = await fh.read(header, 0, RECORD_HEADER, pos);
    if (bytesRead < RECORD_HEADER) break;
    if (header.readUInt32BE(0) !== RECORD_MAGIC) break;
    const length = header.readUInt32BE(4);
    if (length > MAX_RECORD_PAYLOAD || pos + RECORD_HEADER + length > limit) break;
    records.push({ offset: pos, length, hash: Buffer.from(header.subarray(8)) });
    pos += RECORD_HEADER + length;
  }
  return { records, validEnd: pos };
}

/** Appends records to one pack; data is durable only after sync(). */
export class PackWriter {
  private constructor(readonly num: number, private fh: FileHandle, public size: number) {}

  static async open(dir: string, num: number, size: number): Promise<PackWriter> {
    const path = packPath(dir, num);
    // r+ keeps positional writes positional (O_APPEND would ignore them); w+ only
    // for a pack that does not exist yet.
    let created = false;
    const fh = await open(path, 'r+').catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
      created = true;
      return open(path, 'w+');
    });
    if (created) {
      // The new name must survive a power cut before the index may point into it.
      const d = await open(join(dir, 'packs'), 'r');
      try { await d.sync(); } finally { await d.close(); }
    }
    await fh.truncate(size); // drop anything past the committed length
    return new PackWriter(num, fh, size);
  }

  /** Appends one record; returns the payload offset in this pack. */
  async append(hash: Uint8Array, payload: Uint8Array): Promise<number> {
    const header = encodeRecordHeader(hash, payload.length);
    const recordAt = this.size;
    this.size += RECORD_HEADER + payload.length; // reserve before awaiting
    await this.fh.writev([header, payload], recordAt);
    return recordAt + RECORD_HEADER;
  }

  async sync(): Promise<void> { await this.fh.sync(); }
  async close(): Promise<void> { await this.fh.close(); }
}
