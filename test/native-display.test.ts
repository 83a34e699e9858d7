// The guest's linear framebuffer in the native core: slot 2 at 0xE0000000, backed by the memfd right
// after RAM (so a mapping of the memfd sees the pixels), announced in the multiboot information, kept
// out of the memory map, absent with display: false -- and its dirty log read by two consumers,
// migration (dirtyLog) and the display (displayDamage), each of which sees every guest write.
import assert from 'node:assert/strict';
import { DISPLAY_DAMAGE_BYTES, loadNative, type NativeVm, type VmEvent } from '../native/index.js';
import { requireKvm } from './support/kvm.js';

const MiB = 1024 * 1024;
const FB = 0xe0000000;
const LINE = 4096;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A multiboot v1 a.out-kludge image loaded at 1 MiB whose 32-bit entry runs `code` (paging off). */
function aoutKernel(code: Buffer): Buffer {
  const load = 0x100000, magic = 0x1badb002, flags = 0x00010000;
  const h = Buffer.alloc(32);
  h.writeUInt32LE(magic, 0);
  h.writeUInt32LE(flags, 4);
  h.writeUInt32LE((-(magic + flags)) >>> 0, 8);
  h.writeUInt32LE(load, 12);
  h.writeUInt32LE(load, 16);
  h.writeUInt32LE(load + 32, 28);
  return Buffer.concat([h, code]);
}

/** x86 `mov dword [addr], value`. */
function movToMemory(addr: number, value: number): Buffer {
  const b = Buffer.alloc(10);
  b[0] = 0xc7; b[1] = 0x05;
  b.writeUInt32LE(addr >>> 0, 2);
  b.writeUInt32LE(value >>> 0, 6);
  return b;
}

const outSerial = (ch: string): Buffer => Buffer.from([0x66, 0xba, 0xf8, 0x03, 0xb0, ch.charCodeAt(0), 0xee]); // mov dx,0x3f8; mov al,ch; out dx,al

/** Scanlines whose bit is set in a damage / dirty bitmap. */
function linesOf(bits: Uint8Array): number[] {
  const out: number[] = [];
  bits.forEach((b, i) => { for (let k = 0; k < 8; k++) if (b & (1 << k)) out.push(i * 8 + k); });
  return out;
}

function damage(vm: NativeVm): number[] {
  const out = new Uint8Array(DISPLAY_DAMAGE_BYTES).fill(0xee); // stale bytes must be overwritten
  vm.displayDamage(out);
  return linesOf(out);
}

function migrationLog(vm: NativeVm, clear: boolean): number[] {
  const out = new Uint8Array(96);
  vm.dirtyLog(2, out, clear);
  return linesOf(out);
}

