// The Linux bzImage loader (64-bit boot protocol) on a synthetic bzImage built here: a correct setup
// header and a recognisable payload. Stock kernels cannot boot on this nested KVM, so the test checks
// what the loader prepared: the zero page (boot_params) fields, the addresses, the entry registers,
// and -- in a real VM's RAM -- the command line, kernel, initrd, page tables and GDT at those addresses.
import assert from 'node:assert/strict';
import { loadNative, type BzImageSetup } from '../native/index.js';
import { requireKvm } from './support/kvm.js';

const KiB = 1024;
const MiB = 1024 * KiB;

interface FakeKernel {
  version?: number; setupSects?: number; xloadflags?: number; loadflags?: number; relocatable?: boolean;
  prefAddress?: number; alignment?: number; initSize?: number; cmdlineSize?: number; initrdAddrMax?: number;
  payloadBytes?: number; syssizeBytes?: number;
}

/** A bzImage as the boot protocol lays it out: boot sector + setup sectors, then the protected-mode payload. */
function fakeBzImage(o: FakeKernel = {}): Buffer {
  const setupSects = o.setupSects ?? 4;
  const setupBytes = ((setupSects || 4) + 1) * 512;
  const payloadBytes = o.payloadBytes ?? 64 * KiB;
  const k = Buffer.alloc(setupBytes + payloadBytes);
  k[0x1f1] = setupSects;
  k.writeUInt32LE(Math.ceil((o.syssizeBytes ?? payloadBytes) / 16), 0x1f4);
  k.writeUInt16LE(0xaa55, 0x1fe);
  k[0x200] = 0xeb;                         // jmp short: its offset says where the setup header ends
  k[0x201] = 0x6a;                         // header up to 0x26c (protocol 2.15)
  k.write('HdrS', 0x202, 'latin1');
  k.writeUInt16LE(o.version ?? 0x020f, 0x206);
  k.writeUInt16LE(0x1234, 0x20e);          // kernel_version pointer: copied through untouched
  k[0x211] = o.loadflags ?? 0x01;          // LOADED_HIGH
  k.writeUInt32LE(0x100000, 0x214);        // code32_start
  k.writeUInt32LE(o.initrdAddrMax ?? 0x7fffffff, 0x22c);
  k.writeUInt32LE(o.alignment ?? 2 * MiB, 0x230);
  k[0x234] = (o.relocatable ?? true) ? 1 : 0;
  k.writeUInt16LE(o.xloadflags ?? 0x03, 0x236);   // XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G
  k.writeUInt32LE(o.cmdlineSize ?? 2047, 0x238);
  k.writeBigUInt64LE(BigInt(o.prefAddress ?? 16 * MiB), 0x258);
  k.writeUInt32LE(o.initSize ?? 4 * MiB, 0x260);
  for (let i = 0; i < payloadBytes; i++) k[setupBytes + i] = (i * 7 + 3) & 0xff;
  return k;
}

function payloadOf(kernel: Buffer): Buffer {
  return kernel.subarray(((kernel[0x1f1] || 4) + 1) * 512);
}

function checkZeroPage(s: BzImageSetup, kernel: Buffer, cmdline: string, initrdLen: number): void {
  const zp = s.zeroPage;
  assert.equal(zp.length, 4096);
  // The setup header is copied from the file...
  assert.equal(zp.readUInt16LE(0x1fe), 0xaa55);
  assert.equal(zp.subarray(0x202, 0x206).toString('latin1'), 'HdrS');
  assert.equal(zp.readUInt16LE(0x206), kernel.readUInt16LE(0x206));
  assert.equal(zp.readUInt16LE(0x20e), 0x1234);
  assert.equal(zp.readUInt32LE(0x238), kernel.readUInt32LE(0x238));
  // ...then what the loader decided.
  assert.equal(zp[0x210], 0xff, 'type_of_loader');
  assert.equal(zp[0x211]! & 0x81, 0x81, 'loadflags LOADED_HIGH | CAN_USE_HEAP');
  assert.ok(zp.readUInt16LE(0x224) > 0, 'heap_end_ptr');
  assert.equal(zp.readUInt32LE(0x228) + zp.readUInt32LE(0x0c8) * 2 ** 32, s.cmdlineAddr, 'cmd_line_ptr');
  assert.equal(zp.readUInt32LE(0x218) + zp.readUInt32LE(0x0c0) * 2 ** 32, s.initrdAddr, 'ramdisk_image');
  assert.equal(zp.readUInt32LE(0x21c) + zp.readUInt32LE(0x0c4) * 2 ** 32, initrdLen, 'ramdisk_size');
  assert.equal(zp[0x1e8], s.e820.length, 'e820_entries');
  s.e820.forEach((e, i) => {
    const at = 0x2d0 + i * 20;
    assert.equal(Number(zp.readBigUInt64LE(at)), e.addr, `e820[${i}].addr`);
    assert.equal(Number(zp.readBigUInt64LE(at + 8)), e.size, `e820[${i}].size`);
    assert.equal(zp.readUInt32LE(at + 16), e.type, `e820[${i}].type`);
  });
  assert.ok(cmdline.length <= zp.readUInt32LE(0x238));
}

