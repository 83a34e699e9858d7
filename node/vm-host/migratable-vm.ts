// migrate's VmHandle / IncomingVm / VmHost over real VM processes. The migration runs in
// the agent (it owns the libp2p node); the VM process keeps the KVM fds. Guest RAM is the
// VM process's memfd mapped into the agent (MAP_SHARED), so the sender reads pages the
// guest is writing and the receiver writes pages straight into the destination guest's
// RAM; dirty logs, pause, throttle and machine state cross the IPC channel.
import { readFileSync } from 'node:fs';
import type { SinceArrival } from '../../dirty-tracking/index.js';
import { sameLayout, type HostCheck, type IncomingVm, type SlotLayout, type VmHandle, type VmHost, type VmSpec } from '../../migrate/index.js';
import { loadNative, type GuestMemoryMapping } from '../../native/index.js';
import { VmProcess, type VmExit } from './client.js';
import { ArrivalFingerprints, CheckedSinceArrival } from './arrival-fingerprints.js';
import { hostCpuFeatures } from './cpu-features.js';
import type { VmInfo } from './protocol.js';

const PAGE = 4096;
const LOW_RAM_LIMIT = 3 * 2 ** 30;   // the VMM splits RAM around the 3..4 GiB MMIO hole
const HIGH_RAM_BASE = 4 * 2 ** 30;
const MAX_VCPUS = 64;

/** The device model a VM with a display has; a spec names it exactly when the VM has one. */
export const DISPLAY_DEVICE = 'framebuffer';
/** Device models this VMM gives every guest. */
export const BASE_DEVICES: readonly string[] = ['uart8250', 'i8042'];
/** Every device model this VMM has (a destination refuses a spec naming others). */
export const VM_DEVICES: readonly string[] = [...BASE_DEVICES, DISPLAY_DEVICE];

/**
 * The framebuffer's slot (mirrors native: 1024x768 XRGB8888, stride 4096, so one page per
 * scanline; at 0xE0000000 inside the 3..4 GiB MMIO hole, never RAM; slot 2).
 */
export const FRAMEBUFFER_SLOT: Readonly<SlotLayout> = { slot: 2, guestPhysAddr: 0xe000_0000, size: 768 * 4096, kind: 'framebuffer' };

/** The RAM slots the VMM makes for `memBytes` of RAM (mirrors native/memory/guest_memory.cc). */
export function ramLayout(memBytes: number): SlotLayout[] {
  const low = Math.min(memBytes, LOW_RAM_LIMIT);
  const slots: SlotLayout[] = [{ slot: 0, guestPhysAddr: 0, size: low }];
  if (memBytes > low) slots.push({ slot: 1, guestPhysAddr: HIGH_RAM_BASE, size: memBytes - low });
  return slots;
}

/** Every slot the VMM makes: RAM, then the framebuffer's when the VM has a display (the order native reports). */
export function vmLayout(memBytes: number, display: boolean): SlotLayout[] {
  return display ? [...ramLayout(memBytes), { ...FRAMEBUFFER_SLOT }] : ramLayout(memBytes);
}

/** Whether a spec asks for a display. */
export function specHasDisplay(spec: VmSpec): boolean {
  return spec.devices.includes(DISPLAY_DEVICE);
}

/** Maps the memfd of a VM process (its RAM, and its framebuffer when it has a display) into this process. */
export function mapVmMemory(info: VmInfo): GuestMemoryMapping {
  if (!Number.isInteger(info.pid) || info.pid <= 0 || !Number.isInteger(info.memfd) || info.memfd < 0) {
    throw new Error(`VM process reported no usable RAM memfd (pid ${info.pid}, fd ${info.memfd})`);
  }
  return loadNative().mapGuestMemory(`/proc/${info.pid}/fd/${info.memfd}`, info.slots);
}

export interface AttachOptions {
  id: string;
  generation: number;
  /** Pages written since the VM arrived here (a VM that came by migration); absent for one booted here. */
  arrival?: SinceArrival;
}

/**
 * One VM process seen as migrate needs it: the source side (VmHandle) of a VM running
 * here, or the destination side (IncomingVm) of one being received. Call release() once
 * migrate is done with it (after sendVm returned: it reads memory for `keep` until then).
 */
export class MigratableVm implements VmHandle, IncomingVm {
  arrival: SinceArrival | undefined;
  private running: boolean;
  private mapping: GuestMemoryMapping | null;
  private readonly views = new Map<number, Uint8Array[]>();
  private gone: VmExit | null = null;
  private released = false;
  private readonly onExit = (exit: VmExit) => this.lost(exit);
  /** Receiving side only, until start: what each page held on arrival. */
  private fingerprints: ArrivalFingerprints | null = null;

