// The probe guest on roam's native core, in this process: the NativeVm
// itself, for figures where a process boundary would only add noise.
import { readFileSync } from 'node:fs';
import { probeGuestPath } from '../../guest/index.js';
import { loadNative, type NativeVm, type VmEvent } from '../../native/index.js';
import { GuestOutput } from './guest-output.js';

export interface InProcessProbe {
  vm: NativeVm;
  out: GuestOutput;
  /** Highest event seq delivered to this process so far. */
  delivered(): number;
}

/**
 * Pauses the VM and waits until every event it queued before stopping has been delivered, so the
 * heartbeat count seen here is the guest's count at the pause (events arrive asynchronously).
 */
export async function pauseAndDrain(p: InProcessProbe): Promise<void> {
  const last = p.vm.pause();
  const deadline = Date.now() + 5000;
  while (p.delivered() < last) {
    if (Date.now() > deadline) throw new Error(`events up to ${last} were not delivered within 5 s (at ${p.delivered()})`);
    await new Promise((r) => setImmediate(r));
  }
}

let kernel: Buffer | undefined;
export function probeKernel(): Buffer {
  kernel ??= readFileSync(probeGuestPath());
  return kernel;
}

/** Creates a VM of `memBytes`, loads the probe guest with `cmdline` and starts it (does not wait). */
export function startInProcess(memBytes: number, cmdline: string, name: string): InProcessProbe {
  const native = loadNative();
  const status = native.kvmStatus();
  if (!status.ok) throw new Error(`KVM is not usable: ${status.reason}`);
  const out = new GuestOutput(name);
  let delivered = 0;
  // No framebuffer: the QEMU side runs with -nodefaults (no VGA); like for like.
  const vm = native.createVm({ memBytes, vcpus: 1, display: false }, (e: VmEvent) => {
    delivered = Math.max(delivered, e.seq);
    if (e.type === 'serial') out.push(e.data);
    else if (e.type === 'error') out.die(`VM error: ${e.message}`);
    else out.die(`VM ${e.type}${e.type === 'shutdown' && e.detail ? ` (${e.detail})` : ''}`);
  });
  try {
    vm.loadMultiboot(probeKernel(), cmdline);
    vm.start();
  } catch (e) {
    vm.close();
    throw e;
  }
  return { vm, out, delivered: () => delivered };
}

/** A fresh, never-started VM of the same shape (for restoreState). */
export function createBlank(memBytes: number, name: string): InProcessProbe {
  const out = new GuestOutput(name);
  let delivered = 0;
  const vm = loadNative().createVm({ memBytes, vcpus: 1, display: false }, (e: VmEvent) => {
    delivered = Math.max(delivered, e.seq);
    if (e.type === 'serial') out.push(e.data);
    else if (e.type === 'error') out.die(`VM error: ${e.message}`);
    else out.die(`VM ${e.type}`);
  });
  return { vm, out, delivered: () => delivered };
}

/** Copies all guest RAM of `from` into `to` (same layout) through the memory windows. */
export function copyRam(from: NativeVm, to: NativeVm): void {
  for (const slot of from.slots()) {
    const src = from.memory(slot.slot);
    const dst = to.memory(slot.slot);
    src.forEach((w, i) => new Uint8Array(dst[i]!).set(new Uint8Array(w)));
  }
}
