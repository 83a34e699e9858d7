// Layers 1-2 of real-VM migration: a VM process's guest RAM mapped into this process
// (the same pages, both ways), and the IPC ops migration drives (dirty log, throttle,
// state) — checked against what the guest itself wrote.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeartbeatWatcher } from '../guest/index.js';
import { loadNative } from '../native/index.js';
import { MigratableVm, VmProcess, isaFlagsOf, mapVmMemory } from '../node/vm-host/index.js';
import { openImage } from '../node/vm-host/image-file.js';
import { requireKvm } from './support/kvm.js';
import { MiB, bootProbe, moreBeats, probeReady } from './migrate-real-support.js';

const PAGE = 4096;

function bit(bits: Uint8Array, page: number): boolean { return (bits[page >>> 3]! & (1 << (page & 7))) !== 0; }

describe('real VM migration, layers 1-2: mapped guest memory and migration IPC ops', function () {
  const procs: VmProcess[] = [];
  let dir = '';
  beforeEach(function () { requireKvm(this); dir = mkdtempSync(join(tmpdir(), 'roam-mr-')); });
  afterEach(async () => {
    await Promise.all(procs.splice(0).map((p) => p.kill()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('maps the RAM of a VM process: writes here are the VM process\'s bytes, and close() detaches the views', async () => {
    const proc = await VmProcess.spawn();
    procs.push(proc);
    // RAM only: the image below is read back slot for slot (the framebuffer has tests of its own).
    await proc.request({ op: 'create', memBytes: 8 * MiB, vcpus: 1, display: false });
    const info = await proc.request({ op: 'info' });
    assert.equal(info.pid, proc.pid);
    const map = mapVmMemory(info);
    const [win] = map.memory(0);
    assert.equal(win!.byteLength, 8 * MiB);
    const mem = new Uint8Array(win!);
    for (let p = 0; p < 2048; p += 97) mem.fill((p % 251) + 1, p * PAGE, p * PAGE + 64);
    // The VM process reads its own RAM to write an image: our bytes must be in it.
    await proc.request({ op: 'saveToFile', path: join(dir, 'vm.img') });
    const img = openImage(join(dir, 'vm.img'));
    const back = new ArrayBuffer(8 * MiB);
    img.readSlotsInto([{ slot: info.slots[0]!, windows: [back] }]);
    img.close();
    assert.ok(Buffer.from(back).equals(Buffer.from(mem)), 'the VM process sees exactly what was written through the mapping');
    assert.equal(map.memory(0)[0], win, 'windows are created once');
    map.close();
    assert.equal(mem.byteLength, 0, 'a view of a closed mapping is empty, not a dangling pointer');
    assert.equal(map.closed, true);
    map.close();
    assert.throws(() => map.memory(0), /closed/);
  });

  it('refuses bad mappings with errors that say what is wrong', () => {
    const addon = loadNative();
    assert.throws(() => addon.mapGuestMemory('/proc/self/fd/987654', [{ slot: 0, size: PAGE, memfdOffset: 0 }]), /open .*987654.*No such file/);
    const small = join(dir, 'small');
    writeFileSync(small, Buffer.alloc(PAGE));
    assert.throws(() => addon.mapGuestMemory(small, [{ slot: 0, size: 2 * PAGE, memfdOffset: 0 }]), /holds 4096 bytes but the slots need 8192/);
    assert.throws(() => addon.mapGuestMemory(small, [{ slot: 0, size: 100, memfdOffset: 0 }]), /page multiples/);
    assert.throws(() => addon.mapGuestMemory(small, []), /between 1 and 32 slots/);
    assert.throws(() => addon.mapGuestMemory(small, [{ slot: 0, size: PAGE, memfdOffset: 0 }, { slot: 0, size: PAGE, memfdOffset: 0 }]), /repeated/);
    assert.throws(() => addon.mapGuestMemory('/proc', [{ slot: 0, size: PAGE, memfdOffset: 0 }]), /open|not a memory file/);
    const ok = addon.mapGuestMemory(small, [{ slot: 3, size: PAGE, memfdOffset: 0 }]);
    assert.throws(() => ok.memory(0), /slot 0 is not mapped/);
    ok.close();
  });

  it('reads the guest\'s writes through the mapping, and the dirty log over IPC covers every page that changed', async () => {
    const watcher = new HeartbeatWatcher();
    const proc = await bootProbe(watcher, 'fill=16M ws=4M rate=8M beat=50ms entropy=0.3', 32 * MiB);
    procs.push(proc);
    await probeReady(watcher);
    const vm = await MigratableVm.attach(proc, { id: 'probe-mem', generation: 1 });
    assert.equal(vm.isRunning(), true);
    assert.ok(vm.spec.cpuFeatures.includes('lm'), `a long-mode guest's spec names lm: ${vm.spec.cpuFeatures.join(' ')}`);
    const slot = vm.spec.slots[0]!;
    const pages = slot.size / PAGE;
    const bits = new Uint8Array(Math.ceil(pages / 64) * 8);
    const mem = vm.memory(0)[0]!;
    let nonZero = 0;
    for (let p = 0; p < pages; p++) if (mem.subarray(p * PAGE, (p + 1) * PAGE).some((b) => b !== 0)) nonZero++;
    assert.ok(nonZero >= (16 * MiB) / PAGE, `the 16 MiB fill is visible here (${nonZero} non-zero pages)`);

    await vm.dirtyLog(0, bits, true);
    const before = Buffer.from(mem);
    await moreBeats(watcher, 6);
    await vm.pause();
    assert.equal(vm.isRunning(), false);
    await vm.dirtyLog(0, bits, false);
    let changed = 0, missed = 0, dirty = 0;
    for (let p = 0; p < pages; p++) {
      if (bit(bits, p)) dirty++;
      if (!before.subarray(p * PAGE, (p + 1) * PAGE).equals(mem.subarray(p * PAGE, (p + 1) * PAGE))) { changed++; if (!bit(bits, p)) missed++; }
    }
    assert.ok(changed > 100, `the working set was rewritten (${changed} pages changed)`);
    assert.equal(missed, 0, `${missed} of ${changed} changed pages were not in the dirty log`);
    assert.ok(dirty < pages / 2, `the log is not simply all ones (${dirty} of ${pages})`);

    // Paused: the state can be saved; running: it cannot. Bad throttle values are refused clearly.
    const state = await vm.saveState();
    assert.ok(state.byteLength > 1000, 'machine state has bytes');
    assert.equal(loadNative().describeState(Buffer.from(state)).major >= 1, true);
    await assert.rejects(vm.setThrottle(1.5), /share must be a number in 0\.\.0\.99/);
    await vm.setThrottle(0.5);
    await vm.resume();
    await assert.rejects(vm.saveState(), /running/);
    await vm.setThrottle(0);
    await moreBeats(watcher, 2);
    assert.equal(watcher.corruptPage, undefined);
    assert.equal(watcher.gaps, 0);
    await vm.release();
    assert.equal(proc.alive, false);
    assert.throws(() => vm.memory(0), /released/);
  });

  it('takes the CPU features from /proc/cpuinfo ISA flags only', () => {
    const flags = isaFlagsOf('processor : 0\nflags\t\t: fpu sse2 lm hypervisor constant_tsc avx2 ibrs\n');
    assert.deepEqual(flags, ['fpu', 'sse2', 'lm', 'avx2']);
    assert.deepEqual(isaFlagsOf('no flags here'), []);
  });
});