  private constructor(readonly process: VmProcess, readonly spec: VmSpec, info: VmInfo, mapping: GuestMemoryMapping, arrival?: SinceArrival) {
    this.running = info.running;
    this.mapping = mapping;
    this.arrival = arrival;
    process.on('exit', this.onExit);
  }

  /** The source side of a VM running (or paused) in `proc`, booted here or arrived earlier. */
  static async attach(proc: VmProcess, opts: AttachOptions): Promise<MigratableVm> {
    const info = await proc.request({ op: 'info' });
    const spec: VmSpec = {
      id: opts.id, generation: opts.generation, vcpus: info.vcpus, memBytes: info.memBytes,
      slots: info.slots.map((s) => ({ slot: s.slot, guestPhysAddr: s.guestPhysAddr, size: s.size, kind: s.kind })),
      cpuFeatures: hostCpuFeatures(), devices: info.display ? [...BASE_DEVICES, DISPLAY_DEVICE] : [...BASE_DEVICES],
    };
    if (opts.arrival && opts.arrival.generation !== opts.generation) {
      throw new Error(`attach: the since-arrival record is for generation ${opts.arrival.generation}, the VM is generation ${opts.generation}`);
    }
    return new MigratableVm(proc, spec, info, mapVmMemory(info), opts.arrival);
  }

  /** The destination side: `proc` holds a VM created paused for `spec`. */
  static async incoming(proc: VmProcess, spec: VmSpec): Promise<MigratableVm> {
    const info = await proc.request({ op: 'info' });
    if (!sameLayout(info.slots, spec.slots)) throw new Error(`the VM created for ${spec.id} has memory slots ${JSON.stringify(info.slots)}, the spec declares ${JSON.stringify(spec.slots)}`);
    if ((info.display !== null) !== specHasDisplay(spec)) throw new Error(`the VM created for ${spec.id} ${info.display ? 'has' : 'lacks'} a display, the spec ${specHasDisplay(spec) ? 'asks for one' : 'has none'}`);
    const vm = new MigratableVm(proc, spec, info, mapVmMemory(info));
    vm.fingerprints = new ArrivalFingerprints(spec.slots);
    return vm;
  }

  /** The VM process died: its RAM must not be read or written any more (views go empty). */
  private lost(exit: VmExit): void {
    this.gone = exit;
    this.running = false;
    this.unmap();
  }

  private unmap(): void {
    this.views.clear();
    this.mapping?.close();
    this.mapping = null;
  }

  private alive(what: string): void {
    if (this.gone) throw new Error(`${what}: ${this.gone.message}`);
    if (this.released) throw new Error(`${what}: this VM handle was released`);
  }

  memory(slot: number): Uint8Array[] {
    this.alive('memory');
    let v = this.views.get(slot);
    if (!v) {
      if (!this.spec.slots.some((s) => s.slot === slot)) throw new RangeError(`memory: the VM has no memory slot ${slot}`);
      v = this.mapping!.memory(slot).map((ab) => new Uint8Array(ab));
      const prints = this.fingerprints;
      if (prints) {
        let first = 0;
        const guard = () => this.alive('writing guest memory');
        v = v.map((w) => { const hooked = prints.hook(slot, first, w, guard); first += w.byteLength / PAGE; return hooked; });
      }
      this.views.set(slot, v);
    }
    return v;
  }

  async dirtyLog(slot: number, out: Uint8Array, clear: boolean): Promise<void> {
    this.alive('dirtyLog');
    const raw = await this.process.request({ op: 'dirtyLog', slot, clear });
    if (raw.byteLength > out.byteLength) throw new RangeError(`dirtyLog: slot ${slot} needs ${raw.byteLength} bytes, out holds ${out.byteLength}`);
    // Bytes from IPC may sit at any offset of their buffer; bitmaps read them as u32/u64 words.
    const bits = new Uint8Array(raw.byteLength);
    bits.set(raw);
    out.fill(0);
    out.set(bits);
    // A read with clear consumes the bits: whoever reads, the return-trip record keeps them.
    this.arrival?.recordLog(slot, bits);
  }

  async pause(): Promise<void> {
    this.alive('pause');
    await this.process.request({ op: 'pause' });
    this.running = false;
  }

  async resume(): Promise<void> {
    this.alive('resume');
    await this.process.request({ op: 'resume' });
    this.running = true;
  }

  isRunning(): boolean { return this.running; }

