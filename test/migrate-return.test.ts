import '../node/common/polyfill.js';
import assert from 'node:assert/strict';
import { mkdtempSync, openSync, rmSync, statSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeptImages, MigrationReceiver, sendVm } from '../migrate/index.js';
import { FakeHost, FakeVm, startPair } from './fakes/fake-vm.js';

describe('migrate: return trips reuse the image kept where the VM was', function () {
  let dir: string;
  let ab: Awaited<ReturnType<typeof startPair>>, ba: Awaited<ReturnType<typeof startPair>>;
  let hostA: FakeHost, hostB: FakeHost, recvA: MigrationReceiver, recvB: MigrationReceiver, kept: KeptImages;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'roam-kept-'));
    kept = new KeptImages(join(dir, 'a'), 256 << 20);
    hostA = new FakeHost();
    // On B the guest keeps writing a small working set after it arrives.
    hostB = new FakeHost({ workload: { pagesPerSec: 2000, workingSet: { slot: 1, first: 10, pages: 48 } } });
    recvA = new MigrationReceiver({ host: hostA, kept });
    recvB = new MigrationReceiver({ host: hostB });
    ab = await startPair((s, peer) => recvB.handle(s, peer));
    ba = await startPair((s, peer) => recvA.handle(s, peer));
  });
  after(async () => {
    recvA.close(); recvB.close();
    for (const vm of [...hostA.created, ...hostB.created]) vm.stop();
    await ab.stop(); await ba.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A → B (A keeps the image), let it run on B, then B → A. */
  async function roundTrip(id: string, tamper?: (imgPath: string) => void, quietBeforeReturn = false) {
    const src = new FakeVm({ id, populate: 2000 });
    await src.resume();
    const out = await sendVm({ vm: src, openStream: ab.open, keep: kept });
    assert.equal(out.returnTrip, false);
    assert.equal(kept.get(id)?.generation, src.spec.generation + 1);
    src.stop();
    const onB = hostB.last()!;
    await new Promise((r) => setTimeout(r, 150));
    if (quietBeforeReturn) onB.workload = null; // so "pages written since leaving" is final
    tamper?.(join(kept.dir, `${id}.img`));
    const back = await sendVm({ vm: onB, openStream: ba.open });
    const onA = hostA.last()!;
    assert.equal(onA.hashAtStart, onB.hashAtPause, 'A starts with exactly the memory B had at pause');
    onA.stop();
    return { back, writtenOnB: onB.arrival!.count(), onA };
  }

  it('sends only the pages written since the VM left (≤ 1.1 × those + overhead), and ends with identical memory', async () => {
    const { back, writtenOnB } = await roundTrip('vm-rt', undefined, true);
    assert.equal(back.returnTrip, true);
    assert.ok(writtenOnB > 0, 'the guest wrote on B');
    const sent = back.dataPagesSent + back.zeroPagesSent;
    assert.ok(sent <= 1.1 * writtenOnB + 8, `sent ${sent} pages for ${writtenOnB} written on B`);
    assert.ok(back.returnTripPagesReused >= 3072 - writtenOnB - 8);
    // 2000 populated pages did not travel again: the wire carried far less than them.
    assert.ok(back.wireBytes < 2000 * 4096 / 4, `wire bytes ${back.wireBytes}`);
    assert.equal(kept.get('vm-rt'), null, 'the kept image is dropped once the VM is back');
  });

  it('a kept image that no longer matches (tampered region) is resent for that region and the result is still exact', async () => {
    const { back, writtenOnB } = await roundTrip('vm-rt-bad', (img) => {
      const fd = openSync(img, 'r+');
      writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, 3 * (1 << 20) + 4096); // inside region 3 of slot 0
      closeSync(fd);
    }, true);
    assert.equal(back.returnTrip, true);
    const sent = back.dataPagesSent + back.zeroPagesSent;
    assert.ok(sent >= 256, `the stale 1 MiB region (256 pages) was resent: ${sent}`);
    assert.ok(sent <= 256 + 1.1 * writtenOnB + 8, `but not much more: ${sent}`);
  });

  it('without a kept image the return is a full copy', async () => {
    const src = new FakeVm({ id: 'vm-nokeep', populate: 500 });
    await src.resume();
    await sendVm({ vm: src, openStream: ab.open }); // no keep
    src.stop();
    const onB = hostB.last()!;
    const back = await sendVm({ vm: onB, openStream: ba.open });
    assert.equal(back.returnTrip, false);
    assert.equal(back.dataPagesSent + back.zeroPagesSent >= 3072, true);
    assert.equal(hostA.last()!.hashAtStart, onB.hashAtPause);
    hostA.last()!.stop();
  });
});

describe('migrate: KeptImages store', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'roam-kept-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps sparse files within a byte budget, evicting the least recently used', async () => {
    const store = new KeptImages(dir, 3 * 100 * 4096);
    const mk = (id: string) => new FakeVm({ id, slotSizes: [4 << 20], populate: 100 });
    for (const id of ['one', 'two', 'three']) {
      const vm = mk(id);
      assert.equal(store.store(id, 2, vm.spec.slots, (s) => vm.memory(s)), true);
      await new Promise((r) => setTimeout(r, 5));
    }
    const st = statSync(join(dir, 'one.img'));
    assert.equal(st.size, 4 << 20);
    assert.ok(st.blocks * 512 < (4 << 20) / 2, `sparse: ${st.blocks * 512} bytes allocated for a 4 MiB image with 100 pages`);
    assert.deepEqual(store.list().map((m) => m.id).sort(), ['one', 'three', 'two']);
    const four = mk('four');
    store.store('four', 2, four.spec.slots, (s) => four.memory(s));
    assert.deepEqual(store.list().map((m) => m.id).sort(), ['four', 'three', 'two'], 'the oldest image went');
    assert.ok(store.usedBytes() <= store.budgetBytes);
    const big = new FakeVm({ id: 'big', slotSizes: [4 << 20], populate: 400 });
    assert.equal(store.store('big', 1, big.spec.slots, (s) => big.memory(s)), false, 'an image over the whole budget is not kept');
    assert.throws(() => store.store('../x', 1, big.spec.slots, (s) => big.memory(s)), /bad VM id/);
  });
});
