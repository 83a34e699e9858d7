// The VM process's screen and input: a VM has a display unless created without one, says so in
// its info (and its framebuffer is a memory slot beside RAM), hands out damage, takes PS/2 input
// only in well-formed, bounded requests — anything else is an error reply and the VM runs on —
// and a VM image brings the framebuffer back with the display.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeartbeatWatcher } from '../guest/index.js';
import { VmProcess, mapVmMemory, type VmInfo } from '../node/vm-host/index.js';
import { requireKvm } from './support/kvm.js';
import { MiB, bootProbe, moreBeats, probeReady, waitFor } from './migrate-real-support.js';

const FB_BYTES = 768 * 4096;
const DISPLAY = { slot: 2, guestPhysAddr: 0xe000_0000, width: 1024, height: 768, stride: 4096 };

/** A copy of the framebuffer slot as the VM process's memfd holds it now. */
function framebufferOf(info: VmInfo): Buffer {
  const map = mapVmMemory(info);
  try {
    return Buffer.concat(map.memory(2).map((w) => Buffer.from(new Uint8Array(w))));
  } finally { map.close(); }
}

/** Writes a recognisable pattern into the framebuffer through a mapping of the VM process's memfd. */
function drawPattern(info: VmInfo, seed: number): void {
  const map = mapVmMemory(info);
  try {
    let line = 0;
    for (const w of map.memory(2)) {
      const bytes = new Uint8Array(w);
      for (let off = 0; off < bytes.byteLength; off += 4096, line++) {
        if (line % 3 === 0) bytes.fill(((line * 7 + seed) % 255) + 1, off, off + 4096);
      }
    }
  } finally { map.close(); }
}

