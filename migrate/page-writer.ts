// The only path by which bytes from the wire reach guest memory. Every write is
// bounds-checked against the slot's own windows, independently of the frame
// decoder's checks, so a decoder bug cannot become an out-of-bounds write.
import { PAGE } from './frames.js';
import type { SlotLayout } from './vm-handle.js';

interface Window { firstPage: number; pages: number; mem: Uint8Array }

export class PageWriter {
  private readonly slots = new Map<number, { pages: number; windows: Window[] }>();
  /** Writes refused for being out of range (a decoder that works leaves this at 0). */
  refused = 0;
  pagesWritten = 0;

  constructor(layout: SlotLayout[], memory: (slot: number) => Uint8Array[]) {
    for (const s of layout) {
      const windows: Window[] = [];
      let page = 0;
      for (const mem of memory(s.slot)) {
        if (mem.byteLength % PAGE !== 0) throw new RangeError(`slot ${s.slot}: memory window of ${mem.byteLength} bytes is not whole pages`);
        windows.push({ firstPage: page, pages: mem.byteLength / PAGE, mem });
        page += mem.byteLength / PAGE;
      }
      if (page * PAGE !== s.size) throw new RangeError(`slot ${s.slot}: windows cover ${page * PAGE} bytes, layout says ${s.size}`);
      this.slots.set(s.slot, { pages: page, windows });
    }
  }

  private locate(slot: number, page: number): { mem: Uint8Array; offset: number } {
    const s = this.slots.get(slot);
    if (!s || !Number.isInteger(page) || page < 0 || page >= s.pages) {
      this.refused++;
      throw new RangeError(`page ${page} of slot ${slot} is outside guest memory`);
    }
    for (const w of s.windows) {
      if (page < w.firstPage + w.pages) return { mem: w.mem, offset: (page - w.firstPage) * PAGE };
    }
    this.refused++;
    throw new RangeError(`page ${page} of slot ${slot} not in any window`);
  }

  /** Copy one 4 KiB page (src must be exactly PAGE bytes). */
  write(slot: number, page: number, src: Uint8Array): void {
    if (src.byteLength !== PAGE) throw new RangeError(`page write of ${src.byteLength} bytes (must be ${PAGE})`);
    const { mem, offset } = this.locate(slot, page);
    mem.set(src, offset);
    this.pagesWritten++;
  }

  zero(slot: number, page: number): void {
    const { mem, offset } = this.locate(slot, page);
    mem.fill(0, offset, offset + PAGE);
    this.pagesWritten++;
  }
}

/** Read-side twin: a view of one page of a slot (no copy). */
export function pageView(windows: Uint8Array[], page: number): Uint8Array {
  let first = 0;
  for (const w of windows) {
    const n = w.byteLength / PAGE;
    if (page < first + n) return w.subarray((page - first) * PAGE, (page - first + 1) * PAGE);
    first += n;
  }
  throw new RangeError(`page ${page} outside the slot's windows`);
}
