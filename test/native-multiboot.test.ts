// The multiboot v1 loader on images built here: ELF32 and ELF64 PT_LOAD placement at p_paddr with bss
// zeroed, the a.out kludge, the multiboot information (flags, mem_lower/upper, memory map, command
// line), the boot GDT and the MP table -- read back through the VM's RAM window -- and corrupted images that must
// be refused without harm.
import assert from 'node:assert/strict';
import { loadNative, type NativeVm } from '../native/index.js';
import { requireKvm } from './support/kvm.js';

const MiB = 1024 * 1024;
const MB_MAGIC = 0x1badb002;
const LOAD = 0x100000;

function multibootHeader(flags = 0x3): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt32LE(MB_MAGIC, 0);
  h.writeUInt32LE(flags, 4);
  h.writeUInt32LE((-(MB_MAGIC + flags)) >>> 0, 8);
  return h;
}

/** An ELF executable with one PT_LOAD at LOAD: multiboot header, then `body`, then `bss` zero bytes. */
function elfKernel(is64: boolean, body: Buffer, bss: number): Buffer {
  const payload = Buffer.concat([multibootHeader(), body]);
  const img = Buffer.alloc(0x1000 + payload.length);
  img.write('\x7fELF', 0, 'latin1');
  img[4] = is64 ? 2 : 1; img[5] = 1; img[6] = 1;
  img.writeUInt16LE(2, 16);                       // ET_EXEC
  img.writeUInt16LE(is64 ? 62 : 3, 18);           // EM_X86_64 / EM_386
  img.writeUInt32LE(1, 20);
  if (is64) {
    img.writeBigUInt64LE(BigInt(LOAD + 12), 24);  // e_entry
    img.writeBigUInt64LE(64n, 32);                // e_phoff
    img.writeUInt16LE(64, 52); img.writeUInt16LE(56, 54); img.writeUInt16LE(1, 56);
    const ph = 64;
    img.writeUInt32LE(1, ph); img.writeUInt32LE(7, ph + 4);
    img.writeBigUInt64LE(0x1000n, ph + 8);
    img.writeBigUInt64LE(0xffffffff80000000n + BigInt(LOAD), ph + 16); // p_vaddr: high alias
    img.writeBigUInt64LE(BigInt(LOAD), ph + 24);                       // p_paddr: where it goes
    img.writeBigUInt64LE(BigInt(payload.length), ph + 32);
    img.writeBigUInt64LE(BigInt(payload.length + bss), ph + 40);
  } else {
    img.writeUInt32LE(LOAD + 12, 24);
    img.writeUInt32LE(52, 28);
    img.writeUInt16LE(52, 40); img.writeUInt16LE(32, 42); img.writeUInt16LE(1, 44);
    const ph = 52;
    img.writeUInt32LE(1, ph); img.writeUInt32LE(0x1000, ph + 4);
    img.writeUInt32LE(LOAD, ph + 8); img.writeUInt32LE(LOAD, ph + 12);
    img.writeUInt32LE(payload.length, ph + 16); img.writeUInt32LE(payload.length + bss, ph + 20);
    img.writeUInt32LE(7, ph + 24);
  }
  payload.copy(img, 0x1000);
  return img;
}

