// A VM with a display migrates with its screen: the framebuffer slot travels like RAM (round 0,
// dirty rounds, stop-and-copy, and on a return trip the since-arrival record and the kept image)
// and the destination VM is created with a display to match. A destination refuses a display
// its layout lacks, and a page for a framebuffer slot the hello did not declare.
import '../node/common/polyfill.js';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeartbeatWatcher } from '../guest/index.js';
import { FrameReader } from '../migrate/channel.js';
import { COMPRESS_NONE, T, decodeFrame, encode } from '../migrate/frames.js';
import { KeptImages, sendVm, type IncomingVm, type VmSpec } from '../migrate/index.js';
import { BASE_DEVICES, DISPLAY_DEVICE, MigratableVm, VmProcessHost, hostCpuFeatures, vmLayout, type VmProcess } from '../node/vm-host/index.js';
import { requireKvm } from './support/kvm.js';
import { MiB, bootProbe, moreBeats, probeReady, startPeer, waitFor, type MigrationPeer } from './migrate-real-support.js';

const FB_BYTES = 768 * 4096;

function copyOf(windows: Uint8Array[]): Buffer {
  return Buffer.concat(windows.map((w) => Buffer.from(w)));
}

describe('real VM migration of a VM with a display', function () {
  this.timeout(120_000);
  const procs: VmProcess[] = [];
  const peers: MigrationPeer[] = [];
  let dir = '';
  beforeEach(function () { requireKvm(this); dir = mkdtempSync(join(tmpdir(), 'roam-mr-fb-')); });
  afterEach(async () => {
    await Promise.all(procs.splice(0).map((p) => p.kill()));
    await Promise.all(peers.splice(0).map((p) => p.stop()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('moves the framebuffer with the VM and back: each destination has a display and, before it runs, the last screen of the side it left', async () => {
    const watcher = new HeartbeatWatcher();
    const src = await bootProbe(watcher, 'fill=16M ws=4M rate=8M beat=50ms entropy=0.3', 64 * MiB);
    procs.push(src);
    await probeReady(watcher);
    const vmA = await MigratableVm.attach(src, { id: 'probe-fb', generation: 1 });
    assert.ok(vmA.spec.devices.includes(DISPLAY_DEVICE), `a VM with a display says so in its spec: ${vmA.spec.devices.join(' ')}`);
    assert.deepEqual(vmA.spec.slots.map((s) => [s.slot, s.kind]), [[0, 'ram'], [2, 'framebuffer']]);

    // A pattern written through the mapping while the guest runs: round 0 must carry it.
    const fbA = vmA.memory(2);
    let line = 0;
    for (const w of fbA) for (let off = 0; off < w.byteLength; off += 4096, line++) if (line % 4 === 1) w.fill((line % 200) + 17, off, off + 4096);
    const pattern = copyOf(fbA);

    let created: MigratableVm | undefined;
    const seen: { atReady?: Buffer | undefined } = {};
    const onCreated = (vm: MigratableVm) => { created = vm; procs.push(vm.process); vm.process.on('serial', (d: Buffer) => watcher.push(d)); };
    // All pages and the state are in, the VM has not run: its screen must be the source's last one.
    const onStateChange = (state: string) => { if (state === 'ready') seen.atReady = copyOf(created!.memory(2)); };
    const arrived: IncomingVm[] = [];
    const keptA = new KeptImages(join(dir, 'kept-a'), 1 << 30);
    const a = await startPeer({ host: new VmProcessHost({ onCreated }), kept: keptA, onArrived: (vm) => arrived.push(vm), onStateChange });
    const b = await startPeer({ host: new VmProcessHost({ onCreated }), onArrived: (vm) => arrived.push(vm), onStateChange });
    peers.push(a, b);

    const stats = await sendVm({ vm: vmA, openStream: () => a.open(b.addr), keep: keptA });
    // The source stays paused once the VM runs elsewhere: its framebuffer is the one that was sent last.
    const lastAtSource = copyOf(vmA.memory(2));
    await vmA.release();
    assert.equal(arrived.length, 1);
    const vmB = arrived[0] as MigratableVm;
    const atReady = seen.atReady;
    assert.ok(atReady, 'the destination reached ready');
    assert.equal(atReady.byteLength, FB_BYTES);
    assert.ok(atReady.equals(lastAtSource), 'the destination\'s framebuffer is byte for byte the source\'s at the switch');
    // Whatever the guest drew over since, the lines nobody drew on still hold the pattern written before the send.
    let patternLines = 0;
    for (let l = 1; l < 768; l += 4) if (atReady.subarray(l * 4096, (l + 1) * 4096).equals(pattern.subarray(l * 4096, (l + 1) * 4096))) patternLines++;
    assert.ok(patternLines > 0, 'the pattern written before the send arrived');
    assert.ok(stats.pagesSentPerRound[0]! >= (64 * MiB + FB_BYTES) / 4096, `round 0 covers RAM and the framebuffer (${stats.pagesSentPerRound[0]} pages)`);

    const infoB = await vmB.process.request({ op: 'info' });
    assert.deepEqual(infoB.display, { slot: 2, guestPhysAddr: 0xe000_0000, width: 1024, height: 768, stride: 4096 }, 'the destination VM has a display');
    assert.ok(vmB.spec.devices.includes(DISPLAY_DEVICE));
    const seq = watcher.lastSeq;
    await moreBeats(watcher, 5);
    assert.ok(watcher.lastSeq >= seq + 5, 'the guest runs on at the destination');
    assert.equal(watcher.gaps, 0);
    assert.equal(watcher.repeats, 0);
    assert.equal(watcher.corruptPage, undefined);
    // The moved VM's screen is live: its damage can be read there.
    assert.equal((await vmB.process.request({ op: 'displayDamage' })).byteLength, 96);

    // And back, from the image A kept: what the guest drew on B is in its since-arrival record and travels;
    // the rest of the screen comes from the kept image.
    seen.atReady = undefined;
    const back = await sendVm({ vm: vmB, openStream: () => b.open(a.addr) });
    const lastAtB = copyOf(vmB.memory(2));
    const drawnOnB = vmB.arrival!.bitmap(2).count();
    await vmB.release();
    assert.equal(back.returnTrip, true, 'the return used the kept image');
    assert.ok(back.returnTripPagesReused > 0);
    assert.ok(drawnOnB > 0, 'the guest drew on B: those scanlines are in its since-arrival record');
    const atReadyBack = seen.atReady as Buffer | undefined;
    assert.ok(atReadyBack, 'the VM reached ready back on A');
    assert.ok(atReadyBack.equals(lastAtB), 'back on A, the framebuffer is byte for byte B\'s at the switch');
    await moreBeats(watcher, 3);
    assert.equal(watcher.gaps, 0);
    assert.equal(watcher.repeats, 0);
    assert.equal(watcher.corruptPage, undefined);
    await (arrived[1] as MigratableVm).release();
  });

  it('a hello without a display gets a VM without one; a page for slot 2 is then refused before it touches memory', async () => {
    const made: MigratableVm[] = [];
    const b = await startPeer({ host: new VmProcessHost({ onCreated: (vm) => { made.push(vm); procs.push(vm.process); } }) });
    const a = await startPeer({ host: new VmProcessHost() });
    peers.push(a, b);
    const spec: VmSpec = { id: 'no-fb', generation: 1, vcpus: 1, memBytes: 8 * MiB, slots: vmLayout(8 * MiB, false), cpuFeatures: hostCpuFeatures().slice(0, 4), devices: [...BASE_DEVICES] };

    // A spec that asks for a display with RAM slots only is refused at the hello.
    const s0 = await a.open(b.addr);
    const r0 = new FrameReader(s0);
    s0.send(encode.hello({ spec: { ...spec, id: 'half-fb', devices: [...BASE_DEVICES, DISPLAY_DEVICE] }, features: [] }));
    const refused = decodeFrame((await r0.next())!.frame);
    assert.equal(refused.type, T.REJECT);
    assert.match((refused as { reason: string }).reason, /with a display/);
    assert.equal(made.length, 0, 'no VM process was made for a refused hello');
    try { s0.abort(new Error('done')); } catch { /* closed */ }

    const s = await a.open(b.addr);
    const reader = new FrameReader(s);
    s.send(encode.hello({ spec, features: [] }));
    const accept = decodeFrame((await reader.next())!.frame);
    assert.equal(accept.type, T.ACCEPT);
    assert.equal(made.length, 1, 'the destination made a VM for the hello');
    const created = made[0]!;
    assert.equal((await created.process.request({ op: 'info' })).display, null, 'created without a display, as the spec asks');
    for (const part of encode.pages({ round: 0, slot: 2, first: 0, count: 1, compression: COMPRESS_NONE, zero: new Uint8Array(1), data: new Uint8Array([1]) }, [new Uint8Array(4096).fill(0xee)])) s.send(part);
    const reply = decodeFrame((await reader.next())!.frame);
    assert.equal(reply.type, T.ABORT);
    assert.match((reply as { reason: string }).reason, /slot 2 is not in the declared memory layout/);
    await waitFor(() => !created.process.alive, 'the half-received VM to be discarded');
    assert.equal(b.receiver.rejectedFrames, 1);
    try { s.abort(new Error('done')); } catch { /* closed */ }
  });
});
