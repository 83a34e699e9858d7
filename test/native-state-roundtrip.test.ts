// Whole-machine state through a real KVM machine: the probe guest runs, is paused and saved, its RAM
// is copied into a second VM that restores the state, and the guest carries on there as if nothing
// happened -- the heartbeat sequence continues with no gap and no repeat, timer ticks keep
// advancing, memory verifies. Also: a state that does not fit the VM, or is damaged, is refused
// before anything changes, so the same VM can still take the right state afterwards.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { HeartbeatWatcher, probeGuestPath, type Heartbeat } from '../guest/index.js';
import { loadNative, type NativeVm } from '../native/index.js';
import { requireKvm } from './support/kvm.js';
import { moreBeats } from './support/heartbeat.js';

const MiB = 1024 * 1024;

/** Copies all guest RAM of `from` into `to` (same layout) through the memory() windows. */
function copyRam(from: NativeVm, to: NativeVm): void {
  const a = from.slots();
  const b = to.slots();
  assert.deepEqual(b, a);
  for (const slot of a) {
    const src = from.memory(slot.slot);
    const dst = to.memory(slot.slot);
    assert.equal(dst.length, src.length);
    src.forEach((w, i) => new Uint8Array(dst[i]!).set(new Uint8Array(w)));
  }
}

describe('native state save/restore (probe guest)', function () {
  const vms: NativeVm[] = [];
  let saved: Buffer | undefined;
  before(function () { requireKvm(this); });
  afterEach(() => { for (const vm of vms.splice(0)) vm.close(); });

  it('continues the guest in a second VM: heartbeats without gap or repeat, ticks advancing, memory ok', async () => {
    const native = loadNative();
    const watcher = new HeartbeatWatcher();
    const beats: Heartbeat[] = [];
    watcher.on('heartbeat', (hb: Heartbeat) => beats.push(hb));
    const onEvent = (e: { type: string; data?: Buffer }): void => { if (e.type === 'serial' && e.data) watcher.push(e.data); };
    const config = { memBytes: 64 * MiB, vcpus: 2 };
    const first = native.createVm(config, onEvent);
    vms.push(first);
    first.loadMultiboot(readFileSync(probeGuestPath()), 'fill=16M ws=4M rate=8M beat=50ms');
    first.start();
    await moreBeats(watcher, 3);
    first.pause();
    const state = first.saveState();
    saved = state;
    const seqAtSave = watcher.lastSeq;
    const beatsBeforeRestore = beats.length;

    // What was saved: every per-vCPU section for both vCPUs, the VM-wide ones, the devices.
    const d = native.describeState(state);
    assert.equal(d.major, 1);
    for (const v of [0, 1]) assert.ok(d.sections.some((s) => s.name === `vcpu.${v}.lapic`));
    for (const name of ['vm.pic_master', 'vm.pic_slave', 'vm.ioapic', 'vm.pit2', 'vm.clock']) {
      assert.ok(d.sections.some((s) => s.name === name), name);
    }

    const second = native.createVm(config, onEvent);
    vms.push(second);
    copyRam(first, second);
    second.restoreState(state);
    first.close();
    vms.splice(vms.indexOf(first), 1);
    second.start();
    await moreBeats(watcher, 4);
    assert.ok(watcher.lastSeq >= seqAtSave + 4, `heartbeat continued after restore (at save ${seqAtSave}, now ${watcher.lastSeq})`);
    assert.equal(beats[beatsBeforeRestore]!.seq, seqAtSave + 1, 'the first heartbeat after restore follows the last one saved');
    assert.equal(watcher.gaps, 0, 'heartbeat sequence has gaps');
    assert.equal(watcher.repeats, 0, 'heartbeat sequence repeats');
    for (let i = 1; i < beats.length; i++) {
      assert.ok(beats[i]!.ticks > beats[i - 1]!.ticks, `timer ticks keep advancing: ${beats[i - 1]!.ticks} then ${beats[i]!.ticks}`);
      assert.ok(beats[i]!.ms > beats[i - 1]!.ms, 'the guest clock keeps advancing');
    }
    assert.ok(beats.every((b) => b.ok), 'every heartbeat reports ok');
    assert.equal(watcher.corruptPage, undefined, 'guest reports corrupt memory');

    // Saving the restored machine gives the same sections: nothing was lost on the way.
    second.pause();
    const again = native.describeState(second.saveState());
    assert.deepEqual(again.sections.map((x) => [x.name, x.length]), d.sections.map((x) => [x.name, x.length]));
  });

  it('refuses a state of another machine shape, or a damaged one, and still takes the right one after', function () {
    if (!saved) this.skip();
    const state = saved!;
    const native = loadNative();
    const bigger = native.createVm({ memBytes: 128 * MiB, vcpus: 2 }, () => {});
    vms.push(bigger);
    assert.throws(() => bigger.restoreState(state),
      /the state is of a machine with 64 MiB of RAM and 2 vCPUs but this VM has 128 MiB of RAM and 2 vCPUs/);

    const vm = native.createVm({ memBytes: 64 * MiB, vcpus: 2 }, () => {});
    vms.push(vm);
    const damaged = Buffer.from(state);
    damaged[200]! ^= 0xff;   // inside vcpu.0.cpuid's payload
    assert.throws(() => vm.restoreState(damaged), /corrupt \(checksum mismatch/);
    assert.throws(() => vm.restoreState(state.subarray(0, state.length - 100)), /state truncated at byte/);
    // Nothing was applied by the refused attempts: the same fresh VM restores the good state.
    vm.restoreState(state);
  });
});
