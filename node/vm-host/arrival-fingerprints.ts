// What a received VM's pages held when it arrived, so that its record of "pages written
// since arrival" holds only pages that really differ — and a trip back to the host it
// came from sends only those.
//
// Why this exists: on this nested KVM (shadow paging), the first access of a restored
// guest to a page whose guest PTE is already dirty is mapped writable at once and logged
// as a write, so right after arrival the dirty log names every page the guest touches,
// not just the ones it writes (measured: 64 MiB "dirty" in 3 s for a guest that rewrites
// 16 MiB). The log stays a sound superset; comparing contents makes it precise again.
//
// Fingerprints are taken as the receiver writes pages (hooks on the window views the
// receiver's PageWriter writes through with set()/fill()). A page written any other way
// (e.g. a kept image loaded before pages are applied) has no fingerprint and simply
// stays as the log says. The check is sound because it runs after each dirty-log read:
// a page left unmarked equalled its arrival content after its last logged write, and any
// later write shows up in a later read and is checked again.
import { DirtyBitmap, FINGERPRINT_BYTES, SinceArrival, pageFingerprint } from '../../dirty-tracking/index.js';
import type { SlotLayout } from '../../migrate/index.js';

const PAGE = 4096;
const FP = FINGERPRINT_BYTES;
// Not SHA-256: it runs on every page a migration writes, and cost half the receiver's time.
const fingerprint = pageFingerprint;

export class ArrivalFingerprints {
  private readonly prints = new Map<number, Uint8Array>();
  private readonly known = new Map<number, DirtyBitmap>();
  /** Cleared when the VM starts: from then on writes are the guest's, not arrival content. */
  private capturing = true;

  constructor(private readonly slots: SlotLayout[]) {}

  private slotPages(slot: number): number {
    const s = this.slots.find((x) => x.slot === slot);
    if (!s) throw new RangeError(`no RAM slot ${slot}`);
    return s.size / PAGE;
  }

  private table(slot: number): { prints: Uint8Array; known: DirtyBitmap } {
    let prints = this.prints.get(slot), known = this.known.get(slot);
    if (!prints || !known) {
      const pages = this.slotPages(slot);
      prints = new Uint8Array(pages * FP); known = new DirtyBitmap(pages);
      this.prints.set(slot, prints); this.known.set(slot, known);
    }
    return { prints, known };
  }

  /** Stop capturing (the guest runs now). */
  freeze(): void { this.capturing = false; }

  /** Pages that have a fingerprint (for tests and metrics). */
  knownPages(): number { let n = 0; for (const k of this.known.values()) n += k.count(); return n; }

  /**
   * `view` is the window of `slot` starting at page `firstPage`; returns it with set() and
   * fill() recording the fingerprints of the pages they change. `guard` runs before each
   * write and may throw (e.g. a clear error once the VM process is gone).
   */
  hook(slot: number, firstPage: number, view: Uint8Array, guard?: () => void): Uint8Array {
    const set = Uint8Array.prototype.set, fill = Uint8Array.prototype.fill;
    const after = (start: number, len: number) => { if (this.capturing) this.written(slot, firstPage, view, start, len); };
    Object.defineProperty(view, 'set', {
      value: (src: ArrayLike<number>, offset = 0) => { guard?.(); set.call(view, src, offset); after(offset, src.length); },
    });
    Object.defineProperty(view, 'fill', {
      value: (value: number, start = 0, end = view.length) => {
        guard?.();
        fill.call(view, value, start, end);
        const s = start < 0 ? Math.max(view.length + start, 0) : Math.min(start, view.length);
        const e = end < 0 ? Math.max(view.length + end, 0) : Math.min(end, view.length);
        after(s, e - s);
        return view;
      },
    });
    return view;
  }

  private written(slot: number, firstPage: number, view: Uint8Array, offset: number, len: number): void {
    if (len <= 0) return;
    const { prints, known } = this.table(slot);
    const first = Math.floor(offset / PAGE), last = Math.floor((offset + len - 1) / PAGE);
    for (let p = first; p <= last; p++) {
      fingerprint(view.subarray(p * PAGE, (p + 1) * PAGE), prints, (firstPage + p) * FP);
      known.set(firstPage + p);
    }
  }

  /** True when page `page` of `slot` has a fingerprint and `content` matches it. */
  unchanged(slot: number, page: number, content: Uint8Array): boolean {
    const known = this.known.get(slot), prints = this.prints.get(slot);
    if (!known || !prints || !known.test(page)) return false;
    const now = new Uint8Array(FP);
    fingerprint(content, now, 0);
    for (let i = 0; i < FP; i++) if (now[i] !== prints[page * FP + i]) return false;
    return true;
  }
}

/** A SinceArrival that leaves out logged pages whose content is still what arrived. */
export class CheckedSinceArrival extends SinceArrival {
  /** Logged pages left out because their content is unchanged since arrival. */
  pagesFiltered = 0;

  constructor(generation: number, slots: SlotLayout[], private readonly prints: ArrivalFingerprints,
    private readonly memory: (slot: number) => Uint8Array[]) {
    super(generation, slots.map((s) => ({ slot: s.slot, pages: s.size / PAGE })));
  }

  override recordLog(slot: number, raw: Uint8Array): void {
    const map = this.bitmap(slot);
    const windows = this.memory(slot);
    for (let byte = 0; byte < raw.length; byte++) {
      let bits = raw[byte]!;
      while (bits) {
        const b = 31 - Math.clz32(bits & -bits);
        bits &= bits - 1;
        const page = byte * 8 + b;
        if (page >= map.pages || map.test(page)) continue;
        const content = pageOf(windows, page);
        if (content && this.prints.unchanged(slot, page, content)) { this.pagesFiltered++; continue; }
        map.set(page);
      }
    }
  }
}

function pageOf(windows: Uint8Array[], page: number): Uint8Array | undefined {
  let first = 0;
  for (const w of windows) {
    const n = w.byteLength / PAGE;
    if (page < first + n) return w.subarray((page - first) * PAGE, (page - first + 1) * PAGE);
    first += n;
  }
  return undefined;
}
