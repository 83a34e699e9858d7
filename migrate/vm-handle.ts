// The small surface migration needs from a VM. The real VM lives in its own process
// behind IPC (node/vm-host), so anything that may cross that boundary is async;
// memory windows are shared mappings (memfd), so they are plain synchronous views.
import type { SinceArrival } from '../dirty-tracking/index.js';

/** What a memory slot holds: guest RAM, or the linear framebuffer (guest-physical, outside RAM). */
export type SlotKind = 'ram' | 'framebuffer';

/**
 * One memory slot as the hello declares it. Pages are 4 KiB; page i of the slot is byte i*4096 of it.
 * Every slot travels alike (a framebuffer is memory the guest writes); only RAM slots count in memBytes.
 */
export interface SlotLayout {
  slot: number;
  guestPhysAddr: number;
  size: number; // bytes, multiple of 4096
  /** Absent: 'ram' (specs from before the framebuffer). */
  kind?: SlotKind;
}

/** What a destination needs to decide whether it can host the VM, and to create it. */
export interface VmSpec {
  id: string;
  /** Incremented on every successful move; the destination runs the VM as generation + 1. */
  generation: number;
  vcpus: number;
  memBytes: number;
  slots: SlotLayout[];
  /** CPU features the guest was started with (CPUID names); the destination must offer every one. */
  cpuFeatures: string[];
  /** Device models the guest uses (e.g. "uart8250", "framebuffer" when it has a display). */
  devices: string[];
}

/** A running VM on the source host. */
export interface VmHandle {
  readonly spec: VmSpec;
  /** Guest RAM of a slot as windows (each a whole number of pages) covering the slot in order, no copy. */
  memory(slot: number): Uint8Array[];
  /** Dirty pages of a slot since the last clear, as ceil(pages/64) u64 LE words into `out`. */
  dirtyLog(slot: number, out: Uint8Array, clear: boolean): Promise<void>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  isRunning(): boolean;
  /** Share (0..0.99) of wall time each vCPU sleeps. */
  setThrottle(share: number): Promise<void>;
  /** Device + vCPU state; only while paused. */
  saveState(): Promise<Uint8Array>;
  /**
   * Pages written since this VM arrived on this host, and the generation it arrived as
   * (absent if it was booted here). Enables cheap return trips.
   */
  readonly arrival?: SinceArrival | undefined;
}

/** A VM being received: created paused with zeroed RAM, filled by the receiver. */
export interface IncomingVm {
  readonly spec: VmSpec;
  memory(slot: number): Uint8Array[];
  /** Restore device + vCPU state into the paused VM whose RAM already holds the pages. */
  restoreState(state: Uint8Array): Promise<void>;
  /** Run it (only after `commit`). */
  start(): Promise<void>;
  /** Throw it away (any failure before commit). Idempotent. */
  discard(): Promise<void>;
  isRunning(): boolean;
}

export type HostCheck = { ok: true } | { ok: false; reason: string };

/** The destination side: can it host a spec, and make a paused VM for it. */
export interface VmHost {
  check(spec: VmSpec): HostCheck;
  /** `spec.generation` is already the new generation. */
  createPaused(spec: VmSpec): Promise<IncomingVm>;
}

export function slotPages(s: SlotLayout): number {
  return s.size / 4096;
}

export function slotKind(s: SlotLayout): SlotKind {
  return s.kind ?? 'ram';
}

/**
 * Same slots (number, address, size, kind) in the same order, however each list was built (a
 * missing kind is 'ram'). Order matters: region indices and image offsets follow the slot order.
 */
export function sameLayout(a: readonly SlotLayout[], b: readonly SlotLayout[]): boolean {
  return a.length === b.length && a.every((s, i) => {
    const t = b[i]!;
    return s.slot === t.slot && s.guestPhysAddr === t.guestPhysAddr && s.size === t.size && slotKind(s) === slotKind(t);
  });
}