describe('VM process with a display (node/vm-host)', function () {
  const procs: VmProcess[] = [];
  let dir = '';
  beforeEach(function () { requireKvm(this); dir = mkdtempSync(join(tmpdir(), 'roam-display-')); });
  afterEach(async () => {
    await Promise.all(procs.splice(0).map((p) => p.kill()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function spawn(): Promise<VmProcess> {
    const p = await VmProcess.spawn();
    procs.push(p);
    return p;
  }

  it('has a display by default, reports it and its framebuffer slot in info; display: false makes one without', async () => {
    const withFb = await spawn();
    await withFb.request({ op: 'create', memBytes: 16 * MiB, vcpus: 1 });
    const info = await withFb.request({ op: 'info' });
    assert.deepEqual(info.display, DISPLAY);
    assert.deepEqual(info.slots.map((s) => [s.slot, s.kind]), [[0, 'ram'], [2, 'framebuffer']]);
    assert.deepEqual(info.slots[1], { slot: 2, guestPhysAddr: 0xe000_0000, size: FB_BYTES, memfdOffset: 16 * MiB, kind: 'framebuffer' },
      'the framebuffer sits after RAM in the memfd');
    const damage = await withFb.request({ op: 'displayDamage' });
    assert.ok(damage instanceof Uint8Array);
    assert.equal(damage.byteLength, 96, 'one bit per scanline');
    // The migration dirty log covers the framebuffer slot like RAM.
    assert.equal((await withFb.request({ op: 'dirtyLog', slot: 2, clear: false })).byteLength, 96);

    const without = await spawn();
    await assert.rejects(without.request({ op: 'create', memBytes: 16 * MiB, vcpus: 1, display: 'yes' as unknown as boolean }), /display must be true or false/);
    await without.request({ op: 'create', memBytes: 16 * MiB, vcpus: 1, display: false });
    const plain = await without.request({ op: 'info' });
    assert.equal(plain.display, null);
    assert.deepEqual(plain.slots.map((s) => [s.slot, s.kind]), [[0, 'ram']]);
    await assert.rejects(without.request({ op: 'displayDamage' }), /has no display/);
    await assert.rejects(without.request({ op: 'dirtyLog', slot: 2, clear: false }), /no memory slot 2/);
    assert.equal((await without.request({ op: 'info' })).memBytes, 16 * MiB, 'the VM process answers on after the refusals');
  });

  it('delivers well-formed input to the guest; a malformed or oversized request is an error reply and the guest runs on', async () => {
    const watcher = new HeartbeatWatcher();
    const proc = await bootProbe(watcher, 'fill=8M ws=2M rate=2M beat=50ms', 32 * MiB);
    procs.push(proc);
    await probeReady(watcher);
    await moreBeats(watcher, 2);
    let serial = '';
    proc.on('serial', (d: Buffer) => { serial += d.toString('latin1'); });
    // Well-formed: a press and release of 'a' (set 2: 1C, F0 1C) and a left click reach the guest, which says so on serial.
    assert.equal(await proc.request({ op: 'input', keys: [0x1c, 0xf0, 0x1c] }), null);
    assert.equal(await proc.request({ op: 'input', mouse: [{ dx: 5, dy: -3, buttons: 1 }, { dx: 0, dy: 0, buttons: 0 }] }), null);
    await waitFor(() => /^KEY a\r?$/m.test(serial) && /^CLICK \d+ \d+\r?$/m.test(serial), 'the guest to report the key and the click', 15_000);
    // The limits themselves are accepted.
    assert.equal(await proc.request({ op: 'input', keys: new Array<number>(64).fill(0), mouse: new Array(64).fill({ dx: -4080, dy: 4080, buttons: 7 }) }), null);
    assert.equal(await proc.request({ op: 'input' }), null, 'nothing to inject is not an error');
    const bad: [string, unknown, RegExp][] = [
      ['65 key bytes', { keys: new Array<number>(65).fill(0x1c) }, /65 key bytes exceed 64/],
      ['a key byte over 255', { keys: [0x1c, 256] }, /keys\[1\] must be a byte/],
      ['a negative key byte', { keys: [-1] }, /keys\[0\] must be a byte/],
      ['a fractional key byte', { keys: [1.5] }, /keys\[0\] must be a byte/],
      ['a key as a string', { keys: ['a'] }, /keys\[0\] must be a byte .*"a"/],
      ['keys not a list', { keys: 'abc' }, /keys must be a list/],
      ['keys as bytes object', { keys: { length: 3 } }, /keys must be a list/],
      ['65 mouse reports', { mouse: new Array(65).fill({ dx: 1, dy: 1, buttons: 0 }) }, /65 mouse reports exceed 64/],
      ['a huge move', { mouse: [{ dx: 5000, dy: 0, buttons: 0 }] }, /dx and dy must be whole numbers in -4080..4080/],
      ['a move that is not a number', { mouse: [{ dx: NaN, dy: 0, buttons: 0 }] }, /dx and dy/],
      ['an infinite move', { mouse: [{ dx: 0, dy: -Infinity, buttons: 0 }] }, /dx and dy/],
      ['unknown buttons', { mouse: [{ dx: 0, dy: 0, buttons: 8 }] }, /buttons must be 0..7/],
      ['missing buttons', { mouse: [{ dx: 0, dy: 0 }] }, /buttons must be 0..7/],
      ['a null report', { mouse: [null] }, /mouse\[0\] must be \{dx, dy, buttons\}/],
      ['mouse not a list', { mouse: { dx: 1 } }, /mouse must be a list/],
    ];
    for (const [what, fields, re] of bad) {
      await assert.rejects(proc.request({ op: 'input', ...(fields as object) } as never), re, what);
    }
    assert.equal(proc.alive, true, 'bad input never takes the VM process down');
    assert.equal((await proc.request({ op: 'info' })).running, true);
    await moreBeats(watcher, 3);
    assert.equal(watcher.corruptPage, undefined);
  });

  it('a VM image keeps the framebuffer and the display; one without a display comes back without', async () => {
    const watcher = new HeartbeatWatcher();
    const src = await bootProbe(watcher, 'fill=8M ws=2M rate=2M beat=50ms', 32 * MiB);
    procs.push(src);
    await probeReady(watcher);
    await src.request({ op: 'pause' });
    const info = await src.request({ op: 'info' });
    // Drawn while paused, so what is saved is exactly this (plus whatever the guest drew before).
    drawPattern(info, 11);
    const before = framebufferOf(info);
    assert.ok(before.some((b) => b !== 0));
    const image = join(dir, 'vm.img');
    await src.request({ op: 'saveToFile', path: image });
    await src.kill();

    const restored = await spawn();
    restored.on('serial', (d: Buffer) => watcher.push(d));
    await restored.request({ op: 'restoreFromFile', path: image });
    const back = await restored.request({ op: 'info' });
    assert.deepEqual(back.display, DISPLAY, 'the restored VM has its display again');
    assert.ok(framebufferOf(back).equals(before), 'the framebuffer comes back byte for byte');
    await restored.request({ op: 'start' });
    await moreBeats(watcher, 3);
    assert.equal(watcher.corruptPage, undefined);

    const plain = await spawn();
    await plain.request({ op: 'create', memBytes: 16 * MiB, vcpus: 1, display: false });
    const plainImage = join(dir, 'plain.img');
    await plain.request({ op: 'saveToFile', path: plainImage });
    const again = await spawn();
    await again.request({ op: 'restoreFromFile', path: plainImage });
    assert.equal((await again.request({ op: 'info' })).display, null);
  });
});