/** Deterministic PRNG (xorshift32) so a failing corruption can be replayed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x; };
}

describe('native core: multiboot loader', function () {
  let vm: NativeVm;
  before(function () { requireKvm(this); });
  beforeEach(() => { vm = loadNative().createVm({ memBytes: 64 * MiB }, () => {}); });
  afterEach(() => vm.close());

  for (const is64 of [false, true]) {
    it(`loads an ELF${is64 ? '64' : '32'} PT_LOAD at p_paddr and zeroes its bss`, () => {
      const body = Buffer.from('roam multiboot body: \xf4', 'latin1');
      const ram = new Uint8Array(vm.memory(0)[0]);
      ram.fill(0xaa, LOAD, LOAD + 0x4000); // bss must be zeroed, not just "still zero"
      const info = vm.loadMultiboot(elfKernel(is64, body, 0x2000), 'elf test');
      assert.equal(info.entry, LOAD + 12);
      assert.equal(info.loadEnd, LOAD + 12 + body.length + 0x2000);
      assert.deepEqual(Buffer.from(ram.subarray(LOAD + 12, LOAD + 12 + body.length)), body);
      assert.ok(ram.subarray(LOAD + 12 + body.length, info.loadEnd).every((b) => b === 0), 'bss zeroed');
      assert.equal(ram[info.loadEnd], 0xaa, 'nothing written past the segment');
    });
  }

  it('writes the multiboot information: flags, memory sizes, memory map, command line, boot GDT', () => {
    vm.loadMultiboot(elfKernel(false, Buffer.from([0xf4]), 0), 'console=ttyS0 ws=4M');
    const ram = Buffer.from(vm.memory(0)[0]);
    const info = 0x9000;
    assert.equal(ram.readUInt32LE(info), 0x1045, 'flags: MEM | CMDLINE | MMAP | FRAMEBUFFER');
    assert.equal(ram.readUInt32LE(info + 4), 639, 'mem_lower');
    assert.equal(ram.readUInt32LE(info + 8), (64 * MiB - MiB) / 1024, 'mem_upper: KiB above 1 MiB');
    const cmd = ram.readUInt32LE(info + 16);
    assert.equal(ram.toString('latin1', cmd, ram.indexOf(0, cmd)), 'console=ttyS0 ws=4M');
    const mmapLen = ram.readUInt32LE(info + 44), mmapAddr = ram.readUInt32LE(info + 48);
    const map: [number, number, number][] = [];
    for (let p = mmapAddr; p < mmapAddr + mmapLen; p += ram.readUInt32LE(p) + 4) {
      map.push([Number(ram.readBigUInt64LE(p + 4)), Number(ram.readBigUInt64LE(p + 12)), ram.readUInt32LE(p + 20)]);
    }
    assert.deepEqual(map, [
      [0, 0x9fc00, 1],
      [0x9fc00, 0x100000 - 0x9fc00, 2],
      [0x100000, 64 * MiB - 0x100000, 1],
      [0xc0000000, 0x40000000, 2],   // the MMIO hole (LAPIC, IOAPIC)
    ]);
    // GDT at 0x8000: null, null, flat 32-bit code (0x10), flat data (0x18).
    assert.equal(ram.readBigUInt64LE(0x8010), 0x00cf9b000000ffffn);
    assert.equal(ram.readBigUInt64LE(0x8018), 0x00cf93000000ffffn);
  });

  it('writes an MP table (MPS 1.4) listing every vCPU, the IOAPIC and the ISA IRQ routing', () => {
    const smp = loadNative().createVm({ memBytes: 32 * MiB, vcpus: 3 }, () => {});
    try {
      smp.loadMultiboot(elfKernel(false, Buffer.from([0xf4]), 0), '');
      const ram = Buffer.from(smp.memory(0)[0]);
      const sum = (from: number, len: number): number => ram.subarray(from, from + len).reduce((a, b) => (a + b) & 0xff, 0);
      // The floating pointer sits on a 16-byte boundary in the BIOS area, where guests scan for it.
      let fp = -1;
      for (let p = 0xf0000; p < 0x100000; p += 16) if (ram.toString('latin1', p, p + 4) === '_MP_') { fp = p; break; }
      assert.ok(fp >= 0, '_MP_ found in 0xF0000..0xFFFFF');
      assert.equal(sum(fp, 16), 0, 'floating pointer checksum');
      const cfg = ram.readUInt32LE(fp + 4);
      assert.equal(ram.toString('latin1', cfg, cfg + 4), 'PCMP');
      const len = ram.readUInt16LE(cfg + 4), count = ram.readUInt16LE(cfg + 34);
      assert.equal(sum(cfg, len), 0, 'configuration table checksum');
      assert.equal(ram.readUInt32LE(cfg + 36), 0xfee00000, 'LAPIC address');
      const cpus: { id: number; flags: number }[] = [];
      let ioapic: { id: number; addr: number } | undefined;
      const irqs: number[] = [];
      for (let p = cfg + 44, i = 0; i < count; i++) {
        const type = ram[p];
        if (type === 0) { cpus.push({ id: ram[p + 1], flags: ram[p + 3] }); p += 20; continue; }
        if (type === 2) ioapic = { id: ram[p + 1], addr: ram.readUInt32LE(p + 4) };
        if (type === 3) irqs.push(ram[p + 5]);
        p += 8;
      }
      assert.deepEqual(cpus, [{ id: 0, flags: 3 }, { id: 1, flags: 1 }, { id: 2, flags: 1 }], 'vCPU 0 is the boot processor');
      assert.deepEqual(ioapic, { id: 3, addr: 0xfec00000 });
      assert.deepEqual(irqs, [...Array(16).keys()], 'ISA IRQs 0..15 routed');
    } finally {
      smp.close();
    }
  });

  it('refuses a segment over the loader\'s own area, and a header with unknown required flags', () => {
    const img = elfKernel(false, Buffer.from([0xf4]), 0);
    img.writeUInt32LE(0x8000, 52 + 12); // p_paddr into [0x8000, 0xa000)
    assert.throws(() => vm.loadMultiboot(img, ''), /overlaps the boot loader's area/);
    const flags = elfKernel(false, Buffer.from([0xf4]), 0);
    multibootHeader(0x3 | 0x8).copy(flags, 0x1000);
    assert.throws(() => vm.loadMultiboot(flags, ''), /requires features this loader lacks \(flags 0x8\)/);
  });

  it('refuses or loads, but never crashes on, 400 corrupted images', () => {
    const good = [elfKernel(false, Buffer.alloc(64, 0x90), 0x1000), elfKernel(true, Buffer.alloc(64, 0x90), 0x1000)];
    const next = rng(0x5eed);
    let refused = 0;
    for (let i = 0; i < 400; i++) {
      const img = Buffer.from(good[i % 2]);
      const flips = 1 + (next() % 4);
      for (let f = 0; f < flips; f++) {
        // Mostly the headers (where lengths and offsets live), sometimes anywhere.
        const at = next() % 4 === 0 ? next() % img.length : next() % 128;
        img.writeUInt32LE(next(), Math.min(at, img.length - 4));
      }
      const cut = next() % 8 === 0 ? next() % img.length : img.length;
      try {
        vm.loadMultiboot(img.subarray(0, cut), 'fuzz');
      } catch (e) {
        assert.ok(e instanceof Error && e.message.startsWith('loadMultiboot: '), `clear error, got ${String(e)}`);
        refused++;
      }
    }
    assert.ok(refused > 0, 'some corruptions are refused');
  });
});
