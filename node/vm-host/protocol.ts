// The IPC protocol between an agent (or the CLI) and one VM process. The
// channel is Node's fork() IPC with 'advanced' serialisation, so Buffers cross
// it as bytes. Requests carry an id; every request gets exactly one reply.
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
  // Migration (the agent maps the RAM memfd itself, see VmInfo.pid/memfd):
  | { op: 'dirtyLog'; slot: number; clear: boolean }
  | { op: 'setThrottle'; share: number }
  | { op: 'saveState' }
  | { op: 'restoreState'; state: Uint8Array }
  | { op: 'abortForTest' };

/** `pid` and `memfd` name the RAM memfd as /proc/<pid>/fd/<memfd>, for mapGuestMemory in another process. */
export interface VmInfo { memBytes: number; vcpus: number; running: boolean; slots: MemorySlot[]; pid: number; memfd: number }

export type VmReplyValue = BootInfo | VmInfo | { bytes: number; ms: number } | Uint8Array | null;

export type VmHostMessage =
  | { kind: 'reply'; id: number; ok: true; value: VmReplyValue }
  | { kind: 'reply'; id: number; ok: false; error: string }
  | { kind: 'event'; event: 'serial'; data: Uint8Array }
  | { kind: 'event'; event: 'reset' | 'shutdown' }
  | { kind: 'event'; event: 'error'; message: string }
  | { kind: 'ready' };

export type VmHostRequest = { kind: 'request'; id: number; req: VmRequest };