describe('native bzImage loader (prepareBzImage)', () => {
  const native = loadNative();

  it('places the kernel at its preferred address and fills the zero page, cmdline and initrd fields', () => {
    const kernel = fakeBzImage();
    const initrd = Buffer.alloc(3 * MiB + 123, 0x5a);
    const cmdline = 'console=ttyS0 root=/dev/vda rw quiet';
    const mem = 256 * MiB;
    const s = native.prepareBzImage(kernel, cmdline, initrd, mem);
    assert.equal(s.kernelAddr, 16 * MiB, 'pref_address');
    assert.equal(s.entry, s.kernelAddr + 0x200, 'startup_64');
    assert.equal(s.rsi, s.zeroPageAddr);
    assert.equal(s.initrdSize, initrd.length);
    // The initrd sits page aligned, as high as RAM and initrd_addr_max allow, above the kernel's init_size.
    assert.equal(s.initrdAddr % 4096, 0);
    assert.ok(s.initrdAddr + initrd.length <= mem);
    assert.ok(mem - (s.initrdAddr + initrd.length) < 4096, 'initrd at the top of RAM');
    assert.ok(s.initrdAddr >= s.kernelAddr + 4 * MiB);
    // Nothing the loader placed overlaps anything else.
    const areas = [[s.zeroPageAddr, 4096], [s.cmdlineAddr, cmdline.length + 1], [s.pageTableAddr, 6 * 4096],
      [s.gdtAddr, 32], [s.kernelAddr, 4 * MiB], [s.initrdAddr, initrd.length]].sort((a, b) => a[0]! - b[0]!);
    for (let i = 1; i < areas.length; i++) assert.ok(areas[i - 1]![0]! + areas[i - 1]![1]! <= areas[i]![0]!, `areas ${i - 1}/${i}`);
    assert.ok(s.stackTop > s.zeroPageAddr + 4096 && s.stackTop <= s.pageTableAddr);
    checkZeroPage(s, kernel, cmdline, initrd.length);
  });

  it('reports an e820 map matching the slot layout: low RAM, the legacy hole, RAM to the end', () => {
    const mem = 128 * MiB;
    const s = native.prepareBzImage(fakeBzImage(), '', null, mem);
    const ram = s.e820.filter((e) => e.type === 1);
    assert.equal(ram[0]!.addr, 0);
    assert.equal(ram.at(-1)!.addr + ram.at(-1)!.size, mem);
    assert.ok(ram.every((e) => e.addr + e.size <= mem));
    assert.ok(s.e820.some((e) => e.type === 2 && e.addr <= 0xf0000 && e.addr + e.size >= 0x100000), 'BIOS area reserved');
    // The entries do not overlap and are in address order.
    for (let i = 1; i < s.e820.length; i++) assert.ok(s.e820[i - 1]!.addr + s.e820[i - 1]!.size <= s.e820[i]!.addr);
    assert.equal(s.initrdAddr, 0);
    assert.equal(s.initrdSize, 0);
    checkZeroPage(s, fakeBzImage(), '', 0);
  });

  it('moves a relocatable kernel to the first aligned address when RAM cannot hold it at pref_address', () => {
    const s = native.prepareBzImage(fakeBzImage({ alignment: 2 * MiB }), 'x', null, 12 * MiB);
    assert.equal(s.kernelAddr, 2 * MiB);
    assert.equal(s.entry, 2 * MiB + 0x200);
    assert.throws(() => native.prepareBzImage(fakeBzImage({ relocatable: false }), 'x', null, 12 * MiB),
      /guest RAM of 12 MiB is too small for this kernel/);
  });

  it('refuses files that are not bzImages, or too old, or without a 64-bit entry, with clear errors', () => {
    assert.throws(() => native.prepareBzImage(Buffer.alloc(64 * KiB, 0x90), '', null, 64 * MiB), /not a Linux bzImage: no boot signature/);
    const noHdrS = fakeBzImage();
    noHdrS.write('XXXX', 0x202, 'latin1');
    assert.throws(() => native.prepareBzImage(noHdrS, '', null, 64 * MiB), /no "HdrS" setup header/);
    assert.throws(() => native.prepareBzImage(Buffer.alloc(100), '', null, 64 * MiB), /not a Linux bzImage: the file is 100 bytes/);
    assert.throws(() => native.prepareBzImage(fakeBzImage({ version: 0x020b }), '', null, 64 * MiB),
      /boot protocol 2\.11, too old: roam needs 2\.12 or later/);
    assert.throws(() => native.prepareBzImage(fakeBzImage({ xloadflags: 0x02 }), '', null, 64 * MiB), /no 64-bit entry point/);
    assert.throws(() => native.prepareBzImage(fakeBzImage({ loadflags: 0 }), '', null, 64 * MiB), /zImage/);
    assert.throws(() => native.prepareBzImage(fakeBzImage({ syssizeBytes: 1 * MiB }), '', null, 64 * MiB), /bzImage is truncated/);
    assert.throws(() => native.prepareBzImage(fakeBzImage({ setupSects: 200, payloadBytes: 0 }), '', null, 64 * MiB), /bzImage is truncated/);
  });

  it('refuses a command line longer than the kernel accepts and an initrd that does not fit', () => {
    const kernel = fakeBzImage({ cmdlineSize: 255 });
    assert.doesNotThrow(() => native.prepareBzImage(kernel, 'a'.repeat(255), null, 64 * MiB));
    assert.throws(() => native.prepareBzImage(kernel, 'a'.repeat(256), null, 64 * MiB),
      /kernel command line is 256 bytes; this kernel accepts at most 255/);
    assert.throws(() => native.prepareBzImage(fakeBzImage(), 'x', Buffer.alloc(20 * MiB), 32 * MiB),
      /the initrd \(20 MiB\) does not fit/);
    // initrd_addr_max below the kernel's end: nowhere to put it.
    assert.throws(() => native.prepareBzImage(fakeBzImage({ initrdAddrMax: 8 * MiB - 1 }), 'x', Buffer.alloc(MiB), 64 * MiB),
      /does not fit/);
  });

  it('refuses bad arguments with TypeError/RangeError', () => {
    assert.throws(() => native.prepareBzImage('kernel' as unknown as Buffer, '', null, 64 * MiB), TypeError);
    assert.throws(() => native.prepareBzImage(fakeBzImage(), '', null, 64 * MiB + 1), RangeError);
    assert.throws(() => native.prepareBzImage(fakeBzImage(), '', null, 4 * 1024 * MiB), RangeError);
  });
});

