// A VM with a display has a third memory slot that is not RAM: its framebuffer. The wire
// format carries it like RAM (pages, region hashes, kept images) but never counts it as RAM,
// and a page for a slot the hello did not declare is refused before it touches memory.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProtocolError } from '../migrate/errors.js';
import { COMPRESS_NONE, MAX_FRAMEBUFFER_BYTES, T, decodeFrame, encode, type Frame } from '../migrate/frames.js';
import { KeptImages, sameLayout, type SlotLayout, type VmSpec } from '../migrate/index.js';
import { regions } from '../migrate/regions.js';
import { BASE_DEVICES, DISPLAY_DEVICE, ramLayout, vmLayout } from '../node/vm-host/index.js';

const PAGE = 4096;
const MiB = 2 ** 20;
const body = (parts: Uint8Array | Uint8Array[]) => {
  const list = Array.isArray(parts) ? parts : [parts];
  const out = new Uint8Array(list.reduce((n, p) => n + p.byteLength, 0));
  let o = 0; for (const p of list) { out.set(p, o); o += p.byteLength; }
  return out.subarray(4);
};

function displaySpec(memBytes = 8 * MiB): VmSpec {
  return { id: 'vm-d', generation: 3, vcpus: 1, memBytes, slots: vmLayout(memBytes, true), cpuFeatures: ['lm'], devices: [...BASE_DEVICES, DISPLAY_DEVICE] };
}

function helloOf(spec: unknown, base?: unknown): Frame {
  const json = new TextEncoder().encode(JSON.stringify({ spec, features: [], ...(base ? { base } : {}) }));
  const f = new Uint8Array(1 + json.byteLength);
  f[0] = T.HELLO; f.set(json, 1);
  return decodeFrame(f);
}

/** A PAGES frame carrying one zero page, `page` of `slot`. */
function zeroPageFrame(slot: number, page: number): Uint8Array {
  return body(encode.pages({ round: 0, slot, first: page, count: 1, compression: COMPRESS_NONE, zero: new Uint8Array([1]), data: new Uint8Array(1) }, []));
}

describe('migrate: a VM with a display (framebuffer slot)', () => {
  it('a hello declares the framebuffer slot beside RAM, and only RAM counts in memBytes', () => {
    const spec = displaySpec();
    const f = decodeFrame(body(encode.hello({ spec, features: [] })));
    assert.equal(f.type, T.HELLO);
    const got = (f as { hello: { spec: VmSpec } }).hello.spec;
    assert.deepEqual(got.slots, spec.slots, 'slot 2 arrives with its address and kind');
    assert.equal(got.memBytes, 8 * MiB);
    assert.ok(sameLayout(got.slots, vmLayout(8 * MiB, true)));
    assert.ok(!sameLayout(got.slots, vmLayout(8 * MiB, false)));
  });

  it('refuses a framebuffer counted as RAM, two framebuffers, an oversized one and unknown slot kinds', () => {
    const spec = displaySpec();
    const fb = spec.slots.at(-1)!;
    const cases: [string, unknown, RegExp][] = [
      ['memBytes counting the framebuffer', { ...spec, memBytes: 8 * MiB + fb.size }, /RAM slots add up to/],
      ['two framebuffers', { ...spec, slots: [...spec.slots, { ...fb, slot: 3 }] }, /more than one framebuffer/],
      ['oversized framebuffer', { ...spec, slots: [...ramLayout(8 * MiB), { ...fb, size: MAX_FRAMEBUFFER_BYTES + PAGE }] }, /exceeds/],
      ['unknown kind', { ...spec, slots: [...ramLayout(8 * MiB), { ...fb, kind: 'gpu' }] }, /kind must be one of ram, framebuffer/],
      ['kind not a string', { ...spec, slots: [...ramLayout(8 * MiB), { ...fb, kind: 7 }] }, /kind must be one of/],
    ];
    for (const [what, bad, re] of cases) assert.throws(() => helloOf(bad), (e: Error) => e instanceof ProtocolError && re.test(e.message), what);
  });

  it('a page of slot 2 is refused when the hello declared no display, and bounded by the framebuffer when it did', () => {
    const noDisplay = vmLayout(8 * MiB, false);
    assert.throws(() => decodeFrame(zeroPageFrame(2, 0), noDisplay), /slot 2 is not in the declared memory layout/);
    const withDisplay = vmLayout(8 * MiB, true);
    const ok = decodeFrame(zeroPageFrame(2, 767), withDisplay);
    assert.equal(ok.type, T.PAGES);
    assert.throws(() => decodeFrame(zeroPageFrame(2, 768), withDisplay), /outside slot 2 \(768 pages\)/);
  });

  it('a return-trip hello may hash the framebuffer\'s regions too (the bound counts every slot)', () => {
    const spec = displaySpec(2 * MiB);
    const n = regions(spec.slots).length;
    assert.equal(n, 2 + 3, '2 MiB of RAM and 3 MiB of framebuffer in 1 MiB regions');
    const h = helloOf(spec, { generation: 3, regionBytes: MiB, regionHashes: new Array<string>(n).fill('') });
    assert.equal((h as { hello: { base?: { regionHashes: string[] } } }).hello.base?.regionHashes.length, n);
    assert.throws(() => helloOf(spec, { generation: 3, regionBytes: MiB, regionHashes: new Array<string>(n + spec.slots.length + 1).fill('') }), /regionHashes/);
  });

  it('a kept image holds the framebuffer, and matches however each side spelled the RAM slots\' kind', () => {
    const dir = mkdtempSync(join(tmpdir(), 'roam-kept-fb-'));
    try {
      const store = new KeptImages(dir, 64 * MiB);
      const layout = vmLayout(2 * MiB, true);
      const mem = new Map(layout.map((s) => [s.slot, new Uint8Array(s.size)]));
      mem.get(0)!.fill(7, 0, PAGE);
      const fb = mem.get(2)!;
      for (let line = 0; line < 768; line += 3) fb.fill(line & 0xff, line * PAGE, line * PAGE + 512);
      // The sender's spec comes from a VM process (kind on every slot); the receiver's from the wire.
      const senderSlots: SlotLayout[] = layout.map((s) => ({ ...s, kind: s.kind ?? 'ram' }));
      assert.equal(store.store('vm-d', 4, senderSlots, (s) => [mem.get(s)!]), true);
      const back = new Map(layout.map((s) => [s.slot, new Uint8Array(s.size)]));
      const offered = new Array<string>(regions(layout).length).fill('');
      const stale = store.load('vm-d', 4, layout, (s) => [back.get(s)!], offered, MiB);
      assert.deepEqual(stale, [], 'every region of the kept image matches');
      assert.ok(Buffer.from(back.get(2)!).equals(Buffer.from(fb)), 'the framebuffer comes back from the kept image');
      // The same RAM without the framebuffer is another layout: the image is not used.
      assert.equal(store.load('vm-d', 4, vmLayout(2 * MiB, false), (s) => [back.get(s)!], offered.slice(0, 2), MiB), null);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
