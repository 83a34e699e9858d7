// Dirty-page tracking in the native core: KVM's dirty log for guest writes, OR'd with the VMM's own
// bitmap for pages host code wrote (the multiboot loader here), and the RAM windows JS reads the
// guest's pages through.
import assert from 'node:assert/strict';
import { HeartbeatWatcher } from '../guest/index.js';
import { loadNative, type NativeVm, type VmEvent } from '../native/index.js';
import { requireKvm } from './support/kvm.js';
import { requireProbe } from './support/probe.js';

const MiB = 1024 * 1024;
const PAGE = 4096;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function bitmapFor(vm: NativeVm, slot: number): Uint8Array {
  const s = vm.slots().find((x) => x.slot === slot)!;
  return new Uint8Array(Math.ceil(s.size / PAGE / 64) * 8);
}

/** Page numbers whose bit is set. */
function pagesOf(bits: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < bits.length; i++) {
    if (!bits[i]) continue;
    for (let b = 0; b < 8; b++) if (bits[i] & (1 << b)) out.push(i * 8 + b);
  }
  return out;
}

function read(vm: NativeVm, slot: number, clear: boolean): number[] {
  const bits = bitmapFor(vm, slot);
  vm.dirtyLog(slot, bits, clear);
  return pagesOf(bits);
}

/** Serial output through the probe's watcher (lines, heartbeats), plus non-serial events. */
class Console {
  readonly watcher = new HeartbeatWatcher();
  readonly lines: string[] = [];
  readonly others: VmEvent[] = [];
  constructor() { this.watcher.on('line', (l: string) => this.lines.push(l)); }
  readonly onEvent = (e: VmEvent): void => {
    if (e.type === 'serial') this.watcher.push(e.data);
    else this.others.push(e);
  };
  beats(): number { return this.watcher.heartbeats; }
  async until(what: string, cond: () => boolean, limitMs = 20_000): Promise<void> {
    const t0 = Date.now();
    while (!cond()) {
      if (this.others.length) throw new Error(`VM event while waiting for ${what}: ${JSON.stringify(this.others)}`);
      if (Date.now() - t0 > limitMs) throw new Error(`timed out waiting for ${what}; output:\n${this.lines.join('\n')}`);
      await sleep(10);
    }
  }
}

/** Boots the probe and waits until its fill is done and the steady workload runs. */
async function bootProbe(probe: Buffer, cmdline: string): Promise<{ vm: NativeVm; con: Console; loadEnd: number }> {
  const con = new Console();
  const vm = loadNative().createVm({ memBytes: 128 * MiB }, con.onEvent);
  const { loadEnd } = vm.loadMultiboot(probe, cmdline);
  vm.start();
  // 'PROBE ready' ends the fill; from then on only the working-set rewrite writes memory.
  await con.until('PROBE ready', () => con.watcher.ready);
  const beats = con.beats();
  await con.until('a heartbeat after ready', () => con.beats() > beats);
  return { vm, con, loadEnd };
}

/** Dirty pages of slot 0 over `ms` of guest running time, bracketed by pause + clear. */
async function dirtyOver(vm: NativeVm, ms: number): Promise<number[]> {
  vm.pause();
  read(vm, 0, true);
  vm.resume();
  await sleep(ms);
  vm.pause();
  const pages = read(vm, 0, true);
  vm.resume();
  return pages;
}

