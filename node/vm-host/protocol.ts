// The protocol between an agent (or the CLI) and one VM process, spoken over
// the VM process's unix socket in frames (framing.ts). Requests carry an id;
// every request gets exactly one reply. On connecting, the controller first
// gets a 'hello' (who the VM process is, the metadata its last controller gave
// it, serial output nobody has seen yet) or a 'refused' when another
// controller already holds it: one controller at a time.
import type { BootInfo, DisplayInfo, MemorySlot } from '../../native/index.js';

/** Where the guest's framebuffer is and its geometry (XRGB8888, one 4 KiB page per scanline). */
export type { DisplayInfo };

export type VmRequest =
  // display (default true): a linear framebuffer in its own memory slot, see VmInfo.display.
  | { op: 'create'; memBytes: number; vcpus: number; display?: boolean }
  | { op: 'loadMultiboot'; kernelPath: string; cmdline: string }
  | { op: 'start' }
  | { op: 'pause' }
  | { op: 'resume' }
  | { op: 'info' }
  | { op: 'saveToFile'; path: string }
  | { op: 'restoreFromFile'; path: string }
  | { op: 'close' }
  // Metadata a controller leaves with the VM process, so a later controller can adopt it:
  | { op: 'setMeta'; meta: VmMeta }
  | { op: 'meta' }
  // The controller is about to go: events from now on go to the backlog for the next one
  // (everything sent before the reply reached this controller, so nothing falls in between).
  | { op: 'detach' }
  // Migration (the agent maps the RAM memfd itself, see VmInfo.pid/memfd):
  | { op: 'dirtyLog'; slot: number; clear: boolean }
  | { op: 'setThrottle'; share: number }
  | { op: 'saveState' }
  | { op: 'restoreState'; state: Uint8Array }
  // The screen and input (any controller; the web viewer's source of truth):
  // scanlines the guest changed since the last displayDamage (bit i = scanline i, read-and-clear).
  | { op: 'displayDamage' }
  // PS/2 input: keyboard scancode set 2 bytes, mouse moves (dy down-positive) with button state.
  | { op: 'input'; keys?: number[]; mouse?: MouseMove[] }
  | { op: 'abortForTest' };

/** One mouse report: relative move in pixels (dx right, dy down) and buttons (bit 0 left, 1 right, 2 middle). */
export interface MouseMove { dx: number; dy: number; buttons: number }
/** Bounds on one 'input' request (checked by the VM process; a request over them is refused whole). */
export const MAX_INPUT_KEYS = 64;
export const MAX_INPUT_MOUSE = 64;
/** Largest |dx| or |dy| of one mouse report (the device splits it into packets of at most 255, and clamps beyond this). */
export const MAX_MOUSE_DELTA = 4080;


/**
 * `pid` and `memfd` name the memfd as /proc/<pid>/fd/<memfd>, for mapGuestMemory in another process;
 * `slots` are every memory slot in it (RAM, and the framebuffer's when `display` is not null).
 */
export interface VmInfo { memBytes: number; vcpus: number; running: boolean; slots: MemorySlot[]; pid: number; memfd: number; display: DisplayInfo | null }

/** Flat metadata (name, guest, memory, …); the VM process stores it and hands it back, nothing more. */
export type VmMeta = { [key: string]: string | number | boolean | null };
/** Bound on one setMeta payload (serialised), so a controller cannot make the VM process hoard memory. */
export const MAX_META_BYTES = 16 * 1024;
/** Serial output kept while no controller is attached, sent in the next 'hello'. */
export const DETACHED_BACKLOG_BYTES = 64 * 1024;

/** What the VM process says about its VM when a controller attaches. */
export interface VmHostStatus { present: boolean; running: boolean; failure: string | null }

export interface VmHello {
  kind: 'hello'; pid: number; detached: boolean; meta: VmMeta | null; vm: VmHostStatus;
  /** Serial output produced while no controller was attached (at most DETACHED_BACKLOG_BYTES, newest kept). */
  backlog: Uint8Array;
}

export type VmReplyValue = BootInfo | VmInfo | VmMeta | { bytes: number; ms: number } | Uint8Array | null;

export type VmHostMessage =
  | { kind: 'reply'; id: number; ok: true; value: VmReplyValue }
  | { kind: 'reply'; id: number; ok: false; error: string }
  | { kind: 'event'; event: 'serial'; data: Uint8Array }
  | { kind: 'event'; event: 'reset' | 'shutdown' }
  | { kind: 'event'; event: 'error'; message: string }
  | VmHello
  | { kind: 'refused'; message: string };

export type VmHostRequest = { kind: 'request'; id: number; req: VmRequest };