describe('native bzImage loader in a VM (NativeVm.loadBzImage)', function () {
  before(function () { requireKvm(this); });

  it('writes the kernel, command line, initrd, zero page, page tables and GDT where it reports', () => {
    const native = loadNative();
    const vm = native.createVm({ memBytes: 64 * MiB }, () => {});
    try {
      const kernel = fakeBzImage();
      const initrd = Buffer.alloc(256 * KiB);
      for (let i = 0; i < initrd.length; i++) initrd[i] = (i * 13) & 0xff;
      const cmdline = 'console=ttyS0 roam.test=1';
      const s = vm.loadBzImage(kernel, cmdline, initrd);
      const low = vm.slots()[0]!;
      assert.equal(low.guestPhysAddr, 0);
      const ram = Buffer.from(vm.memory(low.slot)[0]!);
      const at = (addr: number, len: number) => ram.subarray(addr, addr + len);
      assert.equal(at(s.cmdlineAddr, cmdline.length + 1).toString('latin1'), cmdline + '\0');
      assert.ok(at(s.kernelAddr, payloadOf(kernel).length).equals(payloadOf(kernel)), 'kernel payload at kernelAddr');
      assert.ok(at(s.initrdAddr, initrd.length).equals(initrd), 'initrd at initrdAddr');
      assert.ok(at(s.zeroPageAddr, 4096).equals(s.zeroPage), 'zero page at zeroPageAddr');
      checkZeroPage(s, kernel, cmdline, initrd.length);
      // Identity map: PML4[0] -> PDPT, PDPT[0..3] -> page directories, 2 MiB pages mapping va == pa.
      const pml4 = Number(ram.readBigUInt64LE(s.pageTableAddr));
      assert.equal(pml4 & 1, 1);
      const pdpt = pml4 & ~0xfff;
      for (let gib = 0; gib < 4; gib++) {
        const pd = Number(ram.readBigUInt64LE(pdpt + gib * 8)) & ~0xfff;
        for (const i of [0, 1, 511]) {
          const e = Number(ram.readBigUInt64LE(pd + i * 8));
          assert.equal(e & 0x83, 0x83, 'present, writable, 2 MiB');
          assert.equal(e - (e & 0xfff), gib * 1024 * MiB + i * 2 * MiB);
        }
      }
      // GDT: 0x10 is a 64-bit code segment (L=1), 0x18 a writable data segment.
      const cs = ram.readBigUInt64LE(s.gdtAddr + 0x10);
      const ds = ram.readBigUInt64LE(s.gdtAddr + 0x18);
      assert.equal((cs >> 53n) & 1n, 1n, 'CS.L');
      assert.equal((cs >> 43n) & 1n, 1n, 'CS executable');
      assert.equal((ds >> 41n) & 1n, 1n, 'DS writable');
      assert.equal((ds >> 43n) & 1n, 0n, 'DS data');
    } finally {
      vm.close();
    }
  });
});
