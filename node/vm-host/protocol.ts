// The protocol between an agent (or the CLI) and one VM process, spoken over
// the VM process's unix socket in frames (framing.ts). Requests carry an id;
// every request gets exactly one reply. On connecting, the controller first
// gets a 'hello' (who the VM process is, the metadata its last controller gave
// it, serial output nobody has seen yet) or a 'refused' when another
// controller already holds it: one controller at a time.
import type { BootInfo, MemorySlot } from '../../native/index.js';

export type VmRequest =
  | { op: 'create'; memBytes: number; vcpus: number }
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
  | { op: 'abortForTest' };

/** `pid` and `memfd` name the RAM memfd as /proc/<pid>/fd/<memfd>, for mapGuestMemory in another process. */
export interface VmInfo { memBytes: number; vcpus: number; running: boolean; slots: MemorySlot[]; pid: number; memfd: number }

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