  async setThrottle(share: number): Promise<void> {
    this.alive('setThrottle');
    await this.process.request({ op: 'setThrottle', share });
  }

  async saveState(): Promise<Uint8Array> {
    this.alive('saveState');
    return this.process.request({ op: 'saveState' });
  }

  async restoreState(state: Uint8Array): Promise<void> {
    this.alive('restoreState');
    await this.process.request({ op: 'restoreState', state });
  }

  /** Runs the received VM; from now on every page it writes is recorded for a return trip. */
  async start(): Promise<void> {
    this.alive('start');
    const prints = this.fingerprints ?? new ArrivalFingerprints(this.spec.slots);
    prints.freeze();
    this.arrival = new CheckedSinceArrival(this.spec.generation, this.spec.slots, prints, (slot) => {
      try { return this.memory(slot); } catch { return []; }
    });
    await this.process.request({ op: 'start' });
    this.running = true;
  }

  /** Throws the received VM away: its process is killed. Idempotent. */
  async discard(): Promise<void> {
    this.running = false;
    await this.release({ kill: true });
  }

  /** Unmaps the RAM and ends the VM process (closed cleanly, or killed). Idempotent. */
  async release(opts: { kill?: boolean } = {}): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.unmap();
    this.process.off('exit', this.onExit);
    if (opts.kill) await this.process.kill(); else await this.process.close();
  }
}

export interface VmProcessHostOptions {
  /** RAM this host offers to arriving VMs (default: MemAvailable minus 1 GiB). */
  maxMemBytes?: number;
  /** CPU features this host offers (default: its /proc/cpuinfo ISA flags). */
  cpuFeatures?: string[];
  /** Called with each VM process made for an arriving VM, before anything runs in it (wire its serial here). */
  onCreated?: (vm: MigratableVm) => void;
  /** How VM processes are spawned (default VmProcess.spawn). */
  spawn?: () => Promise<VmProcess>;
}

function availableMemBytes(): number {
  try {
    const m = /^MemAvailable:\s+(\d+) kB$/m.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (m) return Number(m[1]) * 1024 - 2 ** 30;
  } catch { /* fall through */ }
  return 0;
}

/** The destination side of migrate over VM processes: one fresh VM process per arriving VM. */
export class VmProcessHost implements VmHost {
  constructor(private readonly opts: VmProcessHostOptions = {}) {}

  check(spec: VmSpec): HostCheck {
    const max = this.opts.maxMemBytes ?? availableMemBytes();
    if (spec.memBytes > max) return { ok: false, reason: `needs ${spec.memBytes} bytes of RAM, this host can give ${Math.max(0, max)}` };
    if (spec.memBytes <= 0 || spec.memBytes % (2 << 20) !== 0) return { ok: false, reason: `RAM of ${spec.memBytes} bytes is not a positive multiple of 2 MiB` };
    if (spec.vcpus < 1 || spec.vcpus > MAX_VCPUS) return { ok: false, reason: `${spec.vcpus} vCPUs is outside 1..${MAX_VCPUS}` };
    const have = new Set(this.opts.cpuFeatures ?? hostCpuFeatures());
    const missing = spec.cpuFeatures.filter((f) => !have.has(f));
    if (missing.length) return { ok: false, reason: `this host's CPU lacks features the VM uses: ${missing.join(', ')}` };
    const devices = new Set(VM_DEVICES);
    const unknown = spec.devices.filter((d) => !devices.has(d));
    if (unknown.length) return { ok: false, reason: `this host has no device model for: ${unknown.join(', ')}` };
    // The framebuffer slot is accepted exactly when the spec asks for a display: nothing the wire
    // names may lie outside the layout this VMM makes for it.
    const display = specHasDisplay(spec);
    if (!sameLayout(vmLayout(spec.memBytes, display), spec.slots)) {
      return { ok: false, reason: `memory layout ${JSON.stringify(spec.slots)} is not the one this VMM makes for ${spec.memBytes} bytes of RAM ${display ? 'with' : 'without'} a display` };
    }
    return { ok: true };
  }

  async createPaused(spec: VmSpec): Promise<MigratableVm> {
    const proc = await (this.opts.spawn ?? VmProcess.spawn)();
    try {
      await proc.request({ op: 'create', memBytes: spec.memBytes, vcpus: spec.vcpus, display: specHasDisplay(spec) });
      const vm = await MigratableVm.incoming(proc, spec);
      this.opts.onCreated?.(vm);
      return vm;
    } catch (e) {
      await proc.kill();
      throw e;
    }
  }
}
