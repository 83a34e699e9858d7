// The TypeScript face of the native KVM core. The C++ addon (built by node-gyp
// into native/build/Release/roam_native.node) implements exactly this surface;
// nothing else in the project loads the .node file.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Events a VM reports from its vCPU threads (delivered on the JS thread, asynchronously).
 * `seq` numbers them 1, 2, 3… in the order they were queued; pause() returns the last number.
 */
export type VmEvent = { seq: number } & (
  | { type: 'serial'; data: Buffer }          // bytes the guest wrote to the 8250 THR (COM1)
  | { type: 'reset' }                         // guest pulsed the i8042 reset line (0xFE to port 0x64)
  | { type: 'shutdown'; detail?: string }    // triple fault / KVM_EXIT_SHUTDOWN (detail: vCPU and RIP)
  | { type: 'error'; message: string });      // vCPU stopped on an exit it cannot handle

/**
 * What a memory slot holds: guest RAM, or the linear framebuffer (device memory in the MMIO hole
 * that the guest never sees as RAM, but that migrates, maps and dirty-tracks exactly like RAM).
 */
export type MemorySlotKind = 'ram' | 'framebuffer';

/** One KVM memory slot backed by the memfd. Pages are 4 KiB; bit i of a dirty bitmap is page i of the slot. */
export interface MemorySlot {
  slot: number;
  guestPhysAddr: number;   // first byte in guest-physical space
  size: number;            // bytes, a multiple of 4096
  memfdOffset: number;     // where the slot starts inside the memfd (the framebuffer: right after RAM, at memBytes)
  kind: MemorySlotKind;
}

export interface VmConfig {
  memBytes: number;        // guest RAM; > 0, multiple of 2 MiB, at most the host's RAM
  vcpus?: number;          // default 1
  /** A linear framebuffer as slot 2 (default true); false gives a headless VM with RAM slots only. */
  display?: boolean;
}

/**
 * The guest's linear framebuffer: XRGB8888 little endian (bytes B, G, R, X per pixel), `stride`
 * bytes per scanline = one 4 KiB page, so bit i of the slot's dirty bitmap is scanline i.
 * Read the pixels through memory(slot) (or a GuestMemoryMapping of the same slot).
 */
export interface DisplayInfo {
  slot: number;            // 2
  guestPhysAddr: number;   // 0xE0000000, inside the 3..4 GiB MMIO hole
  width: number;           // 1024
  height: number;          // 768
  stride: number;          // 4096
}

/** Bytes displayDamage() fills: 768 scanlines, one bit each. */
export const DISPLAY_DAMAGE_BYTES = 96;

export interface BootInfo { entry: number; cmdline: string; loadEnd: number }

export interface NativeVm {
  readonly memBytes: number;
  readonly vcpus: number;
  /**
   * Memory slots: RAM (slot 0, and slot 1 above 4 GiB when RAM reaches into the 3..4 GiB hole), then
   * the framebuffer (slot 2, kind 'framebuffer') unless the VM was created with display: false.
   */
  slots(): MemorySlot[];
  /**
   * Load a multiboot v1 ELF kernel and set vCPU 0 to its 32-bit protected-mode entry (EAX=0x2BADB002, EBX=info).
   * With a display, the multiboot info announces the framebuffer (flags bit 12, offsets 88..115).
   */
  loadMultiboot(kernel: Buffer, cmdline: string): BootInfo;
  /** Load a Linux bzImage (64-bit boot protocol) and set vCPU 0 to its 64-bit entry. */
  loadBzImage(kernel: Buffer, cmdline: string, initrd: Buffer | null): BzImageSetup;
  /** Start the vCPU threads (from the loaded or restored state). */
  start(): void;
  /**
   * Stop every vCPU out of KVM_RUN, completing any pending I/O; returns when all are parked. Idempotent.
   * Returns the seq of the last event queued: once that event is delivered, nothing emitted before the pause is pending.
   */
  pause(): number;
  resume(): void;
  isRunning(): boolean;
  /** Guest RAM of a slot as external ArrayBuffers over the mapping, windows of at most 1 GiB, no copy. */
  memory(slot: number): ArrayBuffer[];
  /**
   * Dirty pages of a slot since the last clear: KVM's dirty log OR the VMM's own bitmap of
   * pages device code wrote. `out` holds ceil(pages/64) little-endian u64 words (bit i = page i).
   * With clear=true the reported pages are re-protected (manual-protect where available).
   */
  dirtyLog(slot: number, out: Uint8Array, clear: boolean): void;
  /** The framebuffer's geometry, or null for a VM created with display: false. */
  display(): DisplayInfo | null;
  /**
   * Scanlines the guest (or the VMM) wrote since the previous call: fills out[0..96) (bit i =
   * scanline i, little-endian u64 words like dirtyLog) and clears the display's record. The display
   * and migration (dirtyLog of the framebuffer slot) each see every write: neither clears the other's.
   * Throws when the VM has no display, or out is shorter than DISPLAY_DAMAGE_BYTES.
   */
  displayDamage(out: Uint8Array): void;
  /**
   * Host keys to the PS/2 keyboard, as scancode set 2 bytes (a press `1C`, a release `F0 1C`,
   * extended keys with `E0`), at most 64 bytes per call (else a RangeError). The i8042 hands them to
   * the guest translated to set 1 when its command byte says so (the default), raising IRQ 1 when
   * enabled. Dropped while the guest has scanning off (F5); a call that does not fit the 256-byte
   * queue is dropped whole. Safe while the VM runs or is paused.
   */
  keyboardInput(set2: Uint8Array): void;
  /**
   * Host mouse motion and buttons to the PS/2 mouse: dx right-positive, dy DOWN-positive (screen
   * convention; PS/2's up-positive is the device's business), buttons bit 0 left, bit 1 right,
   * bit 2 middle (0..7). Queued as 3-byte packets (IRQ 12 when enabled) only once the guest enabled
   * reporting (0xD4 0xF4); moves beyond ±255 are split into several packets, each axis is clamped
   * to ±4080 per call. Integers only (else a RangeError).
   */
  mouseInput(dx: number, dy: number, buttons: number): void;
  /**
   * Test hook: one port access through the VMM's I/O bus from this thread, as a guest's IN/OUT
   * would make it (size 1, 2 or 4). With `value`, writes it and returns undefined; without,
   * returns what the device read. Lets tests drive devices (the i8042) without a guest.
   */
  ioForTest(port: number, size: number, value?: number): number | undefined;
  /** Throttle: each vCPU sleeps this share (0..0.99) of wall time. */
  setThrottle(share: number): void;
  /** Whole-machine state in the versioned section format (must be paused). Host resources are never in it. */
  saveState(): Buffer;
  /** Restore into a fresh VM whose RAM already holds the guest's pages; call before start(). */
  restoreState(state: Buffer): void;
  /** Debugging aid: accesses to I/O ports no device claims (reads gave 0xFF), by port number. */
  unknownPorts(): Record<string, number>;
  /** The RAM memfd (for a same-host hand-over); owned by the VM. */
  memfd(): number;
  close(): void;
}

