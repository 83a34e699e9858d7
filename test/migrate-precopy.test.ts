import '../node/common/polyfill.js';
import assert from 'node:assert/strict';
import { MigrationReceiver, sendVm, type Progress } from '../migrate/index.js';
import type { Stream } from '@libp2p/interface';
import type { MigrationStream } from '../migrate/index.js';
import { FakeHost, FakeVm, startPair } from './fakes/fake-vm.js';

// Compile-time check: a libp2p 3 Stream is a MigrationStream (roamd passes its streams as they are).
export const libp2pStreamFits: (s: Stream) => MigrationStream = (s) => s;

describe('migrate: pre-copy over libp2p (fake VM)', function () {
  let pair: Awaited<ReturnType<typeof startPair>>;
  let host: FakeHost;
  let receiver: MigrationReceiver;
  const destEvents: Progress[] = [];

  before(async () => {
    host = new FakeHost();
    receiver = new MigrationReceiver({ host, onProgress: (p) => destEvents.push(p) });
    pair = await startPair((s, peer) => receiver.handle(s, peer));
  });
  after(async () => { receiver.close(); for (const vm of host.created) vm.stop(); await pair.stop(); });

  it('moves a VM under a dirtying workload: destination starts with exactly the memory the source had at pause', async () => {
    const src = new FakeVm({ id: 'vm-a', populate: 1500, workload: { pagesPerSec: 3000, workingSet: { slot: 0, first: 100, pages: 200 } } });
    await src.resume();
    await new Promise((r) => setTimeout(r, 30));
    const events: Progress[] = [];
    const stats = await sendVm({ vm: src, openStream: pair.open, onProgress: (p) => events.push(p) });
    const dst = host.last()!;
    assert.equal(src.isRunning(), false, 'source stays paused after the move');
    assert.equal(dst.isRunning(), true, 'destination runs');
    assert.equal(dst.spec.generation, src.spec.generation + 1);
    assert.ok(src.hashAtPause && dst.hashAtStart);
    assert.equal(dst.hashAtStart, src.hashAtPause, 'destination RAM at start = source RAM at pause');
    dst.stop();
    assert.equal(dst.corruptPages(), 0);
    assert.ok(src.guestWrites > 1500, 'the workload really wrote during the migration');
    assert.ok(stats.rounds >= 2, `expected pre-copy rounds, got ${stats.rounds}`);
    assert.equal(stats.pagesSentPerRound[0], 3072, 'round 0 covers all of RAM');
    for (let i = 1; i < stats.pagesSentPerRound.length; i++) assert.ok(stats.pagesSentPerRound[i]! < stats.pagesSentPerRound[0]!, `round ${i} smaller than round 0`);
    // Rounds after round 0 send only the working set: far less than memory.
    for (const d of stats.dirtyPagesPerRound) assert.ok(d <= 200, `dirty set ${d} exceeds the working set`);
    // ETA never runs backwards.
    for (let i = 1; i < events.length; i++) assert.ok(events[i]!.etaMs <= events[i - 1]!.etaMs, `ETA went up at event ${i}`);
    assert.equal(events[events.length - 1]!.phase, 'done');
    // The destination reports each round it applied, with the bytes it received.
    assert.ok(destEvents.length >= stats.rounds, `destination events: ${destEvents.length}`);
    assert.equal(destEvents[destEvents.length - 1]!.phase, 'stop-and-copy');
    assert.ok(destEvents.every((e, i) => i === 0 || e.bytesSent >= destEvents[i - 1]!.bytesSent));
    assert.ok(stats.downtimeMs >= 0 && stats.totalMs >= stats.downtimeMs);
  });

  it('sends zero pages as bitmap bits, not bytes', async () => {
    const src = new FakeVm({ id: 'vm-zero', slotSizes: [16 << 20, 8 << 20], populate: 64 });
    await src.resume();
    const stats = await sendVm({ vm: src, openStream: pair.open, compression: false });
    const dst = host.last()!;
    assert.equal(dst.hashAtStart, src.hashAtPause);
    assert.ok(stats.zeroPagesSent >= (24 << 20) / 4096 - 64, `zero pages sent as bits: ${stats.zeroPagesSent}`);
    // 64 data pages + bitmaps + handshake: far below the 24 MiB of RAM.
    assert.ok(stats.wireBytes < 64 * 4096 + 64 * 1024, `wire bytes ${stats.wireBytes}`);
    assert.equal(stats.zeroBytesSaved, stats.zeroPagesSent * 4096);
    dst.stop();
  });

  it('compresses in the worker pool and the destination still ends with identical memory', async () => {
    const src = new FakeVm({ id: 'vm-zstd', populate: 2000 });
    await src.resume();
    const stats = await sendVm({ vm: src, openStream: pair.open, compression: true });
    const dst = host.last()!;
    assert.equal(dst.hashAtStart, src.hashAtPause);
    // Half of every fake page is a repeating word: zstd must gain on it.
    assert.ok(stats.compressionRatio > 1.3, `compression ratio ${stats.compressionRatio}`);
    dst.stop();
  });
});

describe('migrate: status queries', function () {
  it('answer only the peer that sent the VM', async () => {
    const host = new FakeHost();
    const receiver = new MigrationReceiver({ host });
    let asPeer: string | null = null;
    const pair = await startPair((s, peer) => receiver.handle(s, asPeer ?? peer));
    try {
      const src = new FakeVm({ id: 'vm-status', populate: 10 });
      await src.resume();
      await sendVm({ vm: src, openStream: pair.open });
      const { FrameReader } = await import('../migrate/channel.js');
      const { decodeFrame, encode, T } = await import('../migrate/frames.js');
      const ask = async () => {
        const s = await pair.open();
        s.send(encode.status('vm-status', src.spec.generation + 1));
        const f = decodeFrame((await new FrameReader(s).next())!.frame);
        assert.equal(f.type, T.STATUS_REPLY);
        return (f as { state: string }).state;
      };
      assert.equal(await ask(), 'running');
      asPeer = 'someone-else';
      assert.equal(await ask(), 'unknown');
      host.last()!.stop();
    } finally { receiver.close(); await pair.stop(); }
  });
});
