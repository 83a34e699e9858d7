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
    const slot = { slot: i, guestPhysAddr: gpa, size, memfdOffset: gpa };
    gpa += size;
    return { slot, windows: [buf] };
  });
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
    return { memBytes: 6 * MiB, vcpus: 1, state: Buffer.from('machine-state-bytes'), slots };
  }

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