describe('native core: dirty log and RAM windows', function () {
  let probe: Buffer;
  before(function () {
    requireKvm(this);
    probe = requireProbe(this);
  });

  it('reports the pages the multiboot loader wrote (VMM bitmap), clears them, and reports a reload again', () => {
    const vm = loadNative().createVm({ memBytes: 32 * MiB }, () => {});
    try {
      const { loadEnd } = vm.loadMultiboot(probe, 'loader-test');
      const first = read(vm, 0, false);
      const kernelPages = new Set<number>();
      for (let p = 0x100000 / PAGE; p < Math.ceil(loadEnd / PAGE); p++) kernelPages.add(p);
      for (const p of kernelPages) assert.ok(first.includes(p), `kernel page ${p} reported`);
      assert.ok(first.includes(0x9000 / PAGE), 'the multiboot info page is reported');
      const unrelated = first.filter((p) => !kernelPages.has(p) && p >= 0x100000 / PAGE);
      assert.deepEqual(unrelated, [], 'nothing above 1 MiB outside the kernel image');
      assert.deepEqual(read(vm, 0, false), first, 'reading without clear keeps the bits');
      assert.deepEqual(read(vm, 0, true), first, 'a clearing read still reports them once');
      assert.deepEqual(read(vm, 0, false), [], 'after the clear nothing is dirty');
      vm.loadMultiboot(probe, 'loader-test again');
      assert.deepEqual(read(vm, 0, true), first, 'loading again marks the same pages again');
    } finally {
      vm.close();
    }
  });

  it('RAM windows show the guest\'s pages: the multiboot command line and the loaded kernel bytes', () => {
    const vm = loadNative().createVm({ memBytes: 32 * MiB }, () => {});
    try {
      const cmdline = `roam-window-test ${process.pid}`;
      vm.loadMultiboot(probe, cmdline);
      const windows = vm.memory(0);
      assert.equal(windows.length, 1);
      assert.equal(windows[0].byteLength, 32 * MiB);
      assert.strictEqual(vm.memory(0)[0], windows[0], 'the same window object each time');
      const ram = Buffer.from(windows[0]);
      const at = ram.indexOf(Buffer.from(cmdline + '\0', 'latin1'));
      assert.ok(at > 0 && at < 0x100000, `command line found below 1 MiB (at ${at})`);
      // multiboot_info.cmdline (offset 16) points at it; the info address is in the loader's area.
      const info = ram.indexOf(Buffer.from([0x45, 0x10, 0, 0]), 0x9000); // flags MEM|CMDLINE|MMAP|FRAMEBUFFER
      assert.equal(info, 0x9000);
      assert.equal(ram.readUInt32LE(info + 16), at);
      assert.equal(ram.readUInt32LE(info + 8), (32 * MiB - MiB) / 1024, 'mem_upper in KiB');
      // A write through the window is what the guest sees (same mapping): visible on re-read.
      new Uint8Array(windows[0])[0x200000] = 0xab;
      assert.equal(Buffer.from(vm.memory(0)[0])[0x200000], 0xab);
    } finally {
      vm.close();
    }
  });

  it('splits RAM around the 3..4 GiB hole into two slots with 1 GiB windows', () => {
    const vm = loadNative().createVm({ memBytes: 3 * 1024 * MiB + 4 * MiB }, () => {});
    try {
      assert.deepEqual(vm.slots(), [
        { slot: 0, guestPhysAddr: 0, size: 3 * 1024 * MiB, memfdOffset: 0, kind: 'ram' },
        { slot: 1, guestPhysAddr: 4 * 1024 * MiB, size: 4 * MiB, memfdOffset: 3 * 1024 * MiB, kind: 'ram' },
        // The framebuffer lies in the hole, but in the memfd after all of RAM.
        { slot: 2, guestPhysAddr: 0xe0000000, size: 3 * MiB, memfdOffset: 3 * 1024 * MiB + 4 * MiB, kind: 'framebuffer' },
      ]);
      assert.deepEqual(vm.memory(0).map((w) => w.byteLength), [1024 * MiB, 1024 * MiB, 1024 * MiB]);
      assert.deepEqual(vm.memory(1).map((w) => w.byteLength), [4 * MiB]);
      assert.equal(bitmapFor(vm, 1).length, 128, '1024 pages = 16 u64 words = 128 bytes');
      assert.deepEqual(read(vm, 1, false), [], 'nothing written in the high slot');
    } finally {
      vm.close();
    }
  });

  it('a running guest\'s dirty pages lie in its working set, plus a few stated others', async function () {
    const { vm, con } = await bootProbe(probe, 'fill=16M ws=2M rate=32M beat=50ms');
    try {
      const layout = con.lines.find((l) => l.startsWith('PROBE layout'));
      assert.ok(layout, 'the probe printed its layout');
      const firstFill = Number(/first_fill_page=(\d+)/.exec(layout)![1]);
      const tableAt = Number(/table=(0x[0-9a-f]+|\d+)/.exec(layout)![1]);
      const tableBytes = Number(/table_bytes=(\d+)/.exec(layout)![1]);
      assert.ok(firstFill > 0, `the probe placed its fill: ${layout}`);
      const wsPages = (2 * MiB) / PAGE;
      const inWs = (p: number): boolean => p >= firstFill && p < firstFill + wsPages;
      const inTable = (p: number): boolean => p >= tableAt / PAGE && p < (tableAt + tableBytes) / PAGE;

      const dirty = await dirtyOver(vm, 300);
      const ws = dirty.filter(inWs);
      const table = dirty.filter((p) => !inWs(p) && inTable(p));
      const others = dirty.filter((p) => !inWs(p) && !inTable(p));
      // 300 ms at 32 MiB/s rewrites the 2 MiB working set several times over.
      assert.ok(ws.length >= wsPages / 2, `working-set pages dirtied: ${ws.length} of ${wsPages}`);
      // Others (4 here): the stack and the kernel's data/bss (tick counter, heartbeat state).
      assert.ok(others.length <= 8, `pages dirtied outside working set and checksum table: ${others.length} (${others.slice(0, 40).join(',')})`);
      assert.ok(table.length <= Math.ceil(tableBytes / PAGE), 'checksum-table pages are within the table');
    } finally {
      vm.close();
    }
  });

  it('an idle guest (rate=0) dirties almost nothing after a clear', async function () {
    const { vm } = await bootProbe(probe, 'fill=8M ws=2M rate=0 beat=50ms');
    try {
      const dirty = await dirtyOver(vm, 300);
      // The timer ISR's tick counter, the heartbeat's stack and buffers: 4 pages here.
      assert.ok(dirty.length <= 8, `idle guest dirtied ${dirty.length} pages: ${dirty.join(',')}`);
    } finally {
      vm.close();
    }
  });
});
