// The transport benchmark's pure pieces: the guest-like payload and the KVM-less VM ends.
import assert from 'node:assert/strict';
import { BLOCK_BYTES, PAGE, guestLikePages } from '../bench/transport/pattern.js';
import { BufferHost, PatternVm, fakeSpec } from '../bench/transport/fake-vm.js';

describe('bench transport: guest-like pages', () => {
  it('makes the random share of each page random and the rest one repeated word per page', () => {
    const b = guestLikePages(4 * PAGE, 0.25);
    const view = new DataView(b.buffer);
    for (let p = 0; p < 4; p++) {
      const word = view.getUint32(p * PAGE + PAGE - 4, true);
      for (let off = p * PAGE + 1024; off < (p + 1) * PAGE; off += 4) assert.equal(view.getUint32(off, true), word);
      // 1024 random bytes are almost surely not all one repeated word
      const head = b.subarray(p * PAGE, p * PAGE + 1024);
      assert.ok(head.some((x, i) => x !== head[i % 4]!), `page ${p} has a random head`);
    }
    assert.notEqual(view.getUint32(PAGE - 4, true), view.getUint32(2 * PAGE - 4, true), 'pages differ from each other');
  });

  it('refuses sizes that are not whole pages and entropy outside 0..1', () => {
    assert.throws(() => guestLikePages(PAGE + 1, 0.3), /multiple of 4096/);
    assert.throws(() => guestLikePages(0, 0.3), /multiple of 4096/);
    assert.throws(() => guestLikePages(PAGE, 1.5), /outside 0..1/);
  });
});

describe('bench transport: KVM-less VM ends', () => {
  it('the pattern VM covers its RAM with the block, reports no dirty pages, and refuses other slots', async () => {
    const block = new Uint8Array(2 * PAGE).fill(7);
    const vm = new PatternVm('t', 8 * PAGE, block);
    const windows = vm.memory(0);
    assert.equal(windows.reduce((n, w) => n + w.byteLength, 0), 8 * PAGE);
    const log = new Uint8Array(8).fill(0xff);
    await vm.dirtyLog(0, log);
    assert.ok(log.every((x) => x === 0));
    assert.throws(() => vm.memory(1), /no RAM slot 1/);
    assert.throws(() => new PatternVm('t', 3 * PAGE, block), /whole number/);
  });

  it('the buffer host takes one slot at 0 within its limit and hands out writable RAM', async () => {
    const host = new BufferHost(BLOCK_BYTES);
    assert.equal(host.check(fakeSpec('a', BLOCK_BYTES * 2)).ok, false);
    assert.equal(host.check({ ...fakeSpec('a', PAGE * 2), slots: [{ slot: 0, guestPhysAddr: 4096, size: PAGE * 2 }] }).ok, false);
    assert.equal(host.check(fakeSpec('a', PAGE * 2)).ok, true);
    const vm = await host.createPaused(fakeSpec('a', PAGE * 2));
    const [w] = vm.memory(0);
    assert.equal(w!.byteLength, PAGE * 2);
    w![5] = 9;
    assert.equal(vm.memory(0)[0]![5], 9);
    assert.equal(vm.isRunning(), false);
    await vm.start();
    assert.equal(vm.isRunning(), true);
  });
});
