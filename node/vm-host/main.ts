// The VM process: one per VM. It loads the native KVM core, owns exactly one
// VM and is driven by its parent over fork() IPC (see protocol.ts). A crash
// here (even an abort() in native code) ends this process only; the parent
// sees the exit and reports it.
import { readFileSync } from 'node:fs';
import { loadNative, type NativeVm, type VmEvent } from '../../native/index.js';
import type { VmHostMessage, VmHostRequest, VmReplyValue, VmRequest } from './protocol.js';
import { openImage, writeImage } from './image-file.js';

const addon = loadNative();
let vm: NativeVm | undefined;
// Highest event number forwarded to the parent, and who waits for a number.
let delivered = 0;
const waiters: { seq: number; resolve: () => void }[] = [];

function send(msg: VmHostMessage): void {
  process.send?.(msg);
}

function onVmEvent(e: VmEvent): void {
  switch (e.type) {
    case 'serial': send({ kind: 'event', event: 'serial', data: e.data }); break;
    case 'error': send({ kind: 'event', event: 'error', message: e.message }); break;
    default: send({ kind: 'event', event: e.type });
  }
  delivered = Math.max(delivered, e.seq);
  for (let i = waiters.length - 1; i >= 0; i--) {
    if (waiters[i]!.seq <= delivered) waiters.splice(i, 1)[0]!.resolve();
  }
}

/**
 * Pauses the VM and waits until every event it queued before stopping has been
 * forwarded: the parent then holds all console output up to the pause, even if
 * it kills this process right after the reply.
 */
async function pauseAndDrain(v: NativeVm): Promise<void> {
  const last = v.pause();
  if (last <= delivered) return;
  await new Promise<void>((resolve) => waiters.push({ seq: last, resolve }));
}

function requireVm(): NativeVm {
  if (!vm) throw new Error('no VM in this process yet (send "create" or "restoreFromFile" first)');
  return vm;
}

function slotWindows(v: NativeVm) {
  return v.slots().map((slot) => ({ slot, windows: v.memory(slot.slot) }));
}

function createVm(memBytes: number, vcpus: number): NativeVm {
  if (vm) throw new Error('this VM process already holds a VM');
  const status = addon.kvmStatus();
  if (!status.ok) throw new Error(status.reason);
  vm = addon.createVm({ memBytes, vcpus }, onVmEvent);
  return vm;
}

async function handle(req: VmRequest): Promise<VmReplyValue> {
  switch (req.op) {
    case 'create':
      createVm(req.memBytes, req.vcpus);
      return null;
    case 'loadMultiboot': {
      let kernel: Buffer;
      try { kernel = readFileSync(req.kernelPath); } catch (e) {
        throw new Error(`cannot read guest kernel ${req.kernelPath}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      return requireVm().loadMultiboot(kernel, req.cmdline);
    }
    case 'start': requireVm().start(); return null;
    case 'pause': await pauseAndDrain(requireVm()); return null;
    case 'resume': requireVm().resume(); return null;
    case 'info': {
      const v = requireVm();
      return { memBytes: v.memBytes, vcpus: v.vcpus, running: v.isRunning(), slots: v.slots(), pid: process.pid, memfd: v.memfd() };
    }
    case 'saveToFile': {
      const v = requireVm();
      const t0 = Date.now();
      await pauseAndDrain(v);
      const state = v.saveState();
      const { bytes } = writeImage(req.path, { memBytes: v.memBytes, vcpus: v.vcpus, state, slots: slotWindows(v) });
      return { bytes, ms: Date.now() - t0 };
    }
    case 'restoreFromFile': {
      const t0 = Date.now();
      const image = openImage(req.path);
      try {
        const v = createVm(image.memBytes, image.vcpus);
        image.readSlotsInto(slotWindows(v));
        v.restoreState(image.state);
      } catch (e) {
        vm?.close();
        vm = undefined;
        throw e;
      } finally {
        image.close();
      }
      return { bytes: image.memBytes, ms: Date.now() - t0 };
    }
    case 'dirtyLog': {
      const v = requireVm();
      const slot = v.slots().find((s) => s.slot === req.slot);
      if (!slot) throw new Error(`dirtyLog: no RAM slot ${req.slot} (this VM has ${v.slots().map((s) => s.slot).join(', ')})`);
      const out = Buffer.alloc(Math.ceil(slot.size / 4096 / 64) * 8);
      v.dirtyLog(req.slot, out, req.clear === true);
      return out;
    }
    case 'setThrottle':
      if (typeof req.share !== 'number' || !(req.share >= 0 && req.share <= 0.99)) {
        throw new Error(`setThrottle: share must be a number in 0..0.99, got ${String(req.share)}`);
      }
      requireVm().setThrottle(req.share);
      return null;
    case 'saveState': {
      const v = requireVm();
      if (v.isRunning()) throw new Error('saveState: the VM is running (pause it first)');
      return v.saveState();
    }
    case 'restoreState': {
      const v = requireVm();
      if (v.isRunning()) throw new Error('restoreState: the VM is running (restore only into a VM created paused)');
      if (!(req.state instanceof Uint8Array)) throw new Error('restoreState: state must be bytes');
      v.restoreState(Buffer.from(req.state.buffer, req.state.byteOffset, req.state.byteLength));
      return null;
    }
    case 'close':
      vm?.close();
      vm = undefined;
      return null;
    case 'abortForTest':
      return addon.abortForTest();
  }
}

// Requests run one at a time, in order: a VM is never asked to save while it is still loading.
let queue: Promise<void> = Promise.resolve();
process.on('message', (raw: unknown) => {
  const msg = raw as VmHostRequest;
  if (msg?.kind !== 'request' || typeof msg.id !== 'number') return;
  queue = queue.then(async () => {
    try {
      send({ kind: 'reply', id: msg.id, ok: true, value: await handle(msg.req) });
    } catch (e) {
      send({ kind: 'reply', id: msg.id, ok: false, error: (e as Error).message });
    }
  });
});

// Without a parent there is nobody to obey: a VM process never outlives its channel.
process.on('disconnect', () => {
  vm?.close();
  process.exit(0);
});

send({ kind: 'ready' });
