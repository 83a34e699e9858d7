// KeptImages: the memory image of a VM that left this host, kept on disk so that
// when it comes back only the pages written elsewhere have to travel. One sparse
// file per VM (zero pages are holes) plus a JSON description; a byte budget bounds
// the whole store and the least recently used image goes first.
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync, writeSync, ftruncateSync } from 'node:fs';
import { join } from 'node:path';
import { isZeroPage } from '../dirty-tracking/index.js';
import { PAGE } from './frames.js';
import { hashParts, regions, regionViews, REGION_BYTES } from './regions.js';
import { sameLayout, type SlotLayout } from './vm-handle.js';

export interface KeptMeta {
  id: string;
  /** The generation the VM was handed over as; a return is only valid from that generation. */
  generation: number;
  slots: SlotLayout[];
  regionBytes: number;
  regionHashes: string[];
  /** Bytes the image occupies on disk (non-zero pages). */
  bytes: number;
  lastUsed: number;
}

const ID_RE = /^[A-Za-z0-9._-]{1,128}$/;

export class KeptImages {
  constructor(readonly dir: string, readonly budgetBytes: number) {
    mkdirSync(dir, { recursive: true });
  }

  private paths(id: string): { img: string; meta: string } {
    if (!ID_RE.test(id) || id.startsWith('.')) throw new Error(`kept image: bad VM id "${id}"`);
    return { img: join(this.dir, `${id}.img`), meta: join(this.dir, `${id}.json`) };
  }

  list(): KeptMeta[] {
    const out: KeptMeta[] = [];
    for (const f of readdirSync(this.dir)) {
      if (!f.endsWith('.json')) continue;
      try { out.push(JSON.parse(readFileSync(join(this.dir, f), 'utf8')) as KeptMeta); } catch { /* half-written: ignored */ }
    }
    return out;
  }

  usedBytes(): number { return this.list().reduce((n, m) => n + m.bytes, 0); }

  get(id: string): KeptMeta | null {
    try { return JSON.parse(readFileSync(this.paths(id).meta, 'utf8')) as KeptMeta; } catch { return null; }
  }

  drop(id: string): void {
    const p = this.paths(id);
    rmSync(p.meta, { force: true }); rmSync(p.img, { force: true });
  }

  /**
   * Keep the image of a VM that just left as `generation`. Written to temp files and
   * renamed, so a crash leaves either the old image or the new one. Returns false when
   * the image alone exceeds the budget.
   */
  store(id: string, generation: number, slots: SlotLayout[], memory: (slot: number) => Uint8Array[]): boolean {
    const p = this.paths(id);
    const tmpImg = `${p.img}.tmp`, tmpMeta = `${p.meta}.tmp`;
    const total = slots.reduce((n, s) => n + s.size, 0);
    const fd = openSync(tmpImg, 'w');
    let bytes = 0;
    const hashes: string[] = [];
    try {
      ftruncateSync(fd, total); // sparse: only non-zero pages get written
      let base = 0;
      for (const s of slots) {
        const windows = memory(s.slot);
        let off = 0;
        for (const w of windows) {
          for (let o = 0; o < w.byteLength; o += PAGE) {
            if (isZeroPage(w, o)) continue;
            writeSync(fd, w, o, PAGE, base + off + o);
            bytes += PAGE;
          }
          off += w.byteLength;
        }
        base += s.size;
      }
      for (const r of regions(slots)) hashes.push(hashParts(regionViews(memory(r.slot), r.firstPage, r.pages)));
    } finally { closeSync(fd); }
    if (bytes > this.budgetBytes) { rmSync(tmpImg, { force: true }); return false; }
    const meta: KeptMeta = { id, generation, slots, regionBytes: REGION_BYTES, regionHashes: hashes, bytes, lastUsed: Date.now() };
    writeFileSync(tmpMeta, JSON.stringify(meta));
    rmSync(p.meta, { force: true });
    renameSync(tmpImg, p.img);
    renameSync(tmpMeta, p.meta);
    this.evict(id);
    return true;
  }

  /** Drop least recently used images (never `keep`) until the store fits the budget. */
  private evict(keep: string): void {
    const all = this.list().sort((a, b) => a.lastUsed - b.lastUsed);
    let used = all.reduce((n, m) => n + m.bytes, 0);
    for (const m of all) {
      if (used <= this.budgetBytes) break;
      if (m.id === keep) continue;
      this.drop(m.id); used -= m.bytes;
    }
  }

  /**
   * Load a kept image into fresh guest memory and compare it region by region with the
   * hashes it was stored with and with the hashes the source offers ("" = region written
   * since arrival, not comparable). Returns the indices of regions that do not match
   * (the source must send them in full), or null if there is no usable image.
   */
  load(id: string, generation: number, slots: SlotLayout[], memory: (slot: number) => Uint8Array[], offered: string[], regionBytes: number): number[] | null {
    const meta = this.get(id);
    if (!meta || meta.generation !== generation || regionBytes !== meta.regionBytes) return null;
    if (!Array.isArray(meta.slots) || !sameLayout(meta.slots, slots)) return null;
    const rs = regions(slots, regionBytes);
    if (offered.length !== rs.length || meta.regionHashes.length !== rs.length) return null;
    const p = this.paths(id);
    let fd: number;
    try { fd = openSync(p.img, 'r'); } catch { return null; }
    const stale: number[] = [];
    try {
      if (statSync(p.img).size !== slots.reduce((n, s) => n + s.size, 0)) return null;
      const slotBase = new Map<number, number>();
      let base = 0;
      for (const s of slots) { slotBase.set(s.slot, base); base += s.size; }
      for (const r of rs) {
        const views = regionViews(memory(r.slot), r.firstPage, r.pages);
        let pos = slotBase.get(r.slot)! + r.firstPage * PAGE;
        for (const v of views) {
          let done = 0;
          while (done < v.byteLength) {
            const n = readSync(fd, v, done, v.byteLength - done, pos + done);
            if (n <= 0) throw new Error('kept image shorter than its layout');
            done += n;
          }
          pos += v.byteLength;
        }
        const h = hashParts(views);
        if (h !== meta.regionHashes[r.index] || (offered[r.index] !== '' && offered[r.index] !== h)) stale.push(r.index);
      }
    } finally { closeSync(fd); }
    meta.lastUsed = Date.now();
    writeFileSync(p.meta, JSON.stringify(meta));
    return stale;
  }
}
