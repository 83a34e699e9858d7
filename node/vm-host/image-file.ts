// A VM at rest on disk: its whole-machine state plus its RAM, so that a VM
// can be stopped in one process and continued in another (a crash-proof
// pause, the lid-close fallback). Zero pages are holes in a sparse file.
//
// Layout: [header page: magic, format version, JSON metadata]
//         [state blob, 4 KiB aligned] [each memory slot, 4 KiB aligned]
// The slots are RAM and, for a VM with a display, its framebuffer: the screen comes back
// as it was. The metadata says whether the VM has a display (images from before: none).
// Written to a temporary name, fsynced, then renamed: a crash leaves either
// the old image or the new one, never half of one.
import { closeSync, fstatSync, fsyncSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import type { SlotKind } from '../../migrate/index.js';

const MAGIC = Buffer.from('ROAMIMG\0', 'latin1');
const FORMAT_VERSION = 1;
const HEADER_BYTES = 4096;
const PAGE = 4096;
const MAX_STATE_BYTES = 64 * 1024 * 1024;

const MAX_SLOTS = 32;

interface SlotRecord { slot: number; guestPhysAddr: number; size: number; kind?: SlotKind; fileOffset: number; sha256: string }
interface ImageMeta {
  memBytes: number; vcpus: number;
  /** Absent in images written before VMs had a display: those VMs had none. */
  display?: boolean;
  stateOffset: number; stateLength: number; stateSha256: string;
  slots: SlotRecord[];
}

/** One memory slot of the VM as the image records it (a native MemorySlot fits). */
export interface ImageSlot { slot: number; guestPhysAddr: number; size: number; kind?: SlotKind }

export interface ImageSource {
  memBytes: number; vcpus: number;
  /** Whether the VM has a display (its framebuffer slot is among `slots`). */
  display: boolean;
  state: Buffer;
  slots: { slot: ImageSlot; windows: ArrayBuffer[] }[];
}

const alignUp = (n: number) => Math.ceil(n / PAGE) * PAGE;

/** True when the 4 KiB page at `off` of `words` (a Uint32Array view) is all zero. */
function pageIsZero(words: Uint32Array, off: number): boolean {
  const end = off + PAGE / 4;
  for (let i = off; i < end; i++) if (words[i] !== 0) return false;
  return true;
}

/** Writes the non-zero pages of one window at `fileOffset`, coalescing runs into single writes. */
function writeWindowSparse(fd: number, window: ArrayBuffer, fileOffset: number, hash: ReturnType<typeof createHash>): void {
  const bytes = new Uint8Array(window);
  const words = new Uint32Array(window);
  const pages = bytes.length / PAGE;
  let runStart = -1;
  const flush = (end: number) => {
    if (runStart < 0) return;
    const chunk = bytes.subarray(runStart * PAGE, end * PAGE);
    let done = 0;
    while (done < chunk.length) done += writeSync(fd, chunk, done, chunk.length - done, fileOffset + runStart * PAGE + done);
    runStart = -1;
  };
  for (let p = 0; p < pages; p++) {
    if (pageIsZero(words, p * (PAGE / 4))) flush(p);
    else if (runStart < 0) runStart = p;
  }
  flush(pages);
  hash.update(bytes);
}

export function writeImage(path: string, src: ImageSource): { bytes: number } {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    const stateOffset = HEADER_BYTES;
    let offset = alignUp(stateOffset + src.state.length);
    const slots: SlotRecord[] = [];
    for (const { slot, windows } of src.slots) {
      const hash = createHash('sha256');
      let winOffset = offset;
      for (const w of windows) { writeWindowSparse(fd, w, winOffset, hash); winOffset += w.byteLength; }
      if (winOffset - offset !== slot.size) throw new Error(`slot ${slot.slot}: windows cover ${winOffset - offset} bytes, slot has ${slot.size}`);
      slots.push({ slot: slot.slot, guestPhysAddr: slot.guestPhysAddr, size: slot.size, kind: slot.kind ?? 'ram', fileOffset: offset, sha256: hash.digest('hex') });
      offset = alignUp(offset + slot.size);
    }
    writeSync(fd, src.state, 0, src.state.length, stateOffset);
    const meta: ImageMeta = {
      memBytes: src.memBytes, vcpus: src.vcpus, display: src.display, stateOffset, stateLength: src.state.length,
      stateSha256: createHash('sha256').update(src.state).digest('hex'), slots,
    };
    const json = Buffer.from(JSON.stringify(meta));
    if (json.length > HEADER_BYTES - 16) throw new Error('image metadata does not fit its header page');
    const header = Buffer.alloc(HEADER_BYTES);
    MAGIC.copy(header, 0);
    header.writeUInt32LE(FORMAT_VERSION, 8);
    header.writeUInt32LE(json.length, 12);
    json.copy(header, 16);
    writeSync(fd, header, 0, HEADER_BYTES, 0);
    // The file must span every slot even when its tail pages are zero holes.
    if (fstatSync(fd).size < offset) writeSync(fd, Buffer.alloc(1), 0, 1, offset - 1);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try { unlinkSync(tmp); } catch { /* already gone */ }
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
  return { bytes: fstatSizeOf(path) };
}

function fstatSizeOf(path: string): number {
  const fd = openSync(path, 'r');
  try { return fstatSync(fd).size; } finally { closeSync(fd); }
}

export interface OpenedImage {
  memBytes: number; vcpus: number; state: Buffer;
  /** Create the VM with a display exactly when this is true. */
  display: boolean;
  /** Reads each slot into the given windows and checks its hash; throws on any mismatch. */
  readSlotsInto(target: { slot: ImageSlot; windows: ArrayBuffer[] }[]): void;
  close(): void;
}

function bad(path: string, why: string): Error {
  return new Error(`VM image ${path} is unusable: ${why}`);
}

function readExactly(fd: number, buf: Uint8Array, pos: number, path: string, what: string): void {
  let done = 0;
  while (done < buf.length) {
    const n = readSync(fd, buf, done, buf.length - done, pos + done);
    if (n === 0) throw bad(path, `truncated (${what} ends past the end of the file)`);
    done += n;
  }
}

export function openImage(path: string): OpenedImage {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size < HEADER_BYTES) throw bad(path, `truncated (${size} bytes, smaller than its header)`);
    const header = Buffer.alloc(HEADER_BYTES);
    readExactly(fd, header, 0, path, 'header');
    if (!header.subarray(0, 8).equals(MAGIC)) throw bad(path, 'not a roam VM image (bad magic)');
    const version = header.readUInt32LE(8);
    if (version !== FORMAT_VERSION) throw bad(path, `image format ${version} is not the ${FORMAT_VERSION} this roam reads`);
    const jsonLen = header.readUInt32LE(12);
    if (jsonLen > HEADER_BYTES - 16) throw bad(path, 'corrupted header (metadata length out of range)');
    let meta: ImageMeta;
    try { meta = JSON.parse(header.subarray(16, 16 + jsonLen).toString()) as ImageMeta; } catch { throw bad(path, 'corrupted header (metadata is not JSON)'); }
    if (!Number.isSafeInteger(meta.stateLength) || meta.stateLength <= 0 || meta.stateLength > MAX_STATE_BYTES) throw bad(path, 'corrupted header (state length out of range)');
    if (!Array.isArray(meta.slots) || meta.slots.length === 0 || meta.slots.length > MAX_SLOTS) throw bad(path, 'corrupted header (memory slot list missing or too long)');
    if (meta.display !== undefined && typeof meta.display !== 'boolean') throw bad(path, 'corrupted header (display is not true or false)');
    for (const s of meta.slots) {
      if (!Number.isSafeInteger(s.fileOffset) || !Number.isSafeInteger(s.size) || s.fileOffset + s.size > size) {
        throw bad(path, `truncated (slot ${s.slot} ends past the end of the file)`);
      }
    }
    const state = Buffer.alloc(meta.stateLength);
    readExactly(fd, state, meta.stateOffset, path, 'machine state');
    if (createHash('sha256').update(state).digest('hex') !== meta.stateSha256) throw bad(path, 'machine state is corrupted (checksum mismatch)');
    return {
      memBytes: meta.memBytes, vcpus: meta.vcpus, state, display: meta.display === true,
      readSlotsInto(target) {
        if (target.length !== meta.slots.length) throw bad(path, `it has ${meta.slots.length} memory slots, the VM has ${target.length}`);
        target.forEach(({ slot, windows }, i) => {
          const rec = meta.slots[i]!;
          if (rec.slot !== slot.slot || rec.guestPhysAddr !== slot.guestPhysAddr || rec.size !== slot.size || (rec.kind ?? 'ram') !== (slot.kind ?? 'ram')) {
            throw bad(path, `memory slot ${i} layout differs from the VM's`);
          }
          const hash = createHash('sha256');
          let pos = rec.fileOffset;
          for (const w of windows) {
            const bytes = new Uint8Array(w);
            readExactly(fd, bytes, pos, path, `slot ${rec.slot}`);
            hash.update(bytes);
            pos += bytes.length;
          }
          if (hash.digest('hex') !== rec.sha256) throw bad(path, `guest memory slot ${rec.slot} is corrupted (checksum mismatch)`);
        });
      },
      close() { closeSync(fd); },
    };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}
