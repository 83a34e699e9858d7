// roam's migration stream without KVM: a "VM" whose RAM is the repeated pattern block
// (read-only on the sender) and a destination that writes into one reusable buffer.
// With no dirty pages after round 0, sendVm sends every page once and commits: what is
// measured is the stream itself (page batches, zstd or not, Noise + Yamux, acks).
import type { HostCheck, IncomingVm, VmHandle, VmHost, VmSpec } from '../../migrate/index.js';

const STATE = new Uint8Array(64);

export function fakeSpec(id: string, memBytes: number): VmSpec {
  return { id, generation: 1, vcpus: 1, memBytes, slots: [{ slot: 0, guestPhysAddr: 0, size: memBytes }], cpuFeatures: [], devices: [] };
}

/** Source side: `memBytes` of RAM made of `block` repeated (memBytes must be a multiple of its length). */
export class PatternVm implements VmHandle {
  readonly spec: VmSpec;
  private running = true;
  private readonly windows: Uint8Array[];

  constructor(id: string, memBytes: number, block: Uint8Array) {
    if (memBytes % block.byteLength !== 0) throw new RangeError(`RAM of ${memBytes} bytes is not a whole number of ${block.byteLength}-byte blocks`);
    this.spec = fakeSpec(id, memBytes);
    this.windows = Array.from({ length: memBytes / block.byteLength }, () => block);
  }

  memory(slot: number): Uint8Array[] {
    if (slot !== 0) throw new RangeError(`no RAM slot ${slot}`);
    return this.windows;
  }
  async dirtyLog(_slot: number, out: Uint8Array): Promise<void> { out.fill(0); }
  async pause(): Promise<void> { this.running = false; }
  async resume(): Promise<void> { this.running = true; }
  isRunning(): boolean { return this.running; }
  async setThrottle(): Promise<void> { /* nothing runs */ }
  async saveState(): Promise<Uint8Array> { return STATE; }
}

/** Destination side: every arriving VM writes into the same buffer (one transfer at a time). */
export class BufferHost implements VmHost {
  private buf: Uint8Array | undefined;
  constructor(private readonly maxBytes: number) {}

  check(spec: VmSpec): HostCheck {
    if (spec.memBytes > this.maxBytes) return { ok: false, reason: `${spec.memBytes} bytes is more than this sink takes (${this.maxBytes})` };
    if (spec.slots.length !== 1 || spec.slots[0]!.guestPhysAddr !== 0 || spec.slots[0]!.size !== spec.memBytes) return { ok: false, reason: 'the sink takes one slot at 0' };
    return { ok: true };
  }

  async createPaused(spec: VmSpec): Promise<IncomingVm> {
    if (!this.buf || this.buf.byteLength < spec.memBytes) this.buf = new Uint8Array(spec.memBytes);
    const window = this.buf.subarray(0, spec.memBytes);
    let running = false;
    return {
      spec,
      memory: (slot: number) => { if (slot !== 0) throw new RangeError(`no RAM slot ${slot}`); return [window]; },
      restoreState: async () => undefined,
      start: async () => { running = true; },
      discard: async () => { running = false; },
      isRunning: () => running,
    };
  }
}
