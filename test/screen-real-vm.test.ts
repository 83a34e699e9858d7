// The screen service over a real VM: the probe guest draws its desktop into the
// framebuffer, the service reads it through the VM process's memfd and its
// damage, and typed keys and clicks reach the guest through the i8042.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { HouseholdScreens } from '../node/screen/service.js';
import { applyUpdate } from '../node/screen/rect-codec.js';
import { LocalScreen } from '../node/screen/local-screen.js';
import type { LocalVm, LocalVms } from '../node/screen/local-screens.js';
import type { ScreenUpdate } from '../node/screen/types.js';
import { VmProcess } from '../node/vm-host/index.js';
import { loadNative, type GuestMemoryMapping } from '../native/index.js';
import { probeGuestPath } from '../guest/index.js';
import { requireKvm } from './support/kvm.js';

const W = 1024; const H = 768; const STRIDE = 4096;

class OneVm extends EventEmitter implements LocalVms {
  constructor(private readonly vm: LocalVm) { super(); }
  get(name: string): LocalVm | undefined { return name === 'desk' ? this.vm : undefined; }
}

async function waitFor<T>(what: string, probe: () => T | undefined | false, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('screen service over a real VM with a display', function () {
  this.timeout(120_000);
  let vmp: VmProcess | undefined;
  let svc: HouseholdScreens | undefined;
  let fbMap: GuestMemoryMapping | undefined;
  let serial = '';

  before(async function () {
    requireKvm(this);
    vmp = await VmProcess.spawn();
    vmp.on('serial', (d: Buffer) => { serial += d.toString('latin1'); });
    await vmp.request({ op: 'create', memBytes: 32 << 20, vcpus: 1 });
    await vmp.request({ op: 'loadMultiboot', kernelPath: probeGuestPath(), cmdline: 'beat=100ms' });
    await vmp.request({ op: 'start' });
    await waitFor('the probe guest to be ready', () => serial.includes('PROBE ready'));
    // The test's own mapping of the framebuffer, to check what the viewer holds against what the guest drew.
    const info = await vmp.request({ op: 'info' });
    const slot = info.slots.find((s) => s.slot === info.display!.slot)!;
    fbMap = loadNative().mapGuestMemory(`/proc/${info.pid}/fd/${info.memfd}`, [slot]);
    svc = new HouseholdScreens({ name: 'here', vms: new OneVm({ state: 'running', vmp }), members: () => [], dial: () => Promise.reject(new Error('no members')) });
  });

  after(async () => {
    await svc?.close();
    fbMap?.close();
    await vmp?.kill();
  });

  it('shows the guest\'s desktop, then only the tiles it redraws; after a pause the viewer holds the framebuffer byte for byte', async () => {
    const sub = svc!.watch('desk', () => undefined);
    const screen = Buffer.alloc(W * H * 4);
    const t0 = process.hrtime.bigint();
    const first = await sub.next();
    const firstMs = Number(process.hrtime.bigint() - t0) / 1e6;
    assert.equal(first.full, true);
    assert.equal(first.width, W); assert.equal(first.height, H);
    applyUpdate(screen, W, H, first);
    const colours = new Set<number>();
    for (let i = 0; i < screen.length; i += 4 * 97) colours.add(screen.readUInt32LE(i) & 0xffffff);
    assert.ok(colours.size > 2, `the guest drew a desktop (${colours.size} colours sampled)`);

    // The guest redraws its clock and moving element: updates come, each a small part of the screen.
    const partial: ScreenUpdate[] = [];
    while (partial.length < 5) {
      const u = await sub.next();
      assert.equal(u.full, false);
      applyUpdate(screen, W, H, u);
      partial.push(u);
    }
    const area = (u: ScreenUpdate) => u.rects.reduce((n, r) => n + r.w * r.h, 0);
    const bytes = (u: ScreenUpdate) => u.rects.reduce((n, r) => n + r.data.byteLength, 0);
    assert.ok(partial.every((u) => u.rects.length > 0 && area(u) < W * H / 2), `updates carry changed tiles only: ${partial.map(area).join(', ')} pixels`);
    console.log(`      full frame: ${bytes(first)} bytes deflated (${(bytes(first) / (W * H * 4) * 100).toFixed(2)}% of raw) in ${firstMs.toFixed(1)} ms to first update; ` +
      `next updates: ${partial.map((u) => `${u.rects.length} rects/${bytes(u)} B`).join(', ')}`);

    await vmp!.request({ op: 'pause' });
    const local = await svc!.locals.screen('desk');
    assert.ok(local instanceof LocalScreen);
    // Drain: once two polls that began after the pause found nothing for this viewer, it holds everything.
    let pending = sub.next();
    for (;;) {
      const p0 = local.pollCount;
      const got = await Promise.race([pending, waitFor('polls', () => local.pollCount >= p0 + 3).then(() => null)]);
      if (!got) break;
      applyUpdate(screen, W, H, got);
      pending = sub.next();
    }
    const fb = Buffer.from(fbMap!.memory(2)[0]!, 0, STRIDE * H);
    let differing = 0;
    for (let y = 0; y < H; y++) if (!fb.subarray(y * STRIDE, y * STRIDE + W * 4).equals(screen.subarray(y * W * 4, (y + 1) * W * 4))) differing++;
    assert.equal(differing, 0, `${differing} scanlines differ between the viewer and the framebuffer`);
    await vmp!.request({ op: 'resume' });
    sub.close();
    await pending.catch(() => undefined);
  });

  it('typed keys and a click reach the guest', async () => {
    const sub = svc!.watch('desk', () => undefined);
    await sub.next();
    const from = serial.length;
    for (const code of ['KeyH', 'KeyI', 'Digit1', 'Space', 'Enter']) { sub.input({ type: 'key', code, down: true }); sub.input({ type: 'key', code, down: false }); }
    sub.input({ type: 'key', code: 'ShiftLeft', down: true }); sub.input({ type: 'key', code: 'KeyA', down: true });
    sub.input({ type: 'key', code: 'KeyA', down: false }); sub.input({ type: 'key', code: 'ShiftLeft', down: false });
    await waitFor('the typed keys on the guest\'s console', () => (serial.slice(from).match(/^KEY .*$/gm) ?? []).length >= 6);
    assert.deepEqual(serial.slice(from).match(/^KEY .*$/gm), ['KEY h', 'KEY i', 'KEY 1', 'KEY space', 'KEY enter', 'KEY A']);
    sub.input({ type: 'pointer', dx: 40, dy: 30, buttons: 0 });
    sub.input({ type: 'pointer', dx: 0, dy: 0, buttons: 1 });
    sub.input({ type: 'pointer', dx: 0, dy: 0, buttons: 0 });
    await waitFor('a click on the guest\'s console', () => /^CLICK \d+ \d+$/m.test(serial.slice(from)));
    sub.close();
  });
});
