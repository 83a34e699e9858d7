// Layers 3-4: the probe guest in a real VM process migrates to a second VM process over
// two libp2p nodes on loopback, keeps its heartbeat (no gap, no repeat, memory verified)
// and its clock, and comes back sending only what it wrote while away.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeartbeatWatcher } from '../guest/index.js';
import { KeptImages, sendVm, type IncomingVm, type MigrationStats } from '../migrate/index.js';
import { MigratableVm, VmProcessHost, type VmProcess } from '../node/vm-host/index.js';
import { requireKvm } from './support/kvm.js';
import { GuestClock, MiB, bootProbe, moreBeats, probeReady, startPeer, type MigrationPeer } from './migrate-real-support.js';

const PAGE = 4096;
const FB_PAGES = 768; // the framebuffer slot: one page per scanline
const CMDLINE = 'fill=64M ws=16M rate=16M beat=50ms entropy=0.3';

function figures(name: string, s: MigrationStats, w: HeartbeatWatcher, c: GuestClock): string {
  return `${name}: total ${s.totalMs} ms, downtime ${s.downtimeMs} ms (source), rounds ${s.rounds}, wire ${(s.wireBytes / MiB).toFixed(1)} MiB, ` +
    `data pages ${s.dataPagesSent}, zero pages ${s.zeroPagesSent}, max throttle ${s.maxThrottle}, max heartbeat gap ${w.maxWallGapMs} ms wall / ${c.maxGuestGapMs} ms guest`;
}

describe('real VM migration over libp2p loopback (two VM processes)', function () {
  this.timeout(120_000);
  let dir = '';
  const procs: VmProcess[] = [];
  const peers: MigrationPeer[] = [];
  beforeEach(function () { requireKvm(this); dir = mkdtempSync(join(tmpdir(), 'roam-mr-')); });
  afterEach(async () => {
    await Promise.all(procs.splice(0).map((p) => p.kill()));
    await Promise.all(peers.splice(0).map((p) => p.stop()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('moves a running probe guest and back: heartbeat continuous and verified, the return sends only pages written away', async () => {
    const watcher = new HeartbeatWatcher();
    const clock = new GuestClock(watcher);
    const src = await bootProbe(watcher, CMDLINE, 128 * MiB);
    procs.push(src);
    await probeReady(watcher);
    await moreBeats(watcher, 4);
    clock.resetGap(); watcher.maxWallGapMs = 0;

    // Every VM process made for an arriving VM feeds the same watcher: a second running copy would show as repeats.
    const onCreated = (vm: MigratableVm) => { procs.push(vm.process); vm.process.on('serial', (d: Buffer) => watcher.push(d)); };
    const arrived: IncomingVm[] = [];
    const keptA = new KeptImages(join(dir, 'kept-a'), 1 << 30);
    const a = await startPeer({ host: new VmProcessHost({ onCreated }), kept: keptA, onArrived: (vm) => arrived.push(vm) });
    const b = await startPeer({ host: new VmProcessHost({ onCreated }), onArrived: (vm) => arrived.push(vm) });
    peers.push(a, b);

    // ---- out: A → B ----
    const vmA = await MigratableVm.attach(src, { id: 'probe-1', generation: 1 });
    const seqBefore = watcher.lastSeq;
    const out = await sendVm({ vm: vmA, openStream: () => a.open(b.addr), keep: keptA });
    await vmA.release();
    assert.equal(src.alive, false, 'the source VM process is gone once the VM runs elsewhere');
    assert.equal(arrived.length, 1);
    const vmB = arrived[0] as MigratableVm;
    assert.equal(vmB.spec.generation, 2);
    await moreBeats(watcher, 10);
    assert.ok(watcher.lastSeq >= seqBefore + 10, 'heartbeats continue on the destination');
    assert.equal(watcher.gaps, 0, 'no heartbeat was lost');
    assert.equal(watcher.repeats, 0, 'no heartbeat was repeated (one running copy)');
    assert.equal(watcher.corruptPage, undefined, 'the guest verified its memory after the move');
    assert.equal(watcher.lastHeartbeat?.ok, true);
    assert.equal(clock.ticksWentBack, 0, 'guest timer ticks only advance');
    console.log(`      ${figures('out', out, watcher, clock)}`);
    assert.equal(keptA.get('probe-1')?.generation, 2, 'the source keeps the image for a return');

    // ---- back: B → A, only what was written since it arrived on B ----
    clock.resetGap(); watcher.maxWallGapMs = 0;
    await moreBeats(watcher, 10);
    const back = await sendVm({ vm: vmB, openStream: () => b.open(a.addr) });
    const writtenAway = vmB.arrival!.count();
    await vmB.release();
    assert.equal(vmB.process.alive, false);
    assert.equal(arrived.length, 2);
    await moreBeats(watcher, 10);
    assert.equal(watcher.gaps, 0); assert.equal(watcher.repeats, 0);
    assert.equal(watcher.corruptPage, undefined, 'memory verified after the return trip');
    assert.equal(clock.ticksWentBack, 0);
    console.log(`      ${figures('back', back, watcher, clock)}; pages written away ${writtenAway}, reused ${back.returnTripPagesReused}`);
    assert.equal(back.returnTrip, true, 'the return used the kept image');
    const overhead = 256 << 10; // hello (region hashes), frame headers, state
    assert.ok(back.wireBytes <= 1.1 * writtenAway * PAGE + overhead,
      `return wire bytes ${back.wireBytes} > 1.1 × ${writtenAway} pages written away + ${overhead}`);
    assert.ok(back.returnTripPagesReused >= (48 * MiB) / PAGE, `the unchanged fill (48 MiB) was not resent: ${back.returnTripPagesReused} pages reused`);
    // Only the 16 MiB working set (and a few pages of stack and tables) was written on B; the
    // pages the guest merely read must not count (see node/vm-host/arrival-fingerprints.ts).
    // The guest has a display (the default): what it draws on B counts too, at most every scanline once.
    assert.ok(writtenAway <= (16 * MiB) / PAGE + 1024 + FB_PAGES, `${writtenAway} pages recorded as written on B, the guest writes 16 MiB`);
    assert.equal(out.pagesSentPerRound[0], (128 * MiB) / PAGE + FB_PAGES, 'the first trip\'s round 0 covers all RAM and the framebuffer');
    assert.ok(back.pagesSentPerRound[0]! <= writtenAway, `the return's round 0 sent ${back.pagesSentPerRound[0]} pages, only ${writtenAway} were written away`);
  });
});
