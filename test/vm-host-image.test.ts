// The on-disk VM image: what it writes comes back exactly, and every kind of
// damage is refused with a message that says what is wrong.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openImage, writeImage } from '../node/vm-host/image-file.js';

const MiB = 1024 * 1024;

function fakeVm(sizes: number[]) {
  let gpa = 0;
  return sizes.map((size, i) => {
    const buf = new ArrayBuffer(size);
    const slot = { slot: i, guestPhysAddr: gpa, size, memfdOffset: gpa, kind: 'ram' as const };
    gpa += size;
    return { slot, windows: [buf] };
  });
}

/** RAM of `ramBytes` in slot 0 and a framebuffer slot like the VMM's (slot 2 at 0xE0000000, after RAM in the memfd). */
function fakeDisplayVm(ramBytes: number) {
  const fb = { slot: 2, guestPhysAddr: 0xe000_0000, size: 768 * 4096, memfdOffset: ramBytes, kind: 'framebuffer' as const };
  return [...fakeVm([ramBytes]), { slot: fb, windows: [new ArrayBuffer(fb.size)] }];
}

describe('VM image file', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'roam-img-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function sample() {
    const slots = fakeVm([4 * MiB, 2 * MiB]);
    const a = new Uint8Array(slots[0]!.windows[0]!);
    for (let p = 0; p < 1024; p += 7) a.fill(p & 0xff || 1, p * 4096, p * 4096 + 100);   // sparse non-zero pages
    new Uint8Array(slots[1]!.windows[0]!).fill(0xab, 2 * MiB - 4096);                     // last page of slot 1
    return { memBytes: 6 * MiB, vcpus: 1, display: false, state: Buffer.from('machine-state-bytes'), slots };
  }

  it('keeps the framebuffer of a VM with a display and records that it has one', () => {
    const slots = fakeDisplayVm(2 * MiB);
    new Uint8Array(slots[0]!.windows[0]!).fill(0x11, 0, 4096);
    const fb = new Uint8Array(slots[1]!.windows[0]!);
    for (let line = 0; line < 768; line += 5) fb.fill((line % 250) + 1, line * 4096, line * 4096 + 4 * 1024);  // every 5th scanline drawn
    const path = join(dir, 'vm.img');
    writeImage(path, { memBytes: 2 * MiB, vcpus: 1, display: true, state: Buffer.from('s'), slots });
    const img = openImage(path);
    assert.equal(img.display, true, 'the image says the VM has a display');
    const dst = fakeDisplayVm(2 * MiB);
    img.readSlotsInto(dst);
    assert.ok(Buffer.from(dst[1]!.windows[0]!).equals(Buffer.from(fb)), 'the framebuffer comes back byte for byte');
    assert.ok(Buffer.from(dst[0]!.windows[0]!).equals(Buffer.from(slots[0]!.windows[0]!)));
    // A VM made without a display cannot take it (and one whose framebuffer slot is RAM neither).
    assert.throws(() => img.readSlotsInto(fakeVm([2 * MiB])), /2 memory slots, the VM has 1/);
    const ramInstead = fakeDisplayVm(2 * MiB);
    (ramInstead[1]!.slot as { kind: string }).kind = 'ram';
    assert.throws(() => img.readSlotsInto(ramInstead), /memory slot 1 layout differs/);
    img.close();
    const plainPath = join(dir, 'plain.img');
    writeImage(plainPath, sample());
    const plain = openImage(plainPath);
    assert.equal(plain.display, false, 'an image of a VM without a display says so');
    plain.close();
  });

  it('opens an image written before VMs had displays as a VM without one', () => {
    const path = join(dir, 'vm.img');
    writeImage(path, sample());
    // What an older roam wrote: no display field, slots without a kind.
    const bytes = readFileSync(path);
    const meta = JSON.parse(bytes.subarray(16, 16 + bytes.readUInt32LE(12)).toString()) as { display?: boolean; slots: { kind?: string }[] };
    delete meta.display;
    for (const s of meta.slots) delete s.kind;
    const json = Buffer.from(JSON.stringify(meta));
    bytes.fill(0, 12, 4096);
    bytes.writeUInt32LE(json.length, 12);
    json.copy(bytes, 16);
    writeFileSync(path, bytes);
    const img = openImage(path);
    assert.equal(img.display, false);
    const dst = fakeVm([4 * MiB, 2 * MiB]);
    img.readSlotsInto(dst);
    img.close();
    assert.equal(new Uint8Array(dst[1]!.windows[0]!)[2 * MiB - 1], 0xab);
  });

  it('round-trips state and every slot byte, and stores zero pages as holes', () => {
    const src = sample();
    const path = join(dir, 'vm.img');
    writeImage(path, src);
    const st = statSync(path);
    assert.ok(st.blocks * 512 < 6 * MiB / 2, `image should be sparse: ${st.blocks * 512} bytes allocated`);
    const img = openImage(path);
    const dst = fakeVm([4 * MiB, 2 * MiB]);
    img.readSlotsInto(dst);
    img.close();
    assert.deepEqual(img.state, src.state);
    dst.forEach((d, i) => assert.ok(Buffer.from(d.windows[0]!).equals(Buffer.from(src.slots[i]!.windows[0]!)), `slot ${i} differs`));
  });

  it('refuses a truncated image', () => {
    const path = join(dir, 'vm.img');
    writeImage(path, sample());
    truncateSync(path, statSync(path).size - 4096);
    assert.throws(() => openImage(path), /truncated/);
  });

  it('refuses an image whose memory was damaged', () => {
    const path = join(dir, 'vm.img');
    writeImage(path, sample());
    const bytes = readFileSync(path);
    bytes[statSync(path).size - 1] ^= 0xff;
    writeFileSync(path, bytes);
    const img = openImage(path);
    assert.throws(() => img.readSlotsInto(fakeVm([4 * MiB, 2 * MiB])), /slot 1 is corrupted/);
    img.close();
  });

  it('refuses a damaged state, a foreign file and a layout that does not match', () => {
    const path = join(dir, 'vm.img');
    writeImage(path, sample());
    const bytes = readFileSync(path);
    bytes[4096] ^= 1;
    writeFileSync(path, bytes);
    assert.throws(() => openImage(path), /machine state is corrupted/);
    writeFileSync(path, Buffer.alloc(8192, 0x41));
    assert.throws(() => openImage(path), /not a roam VM image/);
    writeImage(path, sample());
    const img = openImage(path);
    assert.throws(() => img.readSlotsInto(fakeVm([2 * MiB, 2 * MiB])), /layout differs|slots/);
    img.close();
  });

  it('leaves no temporary file behind', () => {
    const path = join(dir, 'vm.img');
    writeImage(path, sample());
    assert.deepEqual(readdirSync(dir), ['vm.img']);
  });
});