export interface BzImageSetup {
  zeroPage: Buffer;                 // the 4 KiB boot_params the loader wrote
  e820: { addr: number; size: number; type: number }[];
  pageTableAddr: number; gdtAddr: number; stackTop: number;
  zeroPageAddr: number;
  cmdlineAddr: number;
  kernelAddr: number;              // where the protected-mode kernel was placed
  initrdAddr: number; initrdSize: number;
  entry: number;                   // 64-bit entry (startup_64 = kernelAddr + 0x200)
  rsi: number;                     // = zeroPageAddr
}

/** Where one slot of a VM's RAM lies inside its memfd (MemorySlot carries the same fields). */
export interface MappedSlot { slot: number; size: number; memfdOffset: number }

/**
 * Guest RAM of a VM in another process, mapped (MAP_SHARED) into this one: the same pages the
 * guest reads and writes, no copy. Windows are external ArrayBuffers of at most 1 GiB per slot,
 * created once. close() detaches every window (views then read as empty) and unmaps at once.
 */
export interface GuestMemoryMapping {
  /** Bytes mapped (the end of the furthest slot inside the memfd). */
  readonly bytes: number;
  readonly closed: boolean;
  memory(slot: number): ArrayBuffer[];
  /** Idempotent. */
  close(): void;
}

export interface NativeAddon {
  kvmStatus(): { ok: true; apiVersion: number } | { ok: false; reason: string };
  createVm(config: VmConfig, onEvent: (e: VmEvent) => void): NativeVm;
  /**
   * Run the Linux bzImage loader (64-bit boot protocol) into scratch RAM of `memBytes` and report what it
   * prepared (zero page, addresses, entry registers), for testing the loader where stock kernels cannot boot.
   */
  prepareBzImage(kernel: Buffer, cmdline: string, initrd: Buffer | null, memBytes: number): BzImageSetup;
  /** Decode a saved state into a JSON description (sections, versions, lengths) or throw a clear error. */
  describeState(state: Buffer): { major: number; minor: number; sections: { name: string; version: number; length: number }[] };
  /**
   * Map another process's guest RAM: `path` is its memfd as `/proc/<pid>/fd/<fd>` (the VM process
   * reports pid and fd in its `info`), `slots` where each slot lies in it. Throws a clear error when
   * the file cannot be opened, is not a regular file, or is smaller than the slots need.
   */
  mapGuestMemory(path: string, slots: MappedSlot[]): GuestMemoryMapping;
  /** A path's user.* extended attributes, sorted by name (none where the filesystem has no xattrs). Never follows a symlink. */
  readXattrs(path: string): [string, Buffer][];
  /** Makes a path's user.* extended attributes exactly these (others removed). Names must be user.*; values ≤ 64 KiB. */
  writeXattrs(path: string, attrs: [string, Uint8Array][]): void;
  /** Test hook: abort() the process from native code, to prove a VM-process crash is contained. */
  abortForTest(): never;
}

const here = dirname(fileURLToPath(import.meta.url));

/** Path of the built addon, whether this file runs from source or from dist/. */
export function addonPath(): string {
  for (const up of ['..', '../..']) {
    const p = resolve(here, up, 'native', 'build', 'Release', 'roam_native.node');
    if (existsSync(p)) return p;
  }
  return join(resolve(here, '..', '..'), 'native', 'build', 'Release', 'roam_native.node');
}

let cached: NativeAddon | undefined;
export function loadNative(): NativeAddon {
  if (!cached) {
    const require = createRequire(import.meta.url);
    cached = require(addonPath()) as NativeAddon;
  }
  return cached;
}