describe('native core: framebuffer (display)', function () {
  const vms: NativeVm[] = [];
  before(function () { requireKvm(this); });
  afterEach(() => { for (const vm of vms.splice(0)) vm.close(); });
  const create = (config: { memBytes: number; vcpus?: number; display?: boolean }, onEvent: (e: VmEvent) => void = () => {}): NativeVm => {
    const vm = loadNative().createVm(config, onEvent);
    vms.push(vm);
    return vm;
  };

  it('is slot 2 at 0xE0000000, 1024x768 with a 4096-byte stride, in the memfd right after RAM', () => {
    const vm = create({ memBytes: 64 * MiB });
    assert.deepEqual(vm.slots(), [
      { slot: 0, guestPhysAddr: 0, size: 64 * MiB, memfdOffset: 0, kind: 'ram' },
      { slot: 2, guestPhysAddr: FB, size: 3 * MiB, memfdOffset: 64 * MiB, kind: 'framebuffer' },
    ]);
    assert.deepEqual(vm.display(), { slot: 2, guestPhysAddr: FB, width: 1024, height: 768, stride: 4096 });
    assert.deepEqual(vm.memory(2).map((w) => w.byteLength), [3 * MiB]);
    assert.equal(DISPLAY_DAMAGE_BYTES, 768 / 8);
    assert.deepEqual(damage(vm), [], 'a fresh display has no damage');
  });

  it('pixels written through memory(2) are the memfd bytes after RAM, as another process maps them', () => {
    const vm = create({ memBytes: 32 * MiB });
    const fb = new Uint8Array(vm.memory(2)[0]!);
    fb.set([0x10, 0x20, 0x30, 0x00], 0);                 // pixel (0,0): B, G, R, X
    fb.set([0xaa, 0xbb, 0xcc, 0x00], 767 * LINE + 1023 * 4); // the last pixel
    const map = loadNative().mapGuestMemory(`/proc/${process.pid}/fd/${vm.memfd()}`, vm.slots());
    try {
      assert.equal(map.bytes, 32 * MiB + 3 * MiB, 'the memfd holds RAM then the framebuffer');
      const seen = Buffer.from(map.memory(2)[0]!);
      assert.deepEqual([...seen.subarray(0, 4)], [0x10, 0x20, 0x30, 0x00]);
      assert.deepEqual([...seen.subarray(767 * LINE + 1023 * 4, 768 * LINE)], [0xaa, 0xbb, 0xcc, 0x00]);
      // And the RAM slot of the mapping does not overlap it: RAM's last page is untouched.
      assert.ok(Buffer.from(map.memory(0)[0]!).subarray(32 * MiB - LINE).every((b) => b === 0));
    } finally {
      map.close();
    }
  });

  it('announces the framebuffer in the multiboot information, and keeps it out of the memory map', () => {
    const vm = create({ memBytes: 64 * MiB });
    vm.loadMultiboot(aoutKernel(Buffer.from([0xf4])), '');
    const ram = Buffer.from(vm.memory(0)[0]!);
    const info = 0x9000;
    assert.equal(ram.readUInt32LE(info) & (1 << 12), 1 << 12, 'flags bit 12: framebuffer info valid');
    assert.equal(ram.readBigUInt64LE(info + 88), BigInt(FB), 'framebuffer_addr');
    assert.equal(ram.readUInt32LE(info + 96), 4096, 'framebuffer_pitch');
    assert.equal(ram.readUInt32LE(info + 100), 1024, 'framebuffer_width');
    assert.equal(ram.readUInt32LE(info + 104), 768, 'framebuffer_height');
    assert.equal(ram[info + 108], 32, 'framebuffer_bpp');
    assert.equal(ram[info + 109], 1, 'framebuffer_type: direct RGB');
    assert.deepEqual([...ram.subarray(info + 110, info + 116)], [16, 8, 8, 8, 0, 8], 'red, green, blue position/size');
    const mmapLen = ram.readUInt32LE(info + 44), mmapAddr = ram.readUInt32LE(info + 48);
    for (let p = mmapAddr; p < mmapAddr + mmapLen; p += ram.readUInt32LE(p) + 4) {
      const base = Number(ram.readBigUInt64LE(p + 4)), len = Number(ram.readBigUInt64LE(p + 12)), type = ram.readUInt32LE(p + 20);
      if (base <= FB && FB < base + len) assert.equal(type, 2, 'the framebuffer lies in reserved space, not RAM');
    }
  });

  it('with display: false there is no framebuffer slot, no multiboot framebuffer, no damage', () => {
    const vm = create({ memBytes: 64 * MiB, display: false });
    assert.deepEqual(vm.slots(), [{ slot: 0, guestPhysAddr: 0, size: 64 * MiB, memfdOffset: 0, kind: 'ram' }]);
    assert.equal(vm.display(), null);
    assert.throws(() => vm.memory(2), /no RAM slot 2 \(this VM has slots 0\.\.0\)/);
    assert.throws(() => vm.displayDamage(new Uint8Array(96)), /created with display off/);
    vm.loadMultiboot(aoutKernel(Buffer.from([0xf4])), '');
    assert.equal(Buffer.from(vm.memory(0)[0]!).readUInt32LE(0x9000), 0x45, 'flags: MEM | CMDLINE | MMAP only');
    assert.throws(() => create({ memBytes: 64 * MiB, display: 'yes' as never }), /config\.display must be a boolean/);
  });

  it('refuses a damage buffer that is too short or not a Uint8Array', () => {
    const vm = create({ memBytes: 16 * MiB });
    assert.throws(() => vm.displayDamage(new Uint8Array(95)), /out holds 95 bytes; it needs 96/);
    assert.throws(() => vm.displayDamage(new Uint32Array(24) as never), /must be a Uint8Array of 96 bytes/);
  });

  it('a guest write reaches both consumers: the display and migration each see every written scanline', async () => {
    // Phase 1 writes scanlines 5 and 703 and says 'A'; it then polls the i8042 for a key (a guest
    // reading port 0x60 without interrupts), echoes the byte, writes scanline 100 and says 'B'.
    const code = Buffer.concat([
      movToMemory(FB + 5 * LINE, 0x00ff0000),
      movToMemory(FB + 703 * LINE + 8, 0x0000ff00),
      outSerial('A'),
      Buffer.from([0xe4, 0x64, 0xa8, 0x01, 0x74, 0xfa]),   // wait: in al,0x64; test al,1; jz wait
      Buffer.from([0xe4, 0x60, 0xee]),                     // in al,0x60; out dx,al (dx is still COM1)
      movToMemory(FB + 100 * LINE, 0x000000ff),
      outSerial('B'),
      Buffer.from([0xf4, 0xeb, 0xfd]),                     // hlt; jmp back to hlt
    ]);
    let serial = Buffer.alloc(0);
    const others: VmEvent[] = [];
    const vm = create({ memBytes: 32 * MiB }, (e) => {
      if (e.type === 'serial') serial = Buffer.concat([serial, e.data]);
      else others.push(e);
    });
    const until = async (what: string, cond: () => boolean): Promise<void> => {
      const t0 = Date.now();
      while (!cond()) {
        if (others.length) throw new Error(`VM event while waiting for ${what}: ${JSON.stringify(others)}`);
        if (Date.now() - t0 > 30_000) throw new Error(`timed out waiting for ${what}; serial ${JSON.stringify(serial.toString('latin1'))}`);
        await sleep(10);
      }
    };
    vm.loadMultiboot(aoutKernel(code), '');
    assert.deepEqual(migrationLog(vm, true), [], 'the loader wrote no pixels');
    vm.start();
    await until("the guest's first scanlines", () => serial.includes('A'));

    assert.deepEqual(damage(vm), [5, 703], 'the display sees the guest writes');
    assert.deepEqual(damage(vm), [], 'and clears only what it took');
    assert.deepEqual(migrationLog(vm, false), [5, 703], 'migration still sees them after the display took its copy');

    vm.keyboardInput(Uint8Array.of(0x1c));              // 'a' in set 2: the guest reads set 1
    await until('the second phase', () => serial.includes('B'));
    assert.equal(serial[serial.indexOf('A') + 1], 0x1e, 'the guest read the translated scancode');
    assert.deepEqual(Buffer.from(vm.memory(2)[0]!).readUInt32LE(100 * LINE), 0xff, 'the pixel is in the framebuffer');

    assert.deepEqual(damage(vm), [100], 'the display sees only what is new to it');
    assert.deepEqual(migrationLog(vm, true), [5, 100, 703], 'migration accumulates across the display\'s reads');
    assert.deepEqual(migrationLog(vm, false), [], 'a clearing read clears migration\'s record');
    assert.deepEqual(damage(vm), [], 'and migration\'s clear took nothing from the display');
  });
});
