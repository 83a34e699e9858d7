// Bad input to the native core is refused with a clear message and never takes the process down.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { loadNative, addonPath, type NativeAddon, type NativeVm } from '../native/index.js';
import { requireKvm, requireRoot } from './support/kvm.js';

const MiB = 1024 * 1024;
const noEvents = (): void => {};

/** A multiboot image with the a.out kludge loading at `loadAddr` (code: hlt). */
function aoutKernel(loadAddr: number): Buffer {
  const img = Buffer.alloc(0x24);
  const magic = 0x1badb002, flags = 0x00010000;
  img.writeUInt32LE(magic, 0);
  img.writeUInt32LE(flags, 4);
  img.writeUInt32LE((-(magic + flags)) >>> 0, 8);
  img.writeUInt32LE(loadAddr, 12);
  img.writeUInt32LE(loadAddr, 16);
  img.writeUInt32LE(0, 20);
  img.writeUInt32LE(0, 24);
  img.writeUInt32LE(loadAddr + 0x20, 28);
  img[0x20] = 0xf4;
  return img;
}

describe('native core: clear errors for bad input', function () {
  let addon: NativeAddon;
  before(function () {
    requireKvm(this);
    addon = loadNative();
  });

  it('kvmStatus reports the KVM API version', () => {
    const s = addon.kvmStatus();
    assert.equal(s.ok, true);
    if (s.ok) assert.equal(s.apiVersion, 12);
  });

  describe('createVm', () => {
    const cases: [string, unknown, RegExp][] = [
      ['zero memory', { memBytes: 0 }, /memBytes must be greater than 0/],
      ['memory not a multiple of 2 MiB', { memBytes: 3 * MiB }, /memBytes 3145728 is not a multiple of 2 MiB/],
      ['memory given as a string', { memBytes: '64M' }, /config\.memBytes must be a number/],
      ['negative memory', { memBytes: -2 * MiB }, /config\.memBytes must be a non-negative integer/],
      ['fractional memory', { memBytes: 2 * MiB + 0.5 }, /config\.memBytes must be a non-negative integer/],
      ['zero vCPUs', { memBytes: 2 * MiB, vcpus: 0 }, /config\.vcpus 0 is out of range/],
      ['too many vCPUs', { memBytes: 2 * MiB, vcpus: 1000 }, /config\.vcpus 1000 is out of range/],
      ['no config object', null, /config must be an object/],
    ];
    for (const [what, config, message] of cases) {
      it(`refuses ${what}`, () => {
        assert.throws(() => addon.createVm(config as never, noEvents), message);
      });
    }

    it('refuses more memory than the host has, naming both sizes', () => {
      const tooMuch = Math.ceil((totalmem() * 2) / (2 * MiB)) * 2 * MiB;
      assert.throws(() => addon.createVm({ memBytes: tooMuch }, noEvents),
        new RegExp(`guest memory ${tooMuch} exceeds host RAM \\d+`));
    });

    it('refuses a missing event callback', () => {
      assert.throws(() => addon.createVm({ memBytes: 2 * MiB }, undefined as never), /onEvent must be a function/);
    });
  });

  describe('on a VM', () => {
    let vm: NativeVm;
    beforeEach(() => { vm = addon.createVm({ memBytes: 64 * MiB }, noEvents); });
    afterEach(() => vm.close());

    it('loadMultiboot refuses an empty image', () => {
      assert.throws(() => vm.loadMultiboot(Buffer.alloc(0), ''), /kernel image is empty/);
    });

    it('loadMultiboot refuses a file that is neither ELF nor multiboot', () => {
      assert.throws(() => vm.loadMultiboot(Buffer.from('#!/bin/sh\necho not a kernel\n'), ''),
        /not a multiboot kernel: not an ELF file and no multiboot v1 header/);
    });

    it('loadMultiboot refuses an ELF without a multiboot header', function () {
      if (!existsSync('/bin/true')) this.skip();
      assert.throws(() => vm.loadMultiboot(readFileSync('/bin/true'), ''), /ELF file has no multiboot v1 header/);
    });

    it('loadMultiboot refuses a kernel that would load outside guest RAM, leaving RAM untouched', () => {
      assert.throws(() => vm.loadMultiboot(aoutKernel(0x10000000), ''), /lies outside guest RAM \(64 MiB\)/);
      const bits = new Uint8Array(((64 * MiB) / 4096 / 64) * 8);
      vm.dirtyLog(0, bits, false);
      assert.ok(bits.every((b) => b === 0), 'nothing was written');
    });

    it('loadMultiboot refuses a truncated ELF', () => {
      const elf = Buffer.alloc(64);
      elf.write('\x7fELF', 0, 'latin1');
      elf[4] = 1; elf[5] = 1;
      const mb = aoutKernel(0x100000).subarray(0, 12); // header without the a.out flag
      mb.writeUInt32LE(0, 4);
      mb.writeUInt32LE((-0x1badb002) >>> 0, 8);
      mb.copy(elf, 52);
      assert.throws(() => vm.loadMultiboot(elf, ''), /ELF .*(no program headers|truncated|not x86)/);
    });

    it('loadMultiboot refuses an over-long command line', () => {
      assert.throws(() => vm.loadMultiboot(aoutKernel(0x100000), 'x'.repeat(5000)), /command line is too long \(5000 bytes/);
    });

    it('loadMultiboot refuses non-Buffer arguments', () => {
      assert.throws(() => vm.loadMultiboot('kernel' as never, ''), /loadMultiboot: kernel must be a Buffer or Uint8Array/);
      assert.throws(() => vm.loadMultiboot(Buffer.alloc(4), 5 as never), /loadMultiboot: cmdline must be a string/);
    });

    it('dirtyLog refuses a too-small buffer, a bad slot and a non-Uint8Array', () => {
      const need = ((64 * MiB) / 4096 / 64) * 8;
      assert.throws(() => vm.dirtyLog(0, new Uint8Array(need - 8), false), new RegExp(`holds ${need - 8} bytes; slot 0 needs ${need}`));
      assert.throws(() => vm.dirtyLog(1, new Uint8Array(need), false), /no RAM slot 1 \(this VM has slots 0, 2\)/);
      assert.throws(() => vm.dirtyLog(0, new Uint32Array(need) as never, false), /out must be a Uint8Array/);
      assert.throws(() => vm.memory(7), /memory: no RAM slot 7/);
    });

    it('dirtyLog accepts an unaligned Buffer view', () => {
      const need = ((64 * MiB) / 4096 / 64) * 8;
      const backing = Buffer.alloc(need + 3);
      vm.loadMultiboot(aoutKernel(0x100000), 'x');
      vm.dirtyLog(0, backing.subarray(3), false);
      assert.equal(backing.readUInt8(3 + (0x100000 / 4096 / 8)) & 1, 1, 'page 256 (1 MiB) reported');
    });

    it('setThrottle refuses shares outside 0..0.99', () => {
      assert.throws(() => vm.setThrottle(1.5), /throttle share .* is out of range/);
      assert.throws(() => vm.setThrottle(-0.1), /out of range/);
      assert.throws(() => vm.setThrottle(Number.NaN), /setThrottle: share must be finite/);
      vm.setThrottle(0.5);
      vm.setThrottle(0);
    });

    it('saveState needs a paused VM; restoreState needs a fresh one', () => {
      vm.loadMultiboot(aoutKernel(0x100000), '');
      assert.throws(() => vm.restoreState(Buffer.alloc(16)), /restoreState needs a fresh VM/);
      vm.start();
      assert.throws(() => vm.saveState(), /saveState needs a paused VM: call pause\(\) first/);
      assert.throws(() => vm.start(), /start must be called before start\(\)|already/);
      assert.throws(() => vm.loadMultiboot(aoutKernel(0x100000), ''), /loadMultiboot must be called before start\(\)/);
    });

    it('after close every method says the VM is closed, and RAM windows are detached', () => {
      const [w] = vm.memory(0);
      assert.equal(w.byteLength, 64 * MiB);
      vm.close();
      vm.close(); // idempotent
      assert.equal(w.byteLength, 0, 'window detached: no view reaches freed memory');
      assert.throws(() => vm.start(), /start: the VM is closed/);
      assert.throws(() => vm.slots(), /the VM is closed/);
      assert.equal(vm.isRunning(), false);
    });
  });

  it('without /dev/kvm, kvmStatus and createVm say so, naming /dev/kvm, and nothing crashes', function () {
    requireRoot(this, 'hiding /dev/kvm in a private mount namespace');
    // A child in its own mount namespace with an empty /dev: the host's /dev is untouched.
    const script = `const a = require(${JSON.stringify(addonPath())});
      const s = a.kvmStatus();
      let m = '';
      try { a.createVm({ memBytes: 2097152 }, () => {}); } catch (e) { m = e.message; }
      console.log(JSON.stringify({ s, m }));`;
    const r = spawnSync('unshare', ['-m', 'sh', '-c', 'mount -t tmpfs none /dev && exec "$0" -e "$1"', process.execPath, script],
      { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const { s, m } = JSON.parse(r.stdout) as { s: { ok: boolean; reason?: string }; m: string };
    assert.equal(s.ok, false);
    assert.match(s.reason ?? '', /open \/dev\/kvm failed: No such file or directory .*KVM is not available/);
    assert.match(m, /^createVm: open \/dev\/kvm failed/);
  });

  it('abortForTest kills only the process that calls it', () => {
    const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(addonPath())}).abortForTest()`], { encoding: 'utf8' });
    assert.equal(r.signal, 'SIGABRT');
  });
});
