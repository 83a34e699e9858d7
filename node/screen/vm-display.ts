// A VM process's display as the screen service reads it: the framebuffer slot
// of its memfd mapped into this process (no copy per frame), damage from the VM
// process's 'displayDamage' (read-and-clear, so one reader per VM: the
// LocalScreen), input through its 'input' op. The geometry the VM process
// reports is checked against the slot before a byte is read.
import { loadNative, type GuestMemoryMapping } from '../../native/index.js';
import type { VmProcess, VmInfo } from '../vm-host/index.js';
import { checkGeometry, type FrameGeometry } from './tiles.js';
import type { MouseReport } from './input.js';

export interface VmDisplay {
  readonly geom: FrameGeometry;
  /** The framebuffer (at least stride*height bytes) as the guest draws it; empty once closed. */
  framebuffer(): Uint8Array;
  /** Scanlines written since the previous call: bit i = scanline i. */
  damage(): Promise<Uint8Array>;
  input(req: { keys: number[]; mouse: MouseReport[] }): Promise<void>;
  close(): void;
}

/** The VM's display, or the reason it has none. */
export async function openVmDisplay(vmp: VmProcess): Promise<VmDisplay | string> {
  const info = await vmp.request({ op: 'info' }) as VmInfo & { display?: VmInfo['display'] };
  const d = info.display;
  if (!d) return 'the VM has no display (created with display off, or by a VMM without one)';
  const geom: FrameGeometry = { width: d.width, height: d.height, stride: d.stride };
  checkGeometry(geom);
  const slot = info.slots.find((s) => s.slot === d.slot);
  const bytes = geom.stride * geom.height;
  if (!slot || slot.size < bytes) throw new Error(`the VM's display needs ${bytes} bytes in slot ${d.slot}, its slots are ${JSON.stringify(info.slots)}`);
  if (!Number.isInteger(info.pid) || info.pid <= 0 || !Number.isInteger(info.memfd) || info.memfd < 0) throw new Error('the VM process reported no usable memfd');
  const mapping = loadNative().mapGuestMemory(`/proc/${info.pid}/fd/${info.memfd}`, [{ slot: slot.slot, size: slot.size, memfdOffset: slot.memfdOffset }]);
  return new VmProcessDisplay(vmp, geom, mapping, slot.slot, bytes);
}

class VmProcessDisplay implements VmDisplay {
  private view: Uint8Array;
  private readonly onExit = () => this.close();

  constructor(private readonly vmp: VmProcess, readonly geom: FrameGeometry, private mapping: GuestMemoryMapping | null, slot: number, bytes: number) {
    const windows = mapping!.memory(slot);
    const first = windows[0];
    if (!first || first.byteLength < bytes) { mapping!.close(); throw new Error(`the framebuffer slot maps to ${first?.byteLength ?? 0} bytes, not ${bytes}`); }
    this.view = new Uint8Array(first, 0, bytes);
    vmp.once('exit', this.onExit);
  }

  framebuffer(): Uint8Array { return this.view; }

  async damage(): Promise<Uint8Array> {
    const raw = await this.vmp.request({ op: 'displayDamage' }) as Uint8Array;
    const need = Math.ceil(this.geom.height / 8);
    if (!(raw instanceof Uint8Array) || raw.byteLength < need) throw new Error(`displayDamage answered ${raw?.byteLength} bytes for ${this.geom.height} scanlines`);
    return raw;
  }

  async input(req: { keys: number[]; mouse: MouseReport[] }): Promise<void> {
    await this.vmp.request({ op: 'input', ...(req.keys.length ? { keys: req.keys } : {}), ...(req.mouse.length ? { mouse: req.mouse } : {}) });
  }

  close(): void {
    this.vmp.off('exit', this.onExit);
    this.view = new Uint8Array(0);
    this.mapping?.close();
    this.mapping = null;
  }
}
