// The VM process: one per VM. It loads the native KVM core, owns exactly one
// VM and is driven by one controller at a time over its unix socket (see
// protocol.ts, framing.ts, control-socket.ts). A crash here (even an abort()
// in native code) ends this process only; the controller sees it go.
//
//   node main.js --socket PATH [--detached] [--ready-fd N]
//
// --detached (roamd's VMs): the VM keeps running when its controller goes
// away, so a restarted roamd can attach again. Without it (`roam boot`, tests)
// the VM process ends with its controller, so none outlives a dead parent.
import { readFileSync } from 'node:fs';
import { serialize } from 'node:v8';
import { DISPLAY_DAMAGE_BYTES, loadNative, type NativeVm, type VmEvent } from '../../native/index.js';
import { MAX_META_BYTES, type VmHostMessage, type VmInfo, type VmMeta, type VmReplyValue, type VmRequest } from './protocol.js';
import { checkInput } from './input-check.js';
import { openImage, writeImage } from './image-file.js';
import { ControlSocket, parseHostArgs } from './control-socket.js';

const args = parseHostArgs(process.argv.slice(2));
// Whatever this process creates (its socket first of all) is for its owner only.
process.umask(0o077);
const addon = loadNative();
let vm: NativeVm | undefined;
let meta: VmMeta | null = null;
/** Why the VM stopped on its own (vCPU error, guest shutdown), told to a controller that attaches later. */
let failure: string | null = null;
// Highest event number forwarded to the controller (or the backlog), and who waits for a number.
let delivered = 0;
const waiters: { seq: number; resolve: () => void }[] = [];

function send(msg: VmHostMessage): void {
  control.send(msg);
}

function onVmEvent(e: VmEvent): void {
  switch (e.type) {
    case 'serial': send({ kind: 'event', event: 'serial', data: e.data }); break;
    case 'error': failure = `the VM stopped: ${e.message}`; send({ kind: 'event', event: 'error', message: e.message }); break;
    default:
      if (e.type === 'shutdown') failure = 'the guest shut down';
      send({ kind: 'event', event: e.type });
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

function createVm(memBytes: number, vcpus: number, display: boolean): NativeVm {
  if (vm) throw new Error('this VM process already holds a VM');
  const status = addon.kvmStatus();
  if (!status.ok) throw new Error(status.reason);
  vm = addon.createVm({ memBytes, vcpus, display }, onVmEvent);
  return vm;
}

function infoOf(v: NativeVm): VmInfo {
  return { memBytes: v.memBytes, vcpus: v.vcpus, running: v.isRunning(), slots: v.slots(), pid: process.pid, memfd: v.memfd(), display: v.display() };
}

async function handle(req: VmRequest): Promise<VmReplyValue> {
  switch (req.op) {
    case 'create': {
      const display = (req as { display?: unknown }).display ?? true;
      if (typeof display !== 'boolean') throw new Error(`create: display must be true or false, got ${typeof display}`);
      createVm(req.memBytes, req.vcpus, display);
      return null;
    }
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
    case 'info':
      return infoOf(requireVm());
    case 'saveToFile': {
      const v = requireVm();
      const t0 = Date.now();
      await pauseAndDrain(v);
      const state = v.saveState();
      const { bytes } = writeImage(req.path, { memBytes: v.memBytes, vcpus: v.vcpus, display: v.display() !== null, state, slots: slotWindows(v) });
      return { bytes, ms: Date.now() - t0 };
    }
    case 'restoreFromFile': {
      const t0 = Date.now();
      const image = openImage(req.path);
      try {
        const v = createVm(image.memBytes, image.vcpus, image.display);
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
      if (!slot) throw new Error(`dirtyLog: no memory slot ${req.slot} (this VM has ${v.slots().map((s) => s.slot).join(', ')})`);
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
      // The reply goes out, then this process ends (control.afterReply) and takes its socket with it.
      closing = true;
      return null;
    case 'setMeta': {
      const m = req.meta as unknown;
      if (typeof m !== 'object' || m === null || Array.isArray(m)) throw new Error('setMeta: meta must be a flat object');
      for (const [k, val] of Object.entries(m)) {
        if (val !== null && !['string', 'number', 'boolean'].includes(typeof val)) throw new Error(`setMeta: meta.${k} must be a string, number, boolean or null`);
      }
      const bytes = serialize(m).length;
      if (bytes > MAX_META_BYTES) throw new Error(`setMeta: meta of ${bytes} bytes exceeds ${MAX_META_BYTES}`);
      meta = { ...(m as VmMeta) };
      return null;
    }
    case 'meta':
      return meta;
    case 'detach':
      control.release();
      return null;
    case 'displayDamage': {
      const v = requireVm();
      if (!v.display()) throw new Error('displayDamage: this VM has no display (it was created with display off)');
      const out = Buffer.alloc(DISPLAY_DAMAGE_BYTES);
      v.displayDamage(out);
      return out;
    }
    case 'input': {
      const v = requireVm();
      const { keys, mouse } = checkInput(req);
      if (keys.length) v.keyboardInput(keys);
      for (const m of mouse) v.mouseInput(m.dx, m.dy, m.buttons);
      return null;
    }
    case 'abortForTest':
      return addon.abortForTest();
    default:
      throw new Error(`unknown request '${String((req as { op: unknown }).op)}'`);
  }
}

let closing = false;

function shutdown(why: string): never {
  if (why) console.error(`vm-host ${process.pid}: ${why}`);
  try { vm?.close(); } catch { /* exiting anyway */ }
  vm = undefined;
  control.removeSocket();
  process.exit(0);
}

// Requests run one at a time, in order: a VM is never asked to save while it is still loading.
let queue: Promise<void> = Promise.resolve();
const control = new ControlSocket(args, {
  hello: () => ({ pid: process.pid, detached: args.detached, meta, vm: { present: vm !== undefined, running: vm?.isRunning() ?? false, failure } }),
  onRequest: (id, req, from) => {
    // A reply goes only to the connection that asked: a later controller never sees a stale answer under its own id.
    queue = queue.then(async () => {
      try {
        control.reply(from, { kind: 'reply', id, ok: true, value: await handle(req) });
      } catch (e) {
        control.reply(from, { kind: 'reply', id, ok: false, error: (e as Error).message });
      }
      if (closing) await control.flush().then(() => shutdown(''));
    }).catch((e: Error) => console.error(`vm-host ${process.pid}: could not answer '${req.op}': ${e.message}`));
  },
  // Without --detached nobody is left to obey: the VM process does not outlive its controller.
  onControllerGone: () => { if (!args.detached) shutdown(''); },
  // Detached and its socket deleted (its state directory removed): nobody can ever reach it again.
  onUnreachable: () => shutdown(`socket ${args.socket} is gone and no controller is attached; closing the VM`),
});
try {
  await control.listen();
} catch (e) {
  console.error(`vm-host: cannot listen on ${args.socket}: ${(e as Error).message}`);
  process.exit(1);
}
// Asked to end (systemd, `kill`): close the VM and take the socket along.
process.on('SIGTERM', () => shutdown('SIGTERM'));
control.signalReady();
