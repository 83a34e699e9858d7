// Every page written since a VM arrived on this host. Whoever reads the dirty log
// (the migration sender, a snapshotter, ...) must merge what it read here, because
// a dirty-log read with clear=true consumes the bits. When the VM later returns to
// the host it came from, that host still holds the image as it arrived here, so
// only these pages need to travel.
import { DirtyBitmap } from './bitmap.js';

export interface SlotPages { slot: number; pages: number }

export class SinceArrival {
  private readonly maps = new Map<number, DirtyBitmap>();

  /** @param generation the VM generation it arrived as; a return trip is only valid against that generation. */
  constructor(readonly generation: number, slots: SlotPages[]) {
    for (const s of slots) this.maps.set(s.slot, new DirtyBitmap(s.pages));
  }

  private get(slot: number): DirtyBitmap {
    const m = this.maps.get(slot);
    if (!m) throw new RangeError(`SinceArrival: no slot ${slot}`);
    return m;
  }

  /** Merge a raw dirty-log read (u64 LE words) of one slot. */
  recordLog(slot: number, raw: Uint8Array): void { this.get(slot).mergeBytes(raw); }
  record(slot: number, bitmap: DirtyBitmap): void { this.get(slot).merge(bitmap); }
  /** Mark pages written by something other than the guest (e.g. the migration receiver). */
  markRange(slot: number, first: number, count: number): void { this.get(slot).setRange(first, count); }

  bitmap(slot: number): DirtyBitmap { return this.get(slot); }
  slots(): number[] { return [...this.maps.keys()]; }
  count(): number { let n = 0; for (const m of this.maps.values()) n += m.count(); return n; }
}
